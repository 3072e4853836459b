"""The sample events in events/ parse with the models the handlers use, so they never drift."""

from __future__ import annotations

import json
from pathlib import Path

from bedrock_finetune.config import ConsoleInput, RunOverrides
from bedrock_finetune.handlers import aborted_run_cleanup
from bedrock_finetune.logic.resolve_config import is_s3_event, source_from_event
from bedrock_finetune.models import StatusChangeEvent
from bedrock_finetune_local.seams import LocalContext

from .conftest import BUCKET, Account

EVENTS = Path(__file__).resolve().parents[2] / "events"


def load(name: str) -> dict[str, object]:
    return dict(json.loads((EVENTS / name).read_text()))


def test_sample_events_parse() -> None:
    assert ConsoleInput.model_validate(load("console_input.json")).dataset_uri.startswith("s3://")
    assert RunOverrides.model_validate(load("local_config.json")).deployment is not None
    s3_event = load("s3_object_created.json")
    assert is_s3_event(s3_event)
    assert source_from_event(s3_event).key == "inbox/support-chat.jsonl"
    assert StatusChangeEvent.model_validate(load("execution_aborted.json")).detail.status == "ABORTED"


def test_aborted_run_cleanup_handler_quarantines_and_notifies(account: Account) -> None:
    # Given an aborted execution whose inbox dataset is still in place
    account.put("inbox/support-chat.jsonl", b"data\n")
    event = load("execution_aborted.json")
    event["detail"]["input"] = json.dumps({"datasetUri": f"s3://{BUCKET}/inbox/support-chat.jsonl"})  # type: ignore[index]

    # When EventBridge invokes the handler
    result = aborted_run_cleanup.handler(event, LocalContext("AbortedRunCleanup", 512, "arn:aws:lambda:x", "r-1"))

    # Then the dataset moved to failed/ and the notification names the abort
    assert result["cleanup"]["datasetUri"] == f"s3://{BUCKET}/failed/run-0001/support-chat.jsonl"
    assert result["notification"]["subject"] == "bedrock-finetune FAILED (ExecutionAborted): support-chat.jsonl"
    assert result["leftovers"] == []
