"""Cleanup: finds what the run created even when the state does not know it, never deletes a dataset, and lets
transient errors through for the state machine to retry."""

from __future__ import annotations

import json

import pytest

from bedrock_finetune import naming
from bedrock_finetune.errors import TransientAwsError
from bedrock_finetune.logic import outcome
from bedrock_finetune.models import ExecutionContext, RunState
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.aws.faults import Fault, inject_faults
from bedrock_finetune_local.clock import CLOCK

from .conftest import BUCKET, EXECUTION_ARN, Account

OTHER_RUN = "arn:aws:states:us-east-1:123456789012:execution:finetune:someone-else"


def create_job_and_throughput(account: Account, execution_arn: str) -> tuple[str, str]:
    """A completed model and a throughput on it, plus a second job left running, all named for the run."""
    account.put("datasets/abc/train.jsonl", b"{}\n")
    name = naming.resource_name("orders", execution_arn, prefix="ft-")
    common = {
        "roleArn": "arn:aws:iam::123456789012:role/bedrock-service",
        "baseModelIdentifier": "amazon.nova-micro-v1:0:128k",
        "trainingDataConfig": {"s3Uri": f"s3://{BUCKET}/datasets/abc/train.jsonl"},
        "outputDataConfig": {"s3Uri": f"s3://{BUCKET}/outputs/run/"},
        "hyperParameters": {},
    }
    done = account.bedrock.create_model_customization_job(jobName=name, customModelName=name, **common)["jobArn"]
    CLOCK.advance(local_bedrock.job_duration_seconds(3, 1, "amazon.nova-micro-v1:0:128k"))  # its simulated duration
    model_arn = account.bedrock.get_model_customization_job(jobIdentifier=done)["outputModelArn"]
    with local_bedrock.local_bedrock_settings(local_bedrock.current_settings(), job_duration_seconds=30 * 86400):
        running = account.bedrock.create_model_customization_job(
            jobName=f"{name}-2", customModelName=f"{name.replace('ft-', 'm-')}-2", **common
        )["jobArn"]
    throughput = account.bedrock.create_provisioned_model_throughput(
        modelUnits=1, provisionedModelName=name, modelId=model_arn
    )["provisionedModelArn"]
    return running, throughput


def test_cleanup_finds_the_runs_resources_by_name_when_the_state_lost_them(account: Account) -> None:
    # Given a running job and a throughput of this run, one throughput of another run, and an empty state
    # (a step died after creating them and before returning)
    running, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    _, others = create_job_and_throughput(account, OTHER_RUN)

    # When Cleanup runs
    result = outcome.cleanup(RunState(), account.execution, account.settings)

    # Then this run's job is stopped and its throughput deleted; the other run's throughput is untouched
    assert f"stopped job {running}" in result.actions
    assert f"deleted provisioned {throughput}" in result.actions
    remaining = [
        t["provisionedModelArn"]
        for t in account.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    ]
    assert remaining == [others]
    assert account.bedrock.get_model_customization_job(jobIdentifier=running)["status"] in {"Stopping", "Stopped"}


def test_cleanup_moves_an_inbox_dataset_and_keeps_every_version(account: Account) -> None:
    # Given a config-less failure of an inbox drop (the original event is all Cleanup has)
    version = account.put("inbox/orders.jsonl", b"data\n")
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": "inbox/orders.jsonl", "version-id": version}},
    }
    execution = ExecutionContext(Id=EXECUTION_ARN, Name="run-0001", Input=event)
    state = RunState.model_validate({"error": {"Error": "ConfigInvalid", "Cause": "deployment.mode: bad"}})

    # When Cleanup runs twice (the ASL may retry it)
    first = outcome.cleanup(state, execution, account.settings)
    second = outcome.cleanup(state, execution, account.settings)

    # Then the dataset is in failed/<run>/ with the report next to it, and the inbox version still exists
    assert first.dataset_uri == f"s3://{BUCKET}/failed/run-0001/orders.jsonl"
    assert second.dataset_uri == first.dataset_uri
    assert set(account.keys("failed/")) == {"failed/run-0001/orders.jsonl", "failed/run-0001/report.json"}
    report = json.loads(account.s3.get_object(Bucket=BUCKET, Key="failed/run-0001/report.json")["Body"].read())
    assert report["error"] == {"error": "ConfigInvalid", "cause": "deployment.mode: bad"}
    kept = account.s3.get_object(Bucket=BUCKET, Key="inbox/orders.jsonl", VersionId=version)["Body"].read()
    assert kept == b"data\n"


def test_cleanup_leaves_datasets_outside_the_inbox_where_they_are(account: Account) -> None:
    # Given a console run whose dataset lives elsewhere
    account.put("uploads/orders.jsonl", b"data\n")
    execution = ExecutionContext(
        Id=EXECUTION_ARN, Name="run-0001", Input={"datasetUri": f"s3://{BUCKET}/uploads/orders.jsonl"}
    )

    # When Cleanup runs
    result = outcome.cleanup(RunState(), execution, account.settings)

    # Then the object is untouched and the report says so
    assert result.dataset_uri == f"s3://{BUCKET}/uploads/orders.jsonl"
    assert "uploads/orders.jsonl" in account.keys("uploads/")
    assert any("left" in action for action in result.actions)


def test_transient_errors_propagate_for_the_state_machine_to_retry(account: Account) -> None:
    # Given throughput of this run and a throttled delete
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    fault = Fault.parse("bedrock:DeleteProvisionedModelThroughput=ThrottlingException")

    # When Cleanup runs, Then it raises TransientAwsError (retried by the ASL) and the throughput still exists
    with inject_faults([fault]), pytest.raises(TransientAwsError):
        outcome.cleanup(RunState(), account.execution, account.settings)
    arns = [
        t["provisionedModelArn"]
        for t in account.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    ]
    assert arns == [throughput]

    # And once the throttling ends, a retry cleans it up
    outcome.cleanup(RunState(), account.execution, account.settings)
    assert account.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"] == []


def test_a_resource_that_cannot_be_deleted_is_reported_as_a_leftover(account: Account) -> None:
    # Given throughput of this run whose deletion is refused (e.g. a commitment term)
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    fault = Fault.parse("bedrock:DeleteProvisionedModelThroughput=ValidationException")

    # When Cleanup runs
    with inject_faults([fault]):
        result = outcome.cleanup(RunState(), account.execution, account.settings)

    # Then it returns incomplete (so its report reaches NotifyFailure) and the report lists the throughput as left
    assert result.complete is False
    report = json.loads(account.s3.get_object(Bucket=BUCKET, Key="reports/run-0001/report.json")["Body"].read())
    assert [item["arn"] for item in report["cleanup"]["leftovers"]] == [throughput]
