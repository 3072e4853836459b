"""ResolveConfig: every way a configuration can be wrong fails here, naming the field, before anything exists."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune.errors import ConfigInvalid, HyperparameterError, UnknownModelError
from bedrock_finetune.handlers import resolve_config
from bedrock_finetune.logic.resolve_config import resolve
from bedrock_finetune_local.seams import LocalContext

from .conftest import BUCKET, Account

EVENTS = Path(__file__).resolve().parents[2] / "events"
RECORD = b'{"schemaVersion":"bedrock-conversation-2024","messages":[]}\n'


def s3_event(key: str, version_id: str | None = None) -> dict[str, Any]:
    event = json.loads((EVENTS / "s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = BUCKET
    event["detail"]["object"]["key"] = key
    event["detail"]["object"]["version-id"] = version_id
    return event


def console(**fields: Any) -> dict[str, Any]:
    return {"datasetUri": f"s3://{BUCKET}/uploads/train.jsonl", **fields}


def test_inbox_drop_uses_stack_defaults_and_pins_the_version(account: Account) -> None:
    # Given a dataset dropped into inbox/ with no per-file settings
    version = account.put("inbox/support chat.jsonl", RECORD)

    # When the configuration is resolved from the S3 event
    config = resolve(s3_event("inbox/support chat.jsonl", version), account.execution, account.settings, "us-east-1")

    # Then it uses the stack defaults, auto resolves to on-demand (Nova Micro offers it), the version is pinned
    assert config.trigger == "inbox"
    assert config.source_in_inbox is True
    assert config.source.version_id == version
    assert config.base_model_id == "amazon.nova-micro-v1:0:128k"
    assert config.deployment.requested_mode == "auto"
    assert config.deployment.mode == "on-demand"
    assert config.deployment.keep is False
    assert all(isinstance(value, str) for value in config.hyper_parameters.values())
    assert config.dataset_name == "support-chat"
    assert config.run_id == "run-0001"


def test_url_encoded_event_keys_are_found(account: Account) -> None:
    # Given an object whose key has a space, delivered URL-encoded in the event
    account.put("inbox/my data.jsonl", RECORD)

    # When resolved
    config = resolve(s3_event("inbox/my+data.jsonl"), account.execution, account.settings, "us-east-1")

    # Then the real key is used
    assert config.source.key == "inbox/my data.jsonl"


def test_per_file_metadata_overrides_the_defaults(account: Account) -> None:
    # Given an inbox drop whose metadata asks for Claude 3 Haiku, auto deployment and 3 epochs (in us-west-2)
    override = {"baseModelId": "anthropic.claude-3-haiku-20240307-v1:0:200k", "hyperParameters": {"epochCount": 3}}
    account.put("inbox/claude.jsonl", RECORD, Metadata={"finetune-config": json.dumps(override)})

    # When resolved
    config = resolve(s3_event("inbox/claude.jsonl"), account.execution, account.settings, "us-west-2")

    # Then the override applies and auto means provisioned throughput (Haiku has no on-demand deployment)
    assert config.base_model_id == "anthropic.claude-3-haiku-20240307-v1:0:200k"
    assert config.hyper_parameters["epochCount"] == "3"
    assert config.deployment.mode == "provisioned"


@pytest.mark.parametrize(
    ("metadata", "field"),
    [
        ("{not json", "x-amz-meta-finetune-config"),
        ('{"deployment": {"mode": "sideways"}}', "deployment.mode"),
        ('{"epochs": 3}', "epochs"),
        ('{"datasetUri": "s3://x/y"}', "datasetUri"),
    ],
)
def test_bad_metadata_names_the_field(account: Account, metadata: str, field: str) -> None:
    # Given a per-file override that is broken
    account.put("inbox/bad.jsonl", RECORD, Metadata={"finetune-config": metadata})

    # When resolved, Then ConfigInvalid names the field
    with pytest.raises(ConfigInvalid, match=field.replace(".", r"\.")):
        resolve(s3_event("inbox/bad.jsonl"), account.execution, account.settings, "us-east-1")


def test_console_input_example_resolves(account: Account) -> None:
    # Given the documented console example, pointing at an existing object
    example = json.loads((EVENTS / "console_input.json").read_text())
    example["datasetUri"] = f"s3://{BUCKET}/uploads/train.jsonl"
    account.put("uploads/train.jsonl", RECORD)

    # When resolved
    config = resolve(example, account.execution, account.settings, "us-east-1")

    # Then every field is taken; a console dataset outside inbox/ is not ours to move
    assert config.trigger == "console"
    assert config.source_in_inbox is False
    assert config.model_name == "support-chat-v1"
    assert config.hyper_parameters["epochCount"] == "2"
    assert config.smoke_test.count == 3


@pytest.mark.parametrize(
    ("raw", "error", "match"),
    [
        ({}, ConfigInvalid, "datasetUri"),
        (console(bogus=1), ConfigInvalid, "bogus"),
        (console(datasetUri="https://example.com/x.jsonl"), ConfigInvalid, "datasetUri"),
        (console(datasetUri=f"s3://{BUCKET}/uploads/missing.jsonl"), ConfigInvalid, "does not exist"),
        (console(baseModelId="amazon.nova-micro-v1"), UnknownModelError, "amazon.nova-micro-v1:0:128k"),
        (
            console(baseModelId="anthropic.claude-3-haiku-20240307-v1:0:200k", deployment={"mode": "on-demand"}),
            ConfigInvalid,
            "deployment.mode",
        ),
        (console(customizationType="CONTINUED_PRE_TRAINING"), ConfigInvalid, "customizationType"),
        (console(hyperParameters={"epochCount": 99}), HyperparameterError, "epochCount"),
        (console(deployment={"modelUnits": 0}), ConfigInvalid, "deployment.modelUnits"),
        (console(modelName="bad name!"), ConfigInvalid, "modelName"),
        (
            console(baseModelId="amazon.titan-image-generator-v2:0", validationDatasetUri=f"s3://{BUCKET}/v.jsonl"),
            ConfigInvalid,
            "validationDatasetUri",
        ),
    ],
)
def test_invalid_console_input_fails_naming_the_field(
    account: Account, raw: dict[str, Any], error: type[Exception], match: str
) -> None:
    # Given a console input with one problem (the training object exists)
    account.put("uploads/train.jsonl", RECORD)

    # When resolved, Then the error names the field or the rule
    with pytest.raises(error, match=match):
        resolve(raw, account.execution, account.settings, "us-east-1")


def test_handler_returns_the_config_as_the_whole_state(account: Account) -> None:
    # Given the handler's event as the ASL builds it
    account.put("uploads/train.jsonl", RECORD)
    event = {"input": console(), "execution": {"Id": account.execution.id, "Name": "run-0001"}}

    # When invoked
    result = resolve_config.handler(event, LocalContext("ResolveConfig", 512, "arn:aws:lambda:x", "req-1"))

    # Then the output is {"config": ...} in camelCase, as the next states read it
    assert set(result) == {"config"}
    assert result["config"]["deployment"]["mode"] == "on-demand"
    assert result["config"]["source"]["bucket"] == BUCKET
