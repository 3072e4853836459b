"""The local IAM policy evaluator, rule by rule, as the IAM User Guide's "Policy evaluation logic" and "Condition
operators" pages describe them."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_finetune_local.aws.iam_policy import PolicySource, Principal, Request, evaluate

ROLE = Principal(
    kind="role",
    arn="arn:aws:sts::123456789012:assumed-role/fn-role/fn",
    account="123456789012",
    role_arn="arn:aws:iam::123456789012:role/fn-role",
    role_name="fn-role",
)
BUCKET = "arn:aws:s3:::data"


def identity(*statements: dict[str, Any]) -> PolicySource:
    return PolicySource({"Version": "2012-10-17", "Statement": list(statements)}, "identity", "identity:test")


def resource(*statements: dict[str, Any]) -> PolicySource:
    return PolicySource({"Version": "2012-10-17", "Statement": list(statements)}, "resource", "resource:test")


def allowed(action: str, arn: str, policies: list[PolicySource], **context: Any) -> bool:
    return evaluate(Request(ROLE, action, arn, context), policies).allowed


def test_nothing_allows_by_default() -> None:
    assert not allowed("s3:GetObject", f"{BUCKET}/k", [])


def test_action_and_resource_wildcards_match_per_arn_part() -> None:
    policy = identity({"Effect": "Allow", "Action": "s3:Get*", "Resource": f"{BUCKET}/datasets/*"})
    assert allowed("s3:GetObject", f"{BUCKET}/datasets/a/b.jsonl", [policy])
    assert allowed("S3:getobject", f"{BUCKET}/datasets/x", [policy])  # action names are case-insensitive
    assert not allowed("s3:GetObject", f"{BUCKET}/inbox/a.jsonl", [policy])
    assert not allowed("s3:PutObject", f"{BUCKET}/datasets/x", [policy])


def test_an_explicit_deny_wins_over_any_allow() -> None:
    policies = [
        identity({"Effect": "Allow", "Action": "s3:*", "Resource": "*"}),
        resource({"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject", "Resource": f"{BUCKET}/*"}),
    ]
    assert allowed("s3:GetObject", f"{BUCKET}/k", policies)
    decision = evaluate(Request(ROLE, "s3:DeleteObject", f"{BUCKET}/k"), policies)
    assert not decision.allowed
    assert "explicit deny in a resource-based policy" in decision.reason(Request(ROLE, "s3:DeleteObject", "x"))


def test_not_action_and_not_resource() -> None:
    policy = identity({"Effect": "Allow", "NotAction": "s3:Delete*", "NotResource": f"{BUCKET}/secret/*"})
    assert allowed("s3:GetObject", f"{BUCKET}/k", [policy])
    assert not allowed("s3:DeleteObject", f"{BUCKET}/k", [policy])
    assert not allowed("s3:GetObject", f"{BUCKET}/secret/k", [policy])


def test_a_same_account_resource_policy_allow_is_enough_when_it_names_the_role() -> None:
    policy = resource(
        {"Effect": "Allow", "Principal": {"AWS": ROLE.role_arn}, "Action": "sns:Publish", "Resource": "*"}
    )
    assert allowed("sns:Publish", "arn:aws:sns:us-east-1:123456789012:t", [policy])
    other = resource(
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::123456789012:role/x"}, "Action": "*", "Resource": "*"}
    )
    assert not allowed("sns:Publish", "arn:aws:sns:us-east-1:123456789012:t", [other])


def test_string_like_on_s3_prefix_and_a_missing_key() -> None:
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": BUCKET,
            "Condition": {"StringLike": {"s3:prefix": ["datasets/*", "outputs/*"]}},
        }
    )
    assert allowed("s3:ListBucket", BUCKET, [policy], **{"s3:prefix": "datasets/abc"})
    assert not allowed("s3:ListBucket", BUCKET, [policy], **{"s3:prefix": "inbox/abc"})
    # A key missing from the request context makes a (non-negated) condition false
    assert not allowed("s3:ListBucket", BUCKET, [policy])


def test_negated_operators_hold_for_a_missing_key_and_if_exists_makes_any_operator_hold() -> None:
    negated = identity(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringNotEquals": {"aws:SourceAccount": "999999999999"}},
        }
    )
    assert allowed("s3:GetObject", f"{BUCKET}/k", [negated])
    if_exists = identity(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringEqualsIfExists": {"aws:SourceAccount": "999999999999"}},
        }
    )
    assert allowed("s3:GetObject", f"{BUCKET}/k", [if_exists])
    assert not allowed("s3:GetObject", f"{BUCKET}/k", [if_exists], **{"aws:SourceAccount": "123456789012"})


def test_pass_role_only_to_the_named_service() -> None:
    policy = identity(
        {
            "Effect": "Allow",
            "Action": "iam:PassRole",
            "Resource": "arn:aws:iam::123456789012:role/svc",
            "Condition": {"StringEquals": {"iam:PassedToService": "bedrock.amazonaws.com"}},
        }
    )
    role = "arn:aws:iam::123456789012:role/svc"
    assert allowed("iam:PassRole", role, [policy], **{"iam:PassedToService": "bedrock.amazonaws.com"})
    assert not allowed("iam:PassRole", role, [policy], **{"iam:PassedToService": "ec2.amazonaws.com"})
    assert not allowed(
        "iam:PassRole",
        "arn:aws:iam::123456789012:role/admin",
        [policy],
        **{"iam:PassedToService": "bedrock.amazonaws.com"},
    )


def test_secure_transport_deny_applies_only_to_plain_http() -> None:
    deny = resource(
        {
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [BUCKET, f"{BUCKET}/*"],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }
    )
    allow = identity({"Effect": "Allow", "Action": "s3:GetObject", "Resource": f"{BUCKET}/*"})
    assert allowed("s3:GetObject", f"{BUCKET}/k", [allow, deny], **{"aws:SecureTransport": "true"})
    assert not allowed("s3:GetObject", f"{BUCKET}/k", [allow, deny], **{"aws:SecureTransport": "false"})


@pytest.mark.parametrize(
    ("operator", "expected", "actual", "holds"),
    [
        ("NumericLessThan", "10", "9", True),
        ("NumericLessThan", "10", "10", False),
        ("NumericGreaterThanEquals", "10", "10", True),
        ("DateGreaterThan", "2020-01-01T00:00:00Z", "2026-11-29T00:00:00Z", True),
        ("ArnLike", "arn:aws:events:*:123456789012:rule/*", "arn:aws:events:us-east-1:123456789012:rule/r", True),
        ("ArnNotLike", "arn:aws:events:*:123456789012:rule/*", "arn:aws:events:us-east-1:123456789012:rule/r", False),
        ("StringEqualsIgnoreCase", "ABC", "abc", True),
        ("StringEquals", "ABC", "abc", False),
        ("IpAddress", "10.0.0.0/8", "10.1.2.3", True),
    ],
)
def test_condition_operators(operator: str, expected: str, actual: str, holds: bool) -> None:
    policy = identity(
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {operator: {"aws:SourceArn": expected}}}
    )
    assert allowed("s3:GetObject", f"{BUCKET}/k", [policy], **{"aws:SourceArn": actual}) is holds


def test_for_any_and_for_all_values_on_tag_keys() -> None:
    any_policy = identity(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ForAnyValue:StringEquals": {"aws:TagKeys": ["run-id"]}},
        }
    )
    all_policy = identity(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"ForAllValues:StringEquals": {"aws:TagKeys": ["run-id", "managed-by"]}},
        }
    )
    assert allowed("bedrock:TagResource", "*", [any_policy], **{"aws:TagKeys": ["run-id", "x"]})
    assert not allowed("bedrock:TagResource", "*", [all_policy], **{"aws:TagKeys": ["run-id", "x"]})
    assert allowed("bedrock:TagResource", "*", [all_policy], **{"aws:TagKeys": ["run-id"]})


def test_an_unknown_operator_or_key_never_allows_and_says_why() -> None:
    # Given allows conditioned on what the evaluator does not know
    unknown_operator = identity(
        {
            "Effect": "Allow",
            "Action": "*",
            "Resource": "*",
            "Condition": {"StringMatchesRegex": {"aws:SourceArn": ".*"}},
        }
    )
    unknown_key = identity(
        {"Effect": "Allow", "Action": "*", "Resource": "*", "Condition": {"StringEquals": {"ec2:Vpc": "vpc-1"}}}
    )
    for policy, text in ((unknown_operator, "StringMatchesRegex"), (unknown_key, "ec2:Vpc")):
        request = Request(ROLE, "s3:GetObject", f"{BUCKET}/k", {"ec2:Vpc": "vpc-1", "aws:SourceArn": "a"})
        decision = evaluate(request, [policy])
        # Then the request is denied and the reason names what could not be evaluated
        assert not decision.allowed
        assert text in decision.reason(request)


def test_an_unknown_condition_on_a_deny_applies_the_deny() -> None:
    policies = [
        identity({"Effect": "Allow", "Action": "*", "Resource": "*"}),
        identity({"Effect": "Deny", "Action": "*", "Resource": "*", "Condition": {"Foo": {"aws:SourceArn": "x"}}}),
    ]
    assert not allowed("s3:GetObject", f"{BUCKET}/k", policies)


def test_the_administrator_is_not_restricted() -> None:
    admin = Principal(kind="admin", arn="arn:aws:iam::123456789012:root", account="123456789012")
    assert evaluate(Request(admin, "s3:GetObject", f"{BUCKET}/k"), []).allowed


def test_trust_policy_service_principal_with_source_account() -> None:
    trust = resource(
        {
            "Effect": "Allow",
            "Principal": {"Service": "bedrock.amazonaws.com"},
            "Action": "sts:AssumeRole",
            "Condition": {"StringEquals": {"aws:SourceAccount": "123456789012"}},
        }
    )
    bedrock = Principal(
        kind="service", arn="bedrock.amazonaws.com", account="123456789012", service="bedrock.amazonaws.com"
    )
    lambda_service = Principal(
        kind="service", arn="lambda.amazonaws.com", account="123456789012", service="lambda.amazonaws.com"
    )
    role = "arn:aws:iam::123456789012:role/svc"
    assert evaluate(Request(bedrock, "sts:AssumeRole", role, {"aws:SourceAccount": "123456789012"}), [trust]).allowed
    assert not evaluate(
        Request(bedrock, "sts:AssumeRole", role, {"aws:SourceAccount": "999999999999"}), [trust]
    ).allowed
    assert not evaluate(
        Request(lambda_service, "sts:AssumeRole", role, {"aws:SourceAccount": "123456789012"}), [trust]
    ).allowed
