"""Handler and logic tests under moto: an account with the stack's bucket and topic, the local Bedrock installed,
and the functions' environment set as template.yaml sets it."""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from bedrock_finetune import aws
from bedrock_finetune.config import StackSettings
from bedrock_finetune.models import ExecutionContext
from bedrock_finetune_local import aws as local_aws
from bedrock_finetune_local.aws import bedrock as local_bedrock

REGION = "us-east-1"
BUCKET = "finetune-test-bucket"
EXECUTION_ARN = "arn:aws:states:us-east-1:123456789012:execution:finetune:run-0001"


@dataclass
class Account:
    s3: Any
    bedrock: Any
    settings: StackSettings
    execution: ExecutionContext

    def put(self, key: str, body: bytes, **kwargs: Any) -> str:
        return str(self.s3.put_object(Bucket=BUCKET, Key=key, Body=body, **kwargs).get("VersionId"))

    def keys(self, prefix: str = "") -> list[str]:
        return [item["Key"] for item in self.s3.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", [])]


@pytest.fixture
def account(monkeypatch: pytest.MonkeyPatch) -> Iterator[Account]:
    for key, value in {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "BUCKET_NAME": BUCKET,
        "BEDROCK_ROLE_ARN": "arn:aws:iam::123456789012:role/bedrock-service",
        "JOB_POLL_INITIAL_SECONDS": "0",
        "JOB_POLL_MAX_SECONDS": "1",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    with mock_aws():
        local_aws.install()
        local_bedrock.reset()
        aws.reset_clients()
        s3 = boto3.client("s3", region_name=REGION)
        s3.create_bucket(Bucket=BUCKET)
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        topic = boto3.client("sns", region_name=REGION).create_topic(Name="finetune")["TopicArn"]
        monkeypatch.setenv("TOPIC_ARN", topic)
        yield Account(
            s3=s3,
            bedrock=boto3.client("bedrock", region_name=REGION),
            settings=StackSettings.from_environ(os.environ),
            execution=ExecutionContext(Id=EXECUTION_ARN, Name="run-0001", StartTime="2026-11-25T05:00:00Z"),
        )
        aws.reset_clients()
