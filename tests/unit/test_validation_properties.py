"""Properties: no input crashes the validator, and the Claude quick path never accepts what the full check rejects."""

from __future__ import annotations

import io
import json
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from bedrock_finetune.catalog import all_models, get_model
from bedrock_finetune.validation import DatasetSource, validate_dataset
from bedrock_finetune.validation.formats import ClaudeMessagesChecker
from bedrock_finetune.validation.report import FileIssues, IssueLog

FAST = settings(max_examples=200, deadline=None)
TARGETS = [(spec, customization) for spec in all_models() for customization in spec.customizations]
json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4),
    max_leaves=20,
)
roles = st.sampled_from(["user", "assistant", "system", "User", "", 1, None])
contents = st.one_of(st.text(max_size=6), st.just(" "), st.none(), st.integers(), st.lists(st.text(max_size=3)))
messages = st.one_of(
    st.fixed_dictionaries({"role": roles, "content": contents}),
    st.fixed_dictionaries({"role": roles, "content": contents}, optional={"extra": st.integers()}),
    st.dictionaries(st.sampled_from(["role", "content", "name"]), contents, max_size=3),
    st.text(max_size=3),
    st.none(),
)
claude_like = st.fixed_dictionaries(
    {"messages": st.one_of(st.lists(messages, max_size=6), st.none(), st.text(max_size=3))},
    optional={"system": st.one_of(st.text(max_size=6), st.none(), st.integers()), "id": st.integers()},
)
exchanges = st.lists(
    st.tuples(st.text(min_size=1, max_size=6), st.text(min_size=1, max_size=6)), min_size=1, max_size=3
)
valid_claude = st.builds(
    lambda pairs, system: {
        **({"system": system} if system is not None else {}),
        "messages": [
            message
            for question, answer in pairs
            for message in ({"role": "user", "content": question}, {"role": "assistant", "content": answer})
        ],
    },
    exchanges,
    st.none() | st.text(max_size=6),
)
converse_like = st.fixed_dictionaries(
    {
        "messages": st.lists(
            st.fixed_dictionaries(
                {
                    "role": roles,
                    "content": st.lists(
                        st.one_of(
                            st.fixed_dictionaries({"text": st.one_of(st.text(max_size=8), st.just("User: hi"))}),
                            st.fixed_dictionaries({"image": json_values}),
                            st.fixed_dictionaries({"video": json_values}),
                            st.fixed_dictionaries({"reasoningContent": json_values}),
                            json_values,
                        ),
                        max_size=3,
                    ),
                }
            ),
            max_size=4,
        )
    },
    optional={"system": json_values, "schemaVersion": json_values},
)


def run(data: bytes, target_index: int) -> None:
    spec, customization_type = TARGETS[target_index % len(TARGETS)]
    report = validate_dataset(
        train=DatasetSource(name="t.jsonl", stream=io.BytesIO(data)),
        validation=DatasetSource(name="v.jsonl", stream=io.BytesIO(data[::-1])),
        model=spec,
        customization_type=customization_type,
        max_errors=5,
    )
    assert report.valid is not bool(report.error_counts)
    report.model_dump(mode="json")


@FAST
@given(data=st.binary(max_size=400), target=st.integers(min_value=0))
def test_random_bytes_never_crash(data: bytes, target: int) -> None:
    # Given any bytes and any model / When validated / Then a report comes back (errors are data, not exceptions)
    run(data, target)


@FAST
@given(values=st.lists(json_values | claude_like | converse_like, max_size=6), target=st.integers(min_value=0))
def test_random_json_lines_never_crash(values: list[Any], target: int) -> None:
    # Given JSON lines of any shape and any model / When validated / Then a report comes back
    run(b"\n".join(json.dumps(value).encode() for value in values), target)


def claude_checker(log: IssueLog) -> ClaudeMessagesChecker:
    spec = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k").customization("FINE_TUNING")
    return ClaudeMessagesChecker(spec.rules, FileIssues(log, "t.jsonl"), "model", None)


@FAST
@given(record=claude_like | valid_claude)
def test_claude_quick_path_agrees_with_the_full_check(record: dict[str, Any]) -> None:
    # Given a Claude-like record, right or wrong in any way
    log = IssueLog(100)
    checker = claude_checker(log)

    # When both the quick path and the full check see it
    quick = checker.quick(record)
    full = checker.check(record, 1)

    # Then whatever the quick path accepts, the full check finds nothing wrong with, and measures the same
    if quick is not None:
        assert not log.errors
        assert not log.warnings
        assert quick == full


@FAST
@given(record=valid_claude)
def test_claude_quick_path_takes_every_valid_record(record: dict[str, Any]) -> None:
    # Given a valid Claude record (that is not all whitespace)
    log = IssueLog(100)
    checker = claude_checker(log)
    full = checker.check(record, 1)

    # When the full check finds nothing / Then the quick path accepts it too, with the same measure
    if not log.errors:
        assert checker.quick(record) == full
