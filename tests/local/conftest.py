"""Fixtures for the local AWS: moto with the local Bedrock installed, reset around every test."""

from __future__ import annotations

import functools
import json
from collections.abc import Callable, Iterator
from typing import Any

import boto3
import pytest
from botocore.config import Config
from moto import mock_aws

from bedrock_finetune_local import aws
from bedrock_finetune_local.clock import CLOCK

REGION = "us-east-1"
ACCOUNT = "123456789012"
BUCKET = "finetune-data"
TRAIN_URI = f"s3://{BUCKET}/datasets/train.jsonl"
VALIDATION_URI = f"s3://{BUCKET}/datasets/validation.jsonl"
OUTPUT_URI = f"s3://{BUCKET}/output/"
ROLE_ARN = f"arn:aws:iam::{ACCOUNT}:role/BedrockCustomizationRole"
BASE_MODEL = "amazon.nova-micro-v1:0:128k"
NO_RETRIES = Config(retries={"total_max_attempts": 1})
# The configuration the workflow runs under: moto executes the ASL and runs Lambda in-process.
MOTO_CONFIG: Any = {"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}}


@functools.cache
def _session() -> boto3.session.Session:
    # One session for the whole run: botocore then loads each service model once (a fresh session per test costs
    # ~80 ms per client). It is first used inside mock_aws, so it only ever holds moto's fake credentials.
    return boto3.session.Session()


def client(service: str, config: Config | None = None) -> Any:
    """A boto3 client for ``service`` in the test Region (moto answers it)."""
    return _session().client(service, region_name=REGION, config=config)


@pytest.fixture(autouse=True)
def local_aws() -> Iterator[None]:
    aws.install()
    aws.reset()
    with mock_aws(config=MOTO_CONFIG):
        yield
    aws.reset()


@pytest.fixture
def s3() -> Any:
    return client("s3")


@pytest.fixture
def bedrock() -> Any:
    return client("bedrock", NO_RETRIES)


@pytest.fixture
def runtime() -> Any:
    return client("bedrock-runtime", NO_RETRIES)


@pytest.fixture
def dataset(s3: Any) -> None:
    s3.create_bucket(Bucket=BUCKET)
    s3.put_object(Bucket=BUCKET, Key="datasets/train.jsonl", Body=b'{"prompt": "a", "completion": "b"}\n')
    s3.put_object(Bucket=BUCKET, Key="datasets/validation.jsonl", Body=b'{"prompt": "c", "completion": "d"}\n')


def job_request(**overrides: Any) -> dict[str, Any]:
    request: dict[str, Any] = {
        "jobName": "ft-job-1",
        "customModelName": "ft-model-1",
        "roleArn": ROLE_ARN,
        "baseModelIdentifier": BASE_MODEL,
        "trainingDataConfig": {"s3Uri": TRAIN_URI},
        "validationDataConfig": {"validators": [{"s3Uri": VALIDATION_URI}]},
        "outputDataConfig": {"s3Uri": OUTPUT_URI},
        "hyperParameters": {"epochCount": "2", "learningRate": "0.0001"},
    }
    request.update(overrides)
    return {key: value for key, value in request.items() if value is not None}


@pytest.fixture
def completed_model(bedrock: Any, dataset: None) -> Callable[..., str]:
    """Run a job to Completed and return its custom model ARN."""

    def run(**overrides: Any) -> str:
        job_arn = bedrock.create_model_customization_job(**job_request(**overrides))["jobArn"]
        while (job := bedrock.get_model_customization_job(jobIdentifier=job_arn))["status"] == "InProgress":
            CLOCK.advance(600)  # simulated time
        assert job["status"] == "Completed"
        return str(job["outputModelArn"])

    return run


def lambda_role(name: str, *statements: dict[str, Any]) -> str:
    """Create a role Lambda may assume, with one inline policy of ``statements``; its ARN."""
    iam_client = client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {"Effect": "Allow", "Principal": {"Service": "lambda.amazonaws.com"}, "Action": "sts:AssumeRole"}
        ],
    }
    arn = iam_client.create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]
    policy = {"Version": "2012-10-17", "Statement": list(statements)}
    iam_client.put_role_policy(RoleName=name, PolicyName="p", PolicyDocument=json.dumps(policy))
    return str(arn)


def client_as(role_arn: str, service: str) -> Any:
    """A client that calls as a session of ``role_arn`` (what a Lambda handler with that role would use)."""
    from bedrock_finetune_local.aws import iam

    credentials = iam.role_credentials(role_arn, "test-session")
    return boto3.client(service, region_name=REGION, config=NO_RETRIES, **credentials.as_client_kwargs())
