"""The buckets and the inbox rule: TLS only, no public access, encrypted, versioned, access logged, and only
inbox/*.jsonl objects of the data bucket start a run. Each check also runs on a deliberately broken copy."""

from __future__ import annotations

import pytest

from bedrock_finetune_local.stack import translate

from . import checks
from .checks import Json
from .conftest import ROOT, fresh

BUCKET = "DataBucket"
INBOX_PREFIX, INBOX_SUFFIX = "inbox/", ".jsonl"
BUCKETS = ["DataBucket", "AccessLogBucket"]


def test_the_template_has_exactly_the_expected_buckets(template: Json) -> None:
    # Given the template
    # When its buckets are listed
    # Then they are the ones the bucket tests below check
    assert sorted(checks.resources_of_type(template, "AWS::S3::Bucket")) == sorted(BUCKETS)


@pytest.mark.parametrize("bucket", BUCKETS)
def test_bucket_denies_plain_http_blocks_public_access_is_encrypted_and_versioned(template: Json, bucket: str) -> None:
    # Given a bucket of the template
    # When its properties and bucket policy are checked
    problems = checks.bucket_problems(template, bucket)

    # Then it denies requests without TLS, blocks public access by all four flags, is encrypted and versioned
    assert problems == []


def test_bucket_check_reports_each_missing_protection(template: Json) -> None:
    # Given a copy of the data bucket with one public access flag off, no encryption, suspended versioning and no
    # TLS-only statement
    broken = fresh(template)
    properties = broken["Resources"][BUCKET]["Properties"]
    properties["PublicAccessBlockConfiguration"]["RestrictPublicBuckets"] = False
    del properties["BucketEncryption"]
    properties["VersioningConfiguration"]["Status"] = "Suspended"
    broken["Resources"]["DataBucketPolicy"]["Properties"]["PolicyDocument"]["Statement"][0]["Condition"]["Bool"][
        "aws:SecureTransport"
    ] = "true"

    # When checked
    problems = checks.bucket_problems(broken, BUCKET)

    # Then each is reported
    assert problems == [
        "DataBucket: public access is not blocked by RestrictPublicBuckets",
        "DataBucket: default encryption is not set",
        "DataBucket: versioning is not enabled",
        "DataBucket: its bucket policy does not deny requests without TLS (aws:SecureTransport)",
    ]


def test_data_bucket_access_is_logged_to_a_bucket_of_the_stack(template: Json) -> None:
    # Given the data bucket (training data may hold personal data)
    # When its server access logging is checked
    problems = checks.access_logging_problems(template, BUCKET)

    # Then the logs go to the stack's log bucket, which only S3 logging for this bucket may write to
    assert problems == []


def test_access_logging_check_reports_a_bucket_without_logs(template: Json) -> None:
    # Given a copy of the data bucket without LoggingConfiguration
    broken = fresh(template)
    del broken["Resources"][BUCKET]["Properties"]["LoggingConfiguration"]

    # When checked
    # Then it is reported
    assert checks.access_logging_problems(broken, BUCKET) == [
        "DataBucket: server access logs do not go to another bucket of the stack"
    ]


def test_inbox_rule_matches_only_inbox_jsonl_objects_of_the_data_bucket(cfn: Json) -> None:
    # Given the EventBridge rules of the translated template that start the state machine (through the inbox starter)
    # When their event patterns are checked
    problems = checks.inbox_rule_problems(cfn, BUCKET, prefix=INBOX_PREFIX, suffix=INBOX_SUFFIX)

    # Then they match only Object Created events of the data bucket for inbox/….jsonl keys
    assert problems == []


@pytest.mark.parametrize(
    ("key_filter", "bucket_name", "expected"),
    [
        pytest.param(
            [{"wildcard": "*.jsonl"}],
            None,
            ["InboxStarterFunctionInboxJsonl: key filter '*.jsonl' matches keys outside inbox/….jsonl"],
            id="any-prefix",
        ),
        pytest.param(
            [{"prefix": "inbox/"}],
            None,
            ['InboxStarterFunctionInboxJsonl: key filter {"prefix": "inbox/"} is not limited to inbox/….jsonl'],
            id="any-suffix",
        ),
        pytest.param(
            [{"wildcard": "inbox/*.jsonl"}],
            [{"prefix": ""}],
            ["InboxStarterFunctionInboxJsonl: does not match only the bucket DataBucket"],
            id="any-bucket",
        ),
    ],
)
def test_inbox_rule_check_reports_a_pattern_that_matches_more(
    template: Json, key_filter: list[object], bucket_name: list[object] | None, expected: list[str]
) -> None:
    # Given a copy of the inbox event whose pattern matches more objects or buckets
    broken = fresh(template)
    event = broken["Resources"]["InboxStarterFunction"]["Properties"]["Events"]["InboxJsonl"]
    detail = event["Properties"]["Pattern"]["detail"]
    detail["object"]["key"] = key_filter
    if bucket_name is not None:
        detail["bucket"]["name"] = bucket_name

    # When the translated rule is checked
    problems = checks.inbox_rule_problems(translate(ROOT, broken), BUCKET, prefix=INBOX_PREFIX, suffix=INBOX_SUFFIX)

    # Then it is reported
    assert problems == expected
