"""InboxStarter: one object version → one execution, whatever EventBridge delivers twice."""

from __future__ import annotations

import json
import re
from typing import Any

import boto3
import pytest

from bedrock_finetune import naming
from bedrock_finetune.handlers import inbox_starter
from bedrock_finetune.logic.inbox_start import execution_name
from bedrock_finetune_local.seams import LocalContext

from .conftest import BUCKET, REGION, Account

ROLE = "arn:aws:iam::123456789012:role/finetune-state-machine"
DEFINITION = json.dumps({"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}})


def s3_event(key: str, version: str | None, event_id: str = "e-1", sequencer: str = "0062E99A88DC407460") -> dict:
    obj: dict[str, Any] = {"key": key, "size": 10, "etag": "x", "sequencer": sequencer}
    if version is not None:
        obj["version-id"] = version
    return {
        "version": "0",
        "id": event_id,
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-29T17:00:00Z",
        "region": REGION,
        "resources": [f"arn:aws:s3:::{BUCKET}"],
        "detail": {"version": "0", "bucket": {"name": BUCKET}, "object": obj, "reason": "PutObject"},
    }


@pytest.fixture
def machine(account: Account, monkeypatch: pytest.MonkeyPatch) -> str:
    arn = boto3.client("stepfunctions", region_name=REGION).create_state_machine(
        name="finetune", definition=DEFINITION, roleArn=ROLE
    )["stateMachineArn"]
    monkeypatch.setenv("STATE_MACHINE_ARN", arn)
    return str(arn)


def start(event: dict[str, Any]) -> dict[str, Any]:
    """The handler as Lambda calls it (with a context object)."""
    return inbox_starter.handler(event, LocalContext("InboxStarter", 512, "arn:aws:lambda:us-east-1:1:function:s", "r"))


def executions(machine: str) -> list[dict[str, Any]]:
    return list(
        boto3.client("stepfunctions", region_name=REGION).list_executions(stateMachineArn=machine)["executions"]
    )


def test_three_deliveries_of_one_event_start_one_execution_with_the_event_as_input(machine: str) -> None:
    # Given one S3 event for one object version
    event = s3_event("inbox/orders.jsonl", "v-1")

    # When EventBridge delivers it three times
    answers = [start(event) for _ in range(3)]

    # Then one execution exists, named after the object version: while it runs, StartExecution answers the later
    # deliveries with that same execution (its idempotent answer for the same name and input)
    (only,) = executions(machine)
    assert only["name"] == execution_name(event) == answers[0]["name"]
    assert {answer["executionArn"] for answer in answers} == {only["executionArn"]}
    # And its input is the event itself, as the rule gave it to the state machine before (ResolveConfig unchanged)
    described = boto3.client("stepfunctions", region_name=REGION).describe_execution(executionArn=only["executionArn"])
    assert json.loads(described["input"]) == event


def test_a_redelivery_after_the_run_ended_starts_nothing_and_does_not_fail(machine: str) -> None:
    # Given an event whose execution has ended (StartExecution then answers ExecutionAlreadyExists)
    event = s3_event("inbox/orders.jsonl", "v-1")
    first = start(event)
    sfn = boto3.client("stepfunctions", region_name=REGION)
    sfn.stop_execution(executionArn=first["executionArn"])
    with pytest.raises(sfn.exceptions.ExecutionAlreadyExists):
        sfn.start_execution(stateMachineArn=machine, name=first["name"], input=json.dumps(event))

    # When the same event is delivered again, even with another event id (so another input)
    again = start({**event, "id": "e-2"})

    # Then nothing new starts and the invocation succeeds (no retry, no dead letter, no failure notice)
    assert again == {**first, "started": False}
    assert first["started"]
    assert len(executions(machine)) == 1


def test_another_version_of_the_same_key_is_another_run(machine: str) -> None:
    # Given two uploads of the same key (two versions)
    # When each is delivered
    first = start(s3_event("inbox/orders.jsonl", "v-1"))
    second = start(s3_event("inbox/orders.jsonl", "v-2", "e-2"))

    # Then two executions run, with different names
    assert first["started"]
    assert second["started"]
    assert first["name"] != second["name"]
    assert len(executions(machine)) == 2


def test_a_bucket_without_versioning_uses_the_event_sequencer(machine: str) -> None:
    # Given events without version-id: two deliveries of one PUT, and a later PUT of the same key
    put = s3_event("inbox/orders.jsonl", None, sequencer="0062E99A88DC407460")
    later = s3_event("inbox/orders.jsonl", None, sequencer="0062E99A88DC407461")

    # Then the deliveries of one PUT share a name and the later PUT has its own
    assert execution_name(put) == execution_name({**put, "id": "e-9"})
    assert execution_name(put) != execution_name(later)


@pytest.mark.parametrize(
    "key",
    [
        "inbox/orders.jsonl",
        "inbox/Q4 reports/my data (v2)+ü.jsonl",
        "inbox/" + "x" * 900 + ".jsonl",
        "inbox/日本語.jsonl",
        "inbox/a=b&c.jsonl",
    ],
)
def test_names_fit_step_functions_and_are_their_own_run_id(key: str) -> None:
    # Given any inbox key
    # When its execution name is derived
    name = naming.inbox_execution_name(BUCKET, key, "3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo")

    # Then it is 1-80 characters of [0-9A-Za-z_-], ends in a 32-hex hash, and the run id keeps it unchanged
    assert re.fullmatch(r"[0-9A-Za-z_-]{1,80}", name)
    assert re.search(r"-[0-9a-f]{32}$", name)
    assert naming.run_id(name) == name


def test_a_console_shaped_event_is_refused_before_anything_starts(machine: str) -> None:
    # Given an event that is not an S3 Object Created event
    # When the starter is invoked with it
    # Then it fails with ConfigInvalid and starts nothing
    with pytest.raises(Exception, match="not an S3 Object Created event"):
        start({"datasetUri": f"s3://{BUCKET}/inbox/a.jsonl"})
    assert executions(machine) == []
