"""The Reconcile handler under moto: the schedule's event (events/reconcile.json), the stack it needs to know, and a
job of an execution that ended (the execution's ARN is known to no state machine: it does not exist)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bedrock_finetune import naming
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.handlers import reconcile
from bedrock_finetune.models import ReconcileInput
from bedrock_finetune_local.seams import LocalContext

from .conftest import BUCKET, EXECUTION_ARN, Account

EVENT = json.loads((Path(__file__).resolve().parents[2] / "events" / "reconcile.json").read_text())
CONTEXT = LocalContext("Reconcile", 512, "arn:aws:lambda:us-east-1:123456789012:function:reconcile", "r-1")


def test_the_sample_schedule_event_parses() -> None:
    assert ReconcileInput.model_validate(EVENT).scheduled_time == "2026-11-25T05:15:00Z"


def test_without_its_stack_name_the_reconciler_touches_nothing(account: Account) -> None:
    # Given a function environment without STACK_NAME
    # When the schedule invokes it
    # Then it refuses to run rather than guess which resources are its stack's
    with pytest.raises(ConfigInvalid, match="STACK_NAME"):
        reconcile.handler(EVENT, CONTEXT)


def test_a_job_of_an_ended_execution_is_stopped_and_reported(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given this stack's job, still training, whose execution no longer exists, and a job of another stack
    monkeypatch.setenv("STACK_NAME", "finetune-prod")
    account.put("datasets/train.jsonl", b'{"prompt": "a", "completion": "b"}\n')
    jobs = {}
    for stack in ("finetune-prod", "finetune-dev"):
        tags = naming.run_tags(
            run="run-0001", execution_arn=EXECUTION_ARN, sha256="0" * 64, source_key="inbox/a.jsonl", stack=stack
        )
        jobs[stack] = account.bedrock.create_model_customization_job(
            jobName=f"ft-{stack}",
            customModelName=f"m-{stack}",
            roleArn="arn:aws:iam::123456789012:role/bedrock-service",
            baseModelIdentifier="amazon.nova-micro-v1:0:128k",
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/datasets/train.jsonl"},
            outputDataConfig={"s3Uri": f"s3://{BUCKET}/outputs/run-0001/"},
            jobTags=tags,
        )["jobArn"]

    # When the schedule invokes the handler
    result = reconcile.handler(EVENT, CONTEXT)

    # Then only this stack's job is stopped, and the report says when the schedule fired and what was done
    (acted,) = result["acted"]
    assert (acted["arn"], acted["action"], acted["executionStatus"]) == (jobs["finetune-prod"], "stopped", "none")
    assert result["notOurs"] == 1
    statuses = {
        stack: account.bedrock.get_model_customization_job(jobIdentifier=arn)["status"] for stack, arn in jobs.items()
    }
    assert statuses == {"finetune-prod": "Stopping", "finetune-dev": "InProgress"}
    key = result["reportUri"].removeprefix(f"s3://{BUCKET}/")
    report = json.loads(account.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
    assert report["scheduledTime"] == "2026-11-25T05:15:00Z"
    assert [item["action"] for item in report["acted"]] == ["stopped"]
    assert result["notification"]["subject"] == "bedrock-finetune reconciler: stopped job x1"
