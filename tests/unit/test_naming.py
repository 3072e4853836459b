"""Names, keys and tokens derived from the run and the content hash."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bedrock_finetune import naming

JOB_NAME = re.compile(r"^[a-zA-Z0-9](-*[a-zA-Z0-9\+\-\.])*$")
MODEL_NAME = re.compile(r"^([0-9a-zA-Z][_-]?){1,63}$")
S3_URI = re.compile(r"^s3://[a-z0-9][-.a-z0-9]{1,61}[a-z0-9](?:/[-!_*'().a-z0-9A-Z]+(?:/[-!_*'().a-z0-9A-Z]+)*)?/?$")
ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"


@given(st.text(min_size=0, max_size=300))
def test_resource_names_match_bedrock_patterns_whatever_the_key(key: str) -> None:
    # Given any inbox key (spaces, '=', '+', unicode, empty)
    # When names are derived from it
    dataset = naming.dataset_name(key)
    job = naming.resource_name(dataset, ARN, prefix="ft-")
    model = naming.resource_name(dataset, ARN)

    # Then they fit Bedrock's job and model name patterns and lengths
    assert JOB_NAME.match(job), job
    assert MODEL_NAME.match(model), model
    assert len(job) <= 63
    assert len(model) <= 63


@given(st.text(min_size=1, max_size=80))
def test_run_ids_make_keys_that_match_the_s3_uri_pattern(execution_name: str) -> None:
    # Given any execution name
    run = naming.run_id(execution_name)

    # When report, output and staged keys are made from it
    uris = [
        f"s3://my-bucket-1/{naming.output_prefix(run)}",
        f"s3://my-bucket-1/{naming.report_key(run, 'report.json')}",
        f"s3://my-bucket-1/{naming.staged_key('ab' * 32, 'train')}",
    ]

    # Then every URI matches Bedrock's S3Uri pattern
    for uri in uris:
        assert S3_URI.match(uri), uri


def test_tokens_are_stable_per_run_content_and_purpose() -> None:
    # Given the same run and content
    first = naming.request_token(ARN, "a" * 64, "job")

    # Then the token repeats, and changes with any input
    assert first == naming.request_token(ARN, "a" * 64, "job")
    assert first != naming.request_token(ARN, "b" * 64, "job")
    assert first != naming.request_token(ARN + "x", "a" * 64, "job")
    assert first != naming.request_token(ARN, "a" * 64, "deploy")
    assert len(first) <= 256


def test_every_resource_name_of_a_run_carries_its_hash() -> None:
    # Given one run
    run_hash = naming.run_hash(ARN)

    # Then the names Cleanup searches for contain the run's hash, and other runs' do not
    assert run_hash in naming.resource_name("support-chat", ARN, prefix="ft-")
    assert run_hash not in naming.resource_name("support-chat", ARN + "2")


def test_dataset_name_is_readable() -> None:
    assert naming.dataset_name("inbox/My Data=v2+final.jsonl") == "My-Data-v2-final"
    assert naming.dataset_name("inbox/.jsonl") == "dataset"
    assert naming.tag_value("inbox/a b#c.jsonl") == "inbox/a b_c.jsonl"
