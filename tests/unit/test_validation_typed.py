"""The typed fast path (validation/typed.py) against the full check: on any lines, a report with the fast path is the
report without it, issue for issue (code, message, line, path, order) and statistic for statistic; and valid records
never reach the full check."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from typing import Any
from unittest import mock

import pytest
from conftest import (
    CLAUDE,
    COHERE,
    LLAMA_32_11B,
    NOVA_2_LITE,
    NOVA_LITE,
    NOVA_MICRO,
    TITAN_EXPRESS,
    Line,
    Records,
    run_validation,
)
from hypothesis import given, settings
from hypothesis import strategies as st

from bedrock_finetune.validation import ValidationReport, converse, engine
from bedrock_finetune.validation.formats import (
    ClaudeMessagesChecker,
    ContinuedPreTrainingChecker,
    PromptCompletionChecker,
)
from bedrock_finetune.validation.tokens import DuplicateDetector, TokenHistogram

FAST = settings(max_examples=150, deadline=None)
TYPED_CHECKERS = (ClaudeMessagesChecker, ContinuedPreTrainingChecker, PromptCompletionChecker)
# (model, customization type, a valid record) per format with a typed path
FORMATS = {
    "claude-messages": (CLAUDE, "FINE_TUNING", Records.claude),
    "cpt-input": (TITAN_EXPRESS, "CONTINUED_PRE_TRAINING", Records.cpt),
    "prompt-completion": (COHERE, "FINE_TUNING", Records.prompt_completion),
    "converse": (NOVA_MICRO, "FINE_TUNING", Records.converse),
}
# Converse models whose rules differ: reserved keywords (Nova), one system block (Llama 3.2), media, reasoning
CONVERSE_MODELS = [NOVA_MICRO, NOVA_LITE, NOVA_2_LITE, LLAMA_32_11B]


@contextmanager
def full_check_only() -> Iterator[None]:
    """Every line through the full check, as before the fast path existed."""
    with ExitStack() as stack:
        for checker in TYPED_CHECKERS:
            stack.enter_context(mock.patch.object(checker, "typed", None))
        stack.enter_context(mock.patch.object(converse, "converse", return_value=None))
        yield


def both_ways(
    data: bytes, dataset_format: str, model_id: str | None = None, **options: Any
) -> tuple[ValidationReport, ValidationReport]:
    default_model, customization_type, _ = FORMATS[dataset_format]
    model_id = model_id or default_model
    fast = run_validation(data, model_id, customization_type=customization_type, **options)
    with full_check_only():
        full = run_validation(data, model_id, customization_type=customization_type, **options)
    return fast, full


def assert_same(data: bytes, dataset_format: str, model_id: str | None = None, **options: Any) -> ValidationReport:
    fast, full = both_ways(data, dataset_format, model_id, **options)
    assert fast.model_dump() == full.model_dump()
    return fast


def lines(*records: Line) -> bytes:
    return (
        b"\n".join(record if isinstance(record, bytes) else json.dumps(record).encode() for record in records) + b"\n"
    )


def claude(*turns: tuple[Any, Any], **extra: Any) -> dict[str, Any]:
    return {"messages": [{"role": role, "content": content} for role, content in turns], **extra}


GOOD = claude(("user", "hi"), ("assistant", "hello"))
# Lines the typed path must leave to the full check (or take with the same measure): one broken rule each.
CLAUDE_EDGES: list[Line] = [
    claude(("user", "hi")),
    claude(("user", "hi"), ("assistant", "a"), ("user", "again")),
    claude(("assistant", "a"), ("user", "hi")),
    claude(("user", "a"), ("user", "b")),
    claude(("user", "a"), ("assistant", " \t")),
    claude(("user", ""), ("assistant", "b")),
    claude(("user", "\u2003"), ("assistant", "b")),
    claude(("user", "a"), ("assistant", 5)),
    claude(("user", "a"), ("system", "b")),
    claude(("User", "a"), ("assistant", "b")),
    claude(("user", "a"), ("assistant", "b"), system=None),
    claude(("user", "a"), ("assistant", "b"), system=["list"]),
    claude(("user", "a"), ("assistant", "b"), id=7),
    claude(),
    {"system": "s"},
    {"messages": None},
    {"messages": [{"role": "user", "content": "a", "name": "x"}, {"role": "assistant", "content": "b"}]},
    {"messages": [{"content": "a"}, {"role": "assistant", "content": "b"}]},
    {"messages": [{"role": "user"}, {"role": "assistant", "content": "b"}]},
    {"messages": ["user", {"role": "assistant", "content": "b"}]},
    [GOOD],
    "null",
    '"text"',
    b'{"messages":[{"role":"user","content":"a","content":" "},{"role":"assistant","content":"b"}]}',
    b'{"messages":[{"role":"user","role":"assistant","content":"a"},{"role":"assistant","content":"b"}]}',
    b'{"messages":[],"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}',
    b'{"mess\\u0061ges":[{"role":"us\\u0065r","content":"\\u00e9\\ud83d\\ude00"},{"role":"assistant","content":"b"}]}',
    b'{"messages":[{"role":"user","content":"a\tb"},{"role":"assistant","content":"b"}]}',
    b'{"messages":[{"role":"user","content":"\\ud800"},{"role":"assistant","content":"b"}]}',
    b'{"messages":[{"role":"user","content":"\xff"},{"role":"assistant","content":"b"}]}',
    b'{"messages":[{"role":"user","content":"\xed\xa0\x80"},{"role":"assistant","content":"b"}]}',
    b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]}\x0c',
    b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}],}',
    b'{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]} {}',
    b' \t{"messages":[{"role":"user","content":"a"},{"role":"assistant","content":"b"}]} \r',
    b'{"messages":[{"role":"user","content":NaN},{"role":"assistant","content":"b"}]}',
    b"",
    b"   ",
    b"{",
]


@pytest.mark.parametrize("edge", range(len(CLAUDE_EDGES)))
def test_each_claude_edge_case_reports_the_same_between_valid_records(edge: int) -> None:
    # Given the edge case between valid records, and again at the start and the end of the file
    good = [Records.claude(index) for index in range(6)]
    data = lines(CLAUDE_EDGES[edge], *good[:3], CLAUDE_EDGES[edge], *good[3:], CLAUDE_EDGES[edge])

    # When validated with and without the fast path / Then the reports are identical
    assert_same(data, "claude-messages")


def test_every_claude_edge_case_in_one_file_reports_the_same() -> None:
    # Given all the edge cases interleaved with valid records (runs of every length between them)
    body: list[Line] = []
    for index, edge in enumerate(CLAUDE_EDGES):
        body += [Records.claude(100 * index + offset) for offset in range(index % 5)]
        body.append(edge)

    # When validated with and without the fast path / Then the reports are identical
    report = assert_same(lines(*body), "claude-messages", max_errors=1000)
    assert not report.valid


@pytest.mark.parametrize("bad_at", [0, 1, 31, 32, 33, 500, 998, 999])
def test_a_record_that_fails_the_bulk_check_is_found_in_a_long_run(bad_at: int) -> None:
    # Given 1,000 valid records, one of which decodes but breaks a rule only the bulk check sees (roles out of order)
    body: list[Line] = [Records.claude(index) for index in range(1000)]
    body[bad_at] = claude(("assistant", "a"), ("user", "b"))

    # When validated with and without the fast path
    report = assert_same(lines(*body), "claude-messages")

    # Then that one line is reported, by the full check
    assert [(issue.code, issue.line) for issue in report.errors] == [
        ("E_ROLE_FIRST", bad_at + 1),
        ("E_ROLE_LAST", bad_at + 1),
    ]


def test_runs_where_most_records_fail_the_bulk_check_report_the_same() -> None:
    # Given 300 records, two in three of which have one message only
    body: list[Line] = [
        Records.claude(index) if index % 3 == 0 else claude(("user", f"q{index}")) for index in range(300)
    ]

    # When validated with and without the fast path / Then the same 200 errors, in line order
    report = assert_same(lines(*body), "claude-messages", max_errors=1000)
    assert report.error_counts == {"E_MESSAGES_TOO_FEW": 200, "E_ROLE_LAST": 200}


def test_duplicates_and_token_limits_in_clean_runs_report_the_same() -> None:
    # Given valid records with duplicates (next to each other, far apart, in the validation file) and records near
    # and over the token limit (Claude 3 Haiku: 32,000 tokens at batch size 8, about 3 characters a token)
    body: list[Line] = [Records.claude(index) for index in range(50)]
    body[10] = body[11] = body[3]
    body[20] = claude(("user", "x" * 90_000), ("assistant", "y"))
    body[21] = claude(("user", "x" * 100_000), ("assistant", "y"))
    body[22] = body[21]

    # When validated with and without the fast path / Then the same warnings and errors, in the same order
    report = assert_same(lines(*body), "claude-messages", validation=lines(body[0], Records.claude(999)))
    codes = [(issue.code, issue.line) for issue in report.warnings + report.errors]
    assert ("W_DUPLICATE_RECORD", 23) in codes
    assert ("E_TOKENS_OVER_LIMIT", 22) in codes
    assert ("W_TOKENS_NEAR_LIMIT", 21) in codes


def test_crlf_bom_blank_and_overlong_lines_report_the_same() -> None:
    # Given a BOM, CRLF line ends, a blank line, a line of spaces and no final newline
    records = [json.dumps(Records.claude(index)).encode() for index in range(40)]
    data = b"\xef\xbb\xbf" + b"\r\n".join([*records[:20], b"", b"  ", *records[20:]])

    # When validated with and without the fast path / Then the reports are identical
    report = assert_same(data, "claude-messages")
    assert [(issue.code, issue.line) for issue in report.errors] == [
        ("E_UTF8_BOM", 1),
        ("E_BLANK_LINE", 21),
        ("E_BLANK_LINE", 22),
    ]


@pytest.mark.parametrize("dataset_format", ["cpt-input", "prompt-completion"])
def test_the_other_typed_formats_report_the_same(dataset_format: str) -> None:
    # Given valid records of the format with blank, whitespace-only, missing, mistyped and extra fields among them
    _, _, record = FORMATS[dataset_format]
    good: list[dict[str, Any]] = [record(index) for index in range(30)]
    broken: list[Line] = []
    for index, field in enumerate(good[0]):
        broken += [
            {**good[index], field: ""},
            {**good[index], field: " \n"},
            {**good[index], field: 3},
            {key: value for key, value in good[index].items() if key != field},
        ]
    broken += [{**good[1], "extra": "x"}, good[2], b"[]"]
    body: list[Line] = [line for pair in zip(good, broken + good, strict=False) for line in pair]

    # When validated with and without the fast path / Then the reports are identical
    report = assert_same(lines(*body), dataset_format, max_errors=1000)
    assert not report.valid


@pytest.mark.parametrize("dataset_format", sorted(FORMATS))
def test_valid_records_never_reach_the_full_check(dataset_format: str) -> None:
    # Given a valid file of the format
    model_id, customization_type, record = FORMATS[dataset_format]
    data = lines(*(record(index) for index in range(200)))

    # When validated while the full check's JSON parser is unavailable
    with mock.patch.object(engine, "from_json", side_effect=AssertionError("the full check parsed a line")):
        report = run_validation(data, model_id, customization_type=customization_type)

    # Then every record was decoded, checked and measured by the typed path
    assert report.valid
    assert report.stats.records == 200


def turn(role: Any, *blocks: Any) -> dict[str, Any]:
    return {"role": role, "content": list(blocks)}


def text(value: Any) -> dict[str, Any]:
    return {"text": value}


def conversation(*turns: dict[str, Any], **extra: Any) -> dict[str, Any]:
    return {"schemaVersion": "bedrock-conversation-2024", "messages": list(turns), **extra}


ASK, ANSWER = turn("user", text("hi")), turn("assistant", text("hello"))
CONVERSE_EDGES: list[Line] = [
    conversation(ASK, ANSWER),
    conversation(ASK, ANSWER, system=[]),
    conversation(ASK, ANSWER, system=[text("a"), text("b")]),
    conversation(ASK, ANSWER, system=[text("")]),
    conversation(ASK, ANSWER, system=[{"text": "a", "x": 1}]),
    conversation(ASK, ANSWER, system="flat"),
    conversation(ASK, ANSWER, schemaVersion=5),
    {"messages": [ASK, ANSWER]},
    conversation(ASK, ANSWER, toolConfig={}),
    conversation(ASK, ANSWER, other=1),
    conversation(ASK),
    conversation(ANSWER, ASK),
    conversation(ASK, ASK),
    conversation(ASK, ANSWER, ASK),
    conversation(turn("user"), ANSWER),
    conversation(turn("user", text(" ")), ANSWER),
    conversation(turn("user", text(""), text("x")), ANSWER),
    conversation(turn("user", text(" "), text("\t")), ANSWER),
    conversation(turn("user", text("a"), text("b")), turn("assistant", text("c"), text(""))),
    conversation(turn("user", text(3)), ANSWER),
    conversation(turn("user", {"text": "a", "x": 1}), ANSWER),
    conversation(turn("user", "a"), ANSWER),
    conversation(turn("system", text("a")), ANSWER),
    conversation({"role": "user", "content": [text("a")], "name": "x"}, ANSWER),
    conversation(turn("user", text("User: hi")), ANSWER),
    conversation(turn("user", text("user: hi")), ANSWER),
    conversation(ASK, turn("assistant", text("Bot: hello"))),
    conversation(ASK, ANSWER, system=[text("System: be nice")]),
    conversation(ASK, ANSWER, system=[text("<UNK>")]),
    conversation(turn("user", text("a"), Records.image()), ANSWER),
    conversation(turn("user", Records.image()), ANSWER),
    conversation(ASK, turn("assistant", text("a"), {"reasoningContent": {"reasoningText": {"text": "r"}}})),
    conversation(turn("user", {"toolUse": {}}), ANSWER),
    b'{"messages":[{"role":"user","content":[{"text":"a","text":" "}]},{"role":"assistant","content":[{"text":"b"}]}]}',
    b'{"messages":[{"role":"user","content":[{"text":"Us\\u0065r: x"}]},'
    b'{"role":"assistant","content":[{"text":"b"}]}]}',
]


@pytest.mark.parametrize("model_id", CONVERSE_MODELS)
def test_every_converse_edge_case_reports_the_same(model_id: str) -> None:
    # Given each converse edge case alone between valid records, then all of them in one file
    good = [Records.converse(index) for index in range(4)]
    for edge in CONVERSE_EDGES:
        assert_same(lines(good[0], edge, *good[1:], edge), "converse", model_id)

    # When validated with and without the fast path / Then the reports are identical
    body: list[Line] = []
    for index, edge in enumerate(CONVERSE_EDGES):
        body += [Records.converse(100 * index + offset) for offset in range(index % 4)]
        body.append(edge)
    assert_same(lines(*body), "converse", model_id, max_errors=1000)


# --- random lines ----------------------------------------------------------------------------------------------------
texts = st.one_of(st.text(max_size=5), st.sampled_from(["", " ", "\t\n", "\u00a0", "x", "é😀"]))
roles = st.sampled_from(["user", "assistant", "system", "User", "", None, 1])
contents = st.one_of(texts, st.none(), st.integers(), st.lists(texts, max_size=2))
messages = st.one_of(
    st.fixed_dictionaries({"role": roles, "content": contents}),
    st.fixed_dictionaries({"role": st.just("user"), "content": texts}),
    st.fixed_dictionaries({"role": st.just("assistant"), "content": texts}),
    st.dictionaries(st.sampled_from(["role", "content", "name"]), contents, max_size=3),
    st.none(),
)
claude_records = st.one_of(
    st.fixed_dictionaries(
        {"messages": st.lists(messages, max_size=5)},
        optional={"system": st.one_of(texts, st.none(), st.integers()), "id": st.integers()},
    ),
    st.builds(
        lambda pairs, system: {
            **({"system": system} if system is not None else {}),
            "messages": [
                message
                for question, answer in pairs
                for message in ({"role": "user", "content": question}, {"role": "assistant", "content": answer})
            ],
        },
        st.lists(st.tuples(texts, texts), max_size=3),
        st.none() | texts,
    ),
)
raw_lines = st.one_of(st.binary(max_size=12), st.sampled_from([b"", b" ", b"{}", b"[]", b"\xef\xbb\xbf{}", b"\r"]))


def flat_records(fields: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    values = st.one_of(texts, st.none(), st.integers())
    return st.fixed_dictionaries(dict.fromkeys(fields, values), optional={"extra": values})


@FAST
@given(body=st.lists(st.one_of(claude_records, claude_records.map(json.dumps), raw_lines), max_size=40))
def test_random_claude_lines_report_the_same(body: list[Any]) -> None:
    # Given lines of any shape, mostly Claude-like / When validated both ways / Then identical reports
    assert_same(lines(*body), "claude-messages", max_errors=5)


blocks = st.one_of(
    st.builds(text, texts),
    st.builds(text, st.sampled_from(["User: a", "bot: b", "[EOS]", "x<image>"])),
    st.builds(text, st.none()),
    st.just(Records.image()),
    st.just({"text": "a", "extra": 1}),
)
converse_turns = st.builds(turn, roles, blocks) | st.builds(turn, roles, blocks, blocks) | st.builds(turn, roles)
converse_records = st.builds(
    lambda turns, system, version: {
        "messages": turns,
        **({"system": system} if system is not None else {}),
        **({"schemaVersion": version} if version is not None else {}),
    },
    st.lists(converse_turns, max_size=4)
    | st.lists(st.tuples(blocks, blocks), max_size=3).map(
        lambda pairs: [message for ask, answer in pairs for message in (turn("user", ask), turn("assistant", answer))]
    ),
    st.none() | st.lists(st.builds(text, texts), max_size=2),
    st.none() | st.just("bedrock-conversation-2024") | st.integers(),
)


@FAST
@given(
    body=st.lists(st.one_of(converse_records, raw_lines), max_size=30),
    model_id=st.sampled_from(CONVERSE_MODELS),
)
def test_random_converse_lines_report_the_same(body: list[Any], model_id: str) -> None:
    # Given lines of any shape, mostly converse-like / When validated both ways / Then identical reports
    assert_same(lines(*body), "converse", model_id, max_errors=5)


@FAST
@given(
    body=st.lists(st.one_of(flat_records(["input"]), flat_records(["prompt", "completion"]), raw_lines), max_size=30),
    dataset_format=st.sampled_from(["cpt-input", "prompt-completion"]),
)
def test_random_flat_lines_report_the_same(body: list[Any], dataset_format: str) -> None:
    # Given lines of any shape, mostly close to the flat formats / When validated both ways / Then identical reports
    assert_same(lines(*body), dataset_format, max_errors=5)


# --- duplicates in bulk ----------------------------------------------------------------------------------------------
@FAST
@given(
    batches=st.lists(st.lists(st.sampled_from([b"a", b"b", b"c", b"d", b"e", b"f"]), max_size=5), max_size=6),
    capacity=st.integers(min_value=0, max_value=7),
)
def test_bulk_duplicate_search_remembers_as_line_by_line_does(batches: list[list[bytes]], capacity: int) -> None:
    # Given batches of lines with repeats, and a capacity that may fill up in the middle of a batch
    bulk, single = DuplicateDetector(capacity), DuplicateDetector(capacity)

    # When one detector sees whole batches and the other one line at a time
    for batch in batches:
        found = bulk.find(batch)
        expected = [index for index, line in enumerate(batch) if single.is_duplicate(line)]

        # Then both find the same duplicates
        assert found == expected


def test_the_token_histogram_does_not_depend_on_how_values_are_batched() -> None:
    # Given more distinct estimates than the histogram keeps exactly (it coarsens to 0.2 % buckets)
    values = [(index * 7919) % 60_000 + 1 for index in range(50_000)]

    # When added all at once, and in batches of 333
    whole, batched = TokenHistogram(), TokenHistogram()
    whole.add_many(values)
    for start in range(0, len(values), 333):
        batched.add_many(values[start : start + 333])

    # Then percentiles, buckets and totals agree, and totals stay exact
    assert whole.stats("characters/3") == batched.stats("characters/3")
    assert whole.buckets() == batched.buckets()
    assert (whole.total, whole.max, whole.count) == (sum(values), max(values), len(values))
