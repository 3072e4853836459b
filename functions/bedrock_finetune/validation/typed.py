"""The fast path: lines decoded straight from bytes into msgspec Structs whose types are the format's rules.

The types say which fields a record has (no other field), what they hold and that a text is not empty; a run of
decoded records is then checked in bulk for the rest (roles alternate from user to assistant, no text is all
whitespace, the model's reserved keywords and system block limit) and measured for the statistics. A record that
passes both would draw no issue from the full check (formats.py, converse.py), so the fast path keeps no issue log.

Every line that does not decode - a broken rule, an unknown field, invalid JSON or UTF-8, a blank line - and every
record of a run that fails the bulk check goes to the full check, which parses it again and reports it: messages,
codes and line numbers come from one place. The contract is one-way: the fast path may leave a good record to the
full check, never take a record the full check would report (tests/unit/test_validation_typed.py runs both on the
same lines and compares the reports).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from functools import partial
from itertools import accumulate, chain, islice, repeat
from operator import add, attrgetter, floordiv, mod, sub
from typing import Annotated, Any, Literal

import msgspec

from bedrock_finetune.validation.reader import Lines

Measures = tuple[list[int], list[int], list[int], list[int]]
"""Per record of a run, in line order: input characters, output characters, messages, images (the columns of
formats.Measure)."""

_Text = Annotated[str, msgspec.Meta(min_length=1)]
_ROLE, _CONTENT, _MESSAGES = attrgetter("role"), attrgetter("content"), attrgetter("messages")
_TEXT, _SYSTEM = attrgetter("text"), attrgetter("system")


class TypedPath:
    """One format's decoder, and ``measure``: the measures of a run of decoded records, or None when one of them
    breaks a rule the types cannot say (the engine then narrows the run down to the records that do)."""

    def __init__(self, record_type: type[msgspec.Struct], measure: Callable[[list[Any]], Measures | None]) -> None:
        self._decode = msgspec.json.Decoder(record_type).decode
        self.measure = measure

    def decode_run(self, lines: Lines, start: int) -> list[Any]:
        """The records of ``lines[start:]`` up to the first line that does not decode (none if that is the first).
        Overlong lines (None) and blank ones end a run too: the full check reports them."""
        records: list[Any] = []
        append, decode = records.append, self._decode
        try:
            for line in islice(lines, start, None):
                append(decode(line))  # type: ignore[arg-type]  # None raises TypeError
        except (msgspec.DecodeError, TypeError):  # DecodeError covers ValidationError
            pass
        return records


# --- claude-messages -----------------------------------------------------------------------------------------------
class _ClaudeMessage(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: Literal["user", "assistant"]
    content: _Text


class _ClaudeRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    messages: list[_ClaudeMessage]
    system: str = ""


def _measure_claude(records: list[_ClaudeRecord]) -> Measures | None:
    counts, messages = _conversations(records)
    if messages is None:
        return None
    contents = list(map(_CONTENT, messages))
    if any(map(str.isspace, contents)):
        return None
    return _split_turns(list(map(len, map(_SYSTEM, records))), counts, list(map(len, contents)))


def _conversations(records: list[Any]) -> tuple[list[int], list[Any] | None]:
    """The message counts of the records, and all their messages in a row; None instead of the messages unless every
    record has at least two, alternating from user to assistant and ending with assistant."""
    messages = list(map(_MESSAGES, records))
    counts = list(map(len, messages))
    # When every record has pairs of messages, roles alternate from user to assistant in the whole run exactly when
    # they do in each record.
    if 0 in counts or any(map(mod, counts, repeat(2))):
        return counts, None
    flat = list(chain.from_iterable(messages))
    roles = list(map(_ROLE, flat))
    user_roles = roles[::2]
    if user_roles.count("user") != len(user_roles) or roles[1::2].count("assistant") != len(user_roles):
        return counts, None
    return counts, flat


def _split_turns(system_chars: list[int], counts: list[int], lengths: list[int]) -> Measures:
    """Measures from the characters of each record's system prompt and of each of its messages. Messages alternate
    user, assistant, so a record's inputs are its share of the even positions (count / 2 of them) and its outputs its
    share of the odd ones: differences of running totals taken at the records' boundaries."""
    boundaries = list(accumulate(map(floordiv, counts, repeat(2)), initial=0))
    asked = list(map(list(accumulate(lengths[::2], initial=0)).__getitem__, boundaries))
    answered = list(map(list(accumulate(lengths[1::2], initial=0)).__getitem__, boundaries))
    inputs = list(map(add, system_chars, map(sub, asked[1:], asked)))
    return inputs, list(map(sub, answered[1:], answered)), counts, [0] * len(counts)


CLAUDE_MESSAGES = TypedPath(_ClaudeRecord, _measure_claude)


# --- cpt-input -----------------------------------------------------------------------------------------------------
class _ContinuedPreTrainingRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    input: _Text


def _measure_continued_pre_training(records: list[_ContinuedPreTrainingRecord]) -> Measures | None:
    inputs = [record.input for record in records]
    if any(map(str.isspace, inputs)):
        return None
    zeros = [0] * len(records)
    return list(map(len, inputs)), zeros, zeros, zeros


CPT_INPUT = TypedPath(_ContinuedPreTrainingRecord, _measure_continued_pre_training)


# --- prompt-completion ---------------------------------------------------------------------------------------------
class _PromptCompletionRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    prompt: _Text
    completion: _Text


def _measure_prompt_completion(records: list[_PromptCompletionRecord]) -> Measures | None:
    prompts = [record.prompt for record in records]
    completions = [record.completion for record in records]
    if any(map(str.isspace, prompts)) or any(map(str.isspace, completions)):
        return None
    zeros = [0] * len(records)
    return list(map(len, prompts)), list(map(len, completions)), zeros, zeros


PROMPT_COMPLETION = TypedPath(_PromptCompletionRecord, _measure_prompt_completion)


# --- converse (text only; a record with images, videos or reasoning takes the full check) ---------------------------
class _TextBlock(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    text: str


class _ConverseMessage(msgspec.Struct, forbid_unknown_fields=True, gc=False):
    role: Literal["user", "assistant"]
    content: list[_TextBlock]


class _ConverseRecord(msgspec.Struct, forbid_unknown_fields=True, gc=False, rename={"schema_version": "schemaVersion"}):
    messages: list[_ConverseMessage]
    system: list[_TextBlock] = msgspec.field(default_factory=list)
    schema_version: str = ""


_KEYWORD_SEPARATOR = "\x00"


def converse(
    keywords: tuple[str, ...], keyword_variants: re.Pattern[str] | None, max_system_blocks: int | None
) -> TypedPath | None:
    """The typed path of a converse model: ``keyword_variants`` matches a reserved keyword in every letter case (all
    that the full check reports); None (no fast path) if a keyword holds ``_KEYWORD_SEPARATOR``."""
    if any(_KEYWORD_SEPARATOR in keyword for keyword in keywords):
        return None
    measure = partial(_measure_converse, keyword_variants=keyword_variants, max_system_blocks=max_system_blocks)
    return TypedPath(_ConverseRecord, measure)


def _measure_converse(
    records: list[_ConverseRecord], *, keyword_variants: re.Pattern[str] | None, max_system_blocks: int | None
) -> Measures | None:
    counts, messages = _conversations(records)
    if messages is None:
        return None
    systems = list(map(_SYSTEM, records))
    if max_system_blocks is not None and max(map(len, systems)) > max_system_blocks:
        return None
    contents = list(map(_CONTENT, messages))
    if min(map(len, contents)) == 1 == max(map(len, contents)):  # one text per message, as most datasets have
        texts = list(map(_TEXT, chain.from_iterable(contents)))
        if not all(texts) or any(map(str.isspace, texts)):
            return None
        lengths = list(map(len, texts))
    else:  # every message needs one text that is not blank
        if not all(any(text and not text.isspace() for text in map(_TEXT, content)) for content in contents):
            return None
        texts = [block.text for content in contents for block in content]
        lengths = [sum(len(block.text) for block in content) for content in contents]
    system_texts = [[block.text for block in system] for system in systems]
    if keyword_variants is not None:  # one search over all the texts, which no keyword can span
        every_text = chain(texts, chain.from_iterable(system_texts))
        if keyword_variants.search(_KEYWORD_SEPARATOR.join(every_text)):
            return None
    return _split_turns([sum(map(len, system)) for system in system_texts], counts, lengths)
