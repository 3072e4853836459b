"""Inbox keys: any dropped key trains; Bedrock's rules apply to what Bedrock sees (staged keys, tag values).

The patterns are read from botocore's bedrock service model, the source of truth for what the API accepts.
"""

from __future__ import annotations

import re
from functools import cache
from urllib.parse import quote, quote_plus

import botocore.session
from hypothesis import given
from hypothesis import strategies as st

from bedrock_finetune import naming
from bedrock_finetune.logic.resolve_config import event_key_candidates

ODD_KEY = "inbox/Q4 reports/my data (v2)+ü.jsonl"


@cache
def bedrock_pattern(shape: str) -> re.Pattern[str]:
    """A shape's pattern from botocore's bedrock model, with Java's ASCII-only ``\\s`` spelled out for Python."""
    model = botocore.session.get_session().get_service_model("bedrock")
    pattern = model.shape_for(shape).metadata["pattern"]
    return re.compile(pattern.replace(r"\s", r" \t\n\x0b\f\r"), re.ASCII)


@given(st.text(max_size=400))
def test_tag_values_match_bedrocks_tag_value_pattern_whatever_the_key(key: str) -> None:
    # Given any text a tag value is made from (dropped keys hold spaces, Unicode, brackets, control characters)
    # When it is made a tag value
    value = naming.tag_value(key)

    # Then Bedrock's TagValue pattern (ASCII only) and length accept it
    assert bedrock_pattern("TagValue").fullmatch(value), value
    assert len(value) <= 256


def test_tag_value_of_the_odd_key_stays_readable() -> None:
    # Given the key / When made a tag value / Then accents are dropped and brackets replaced, nothing else
    assert naming.tag_value(ODD_KEY) == "inbox/Q4 reports/my data _v2_+u.jsonl"
    assert naming.tag_value("inbox/tab\there.jsonl") == "inbox/tab here.jsonl"


@given(st.text(alphabet="0123456789abcdef", min_size=64, max_size=64), st.sampled_from(["train", "validation"]))
def test_staged_locations_always_match_bedrocks_s3_uri_pattern(sha256: str, role: str) -> None:
    # Given any content hash / When the staged and split keys are made
    uris = [
        f"s3://bedrock-finetune-databucket-1a2b3c/{naming.staged_key(sha256, role)}",
        f"s3://bedrock-finetune-databucket-1a2b3c/{naming.split_key(sha256, 10, role)}",
    ]

    # Then botocore's S3Uri pattern and the project's check both accept them
    for uri in uris:
        assert bedrock_pattern("S3Uri").fullmatch(uri), uri
        assert naming.bedrock_s3_uri_problem(uri) is None


def test_the_s3_uri_rule_names_what_bedrock_would_refuse() -> None:
    # Given the odd dropped key as a URI / When checked / Then the problem names the URI and the rule
    problem = naming.bedrock_s3_uri_problem(f"s3://my-bucket/{ODD_KEY}")
    assert problem is not None
    assert ODD_KEY in problem
    assert "S3Uri" in problem
    assert not bedrock_pattern("S3Uri").fullmatch(f"s3://my-bucket/{ODD_KEY}")


def test_event_keys_are_found_as_given_form_encoded_or_percent_encoded() -> None:
    # Given the odd key as an EventBridge event carries it (as stored), and as the SNS/SQS/Lambda notification format
    # encodes it (form style: spaces as '+', '+' as %2B), and percent-encoded
    for delivered in (ODD_KEY, quote_plus(ODD_KEY, safe="/"), quote(ODD_KEY, safe="/")):
        # When the candidate keys are listed / Then the real key is among them, the given key first
        candidates = event_key_candidates(delivered)
        assert ODD_KEY in candidates, delivered
        assert candidates[0] == delivered


def test_dataset_names_drop_the_extension_in_any_case() -> None:
    # Given keys ending in .jsonl in any case / When named / Then the extension is dropped the same way
    assert naming.dataset_name("inbox/Train.JSONL") == "Train"
    assert naming.dataset_name("inbox/train.Jsonl") == "train"
    assert naming.dataset_name(ODD_KEY) == "my-data-v2"
