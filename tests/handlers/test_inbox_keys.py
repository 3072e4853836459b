"""An inbox drop under any key trains: ResolveConfig finds it, ValidateDataset accepts it, StageDataset copies it to
a key Bedrock accepts, and the job's tags match Bedrock's TagValue pattern."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any
from urllib.parse import quote_plus

import botocore.session
import pytest

from bedrock_finetune import naming
from bedrock_finetune.logic import stage_dataset, training
from bedrock_finetune.logic.resolve_config import resolve
from bedrock_finetune.logic.validate_dataset import validate

from .conftest import BUCKET, Account
from .test_stage_and_train import record

EVENTS = Path(__file__).resolve().parents[2] / "events"
ODD_KEY = "inbox/Q4 reports/my data (v2)+ü.jsonl"


def object_created(key: str, version_id: str | None) -> dict[str, Any]:
    """The documented EventBridge ``Object Created`` event (events/s3_object_created.json) for one object."""
    event = json.loads((EVENTS / "s3_object_created.json").read_text())
    event["detail"]["bucket"]["name"] = BUCKET
    event["detail"]["object"]["key"] = key
    event["detail"]["object"]["version-id"] = version_id
    return event


def tag_value_pattern() -> re.Pattern[str]:
    pattern = botocore.session.get_session().get_service_model("bedrock").shape_for("TagValue").metadata["pattern"]
    return re.compile(pattern.replace(r"\s", r" \t\n\x0b\f\r"), re.ASCII)


@pytest.mark.parametrize(
    "delivered",
    [ODD_KEY, quote_plus(ODD_KEY, safe="/")],
    ids=["as-stored (EventBridge)", "form-encoded (S3 notification format)"],
)
def test_an_odd_inbox_key_is_resolved_validated_staged_and_tagged(account: Account, delivered: str) -> None:
    # Given 50 valid records dropped under a key with spaces, brackets, '+' and 'ü'
    version = account.put(ODD_KEY, b"".join(record(index) for index in range(50)))

    # When the event is resolved and the dataset validated, staged and trained
    config = resolve(object_created(delivered, version), account.execution, account.settings, "us-east-1")
    validation = validate(config)
    staged = stage_dataset.stage(config, validation)
    job = training.create_job(config, validation, staged, account.settings.bedrock_role_arn)

    # Then the real object was used, it is valid (no file-name finding), and Bedrock only sees the staged copy
    assert (config.source.key, config.source.version_id) == (ODD_KEY, version)
    assert validation.valid is True
    assert "E_FILE_NAME" not in validation.error_counts
    for location in (staged.train, staged.validation):
        assert location is not None
        assert location.key.startswith(f"datasets/{staged.sha256}/")
        assert naming.bedrock_s3_uri_problem(location.uri) is None
    request = account.bedrock.get_model_customization_job(jobIdentifier=job.job_arn)
    assert request["trainingDataConfig"]["s3Uri"] == staged.train.uri
    # ... and every tag value matches botocore's TagValue pattern (ASCII only)
    tags = account.bedrock.list_tags_for_resource(resourceARN=job.job_arn)["tags"]
    assert all(tag_value_pattern().fullmatch(tag["value"]) for tag in tags), tags
    assert {tag["key"]: tag["value"] for tag in tags}["source-key"] == "inbox/Q4 reports/my data _v2_+u.jsonl"


def test_the_pinned_version_picks_the_right_one_of_two_look_alike_keys(account: Account) -> None:
    # Given "a+b.jsonl" and "a b.jsonl" both in the inbox, and the event for "a b.jsonl" form-encoded as "a+b.jsonl"
    account.put("inbox/a+b.jsonl", record(1))
    version = account.put("inbox/a b.jsonl", record(2))

    # When resolved
    config = resolve(object_created("inbox/a+b.jsonl", version), account.execution, account.settings, "us-east-1")

    # Then the object with the event's version is the source, not the look-alike
    assert config.source.key == "inbox/a b.jsonl"


@pytest.mark.parametrize("key", ["inbox/Train.JSONL", "inbox/upper/DATA.Jsonl"])
def test_jsonl_in_any_case_is_accepted_when_its_event_arrives(account: Account, key: str) -> None:
    # Given a dataset whose extension is not lower case
    version = account.put(key, b"".join(record(index) for index in range(20)))

    # When its event is resolved and the dataset validated
    config = resolve(object_created(key, version), account.execution, account.settings, "us-east-1")

    # Then it is an inbox run like any other
    assert config.source_in_inbox is True
    assert config.dataset_name in ("Train", "DATA")
    assert validate(config).valid is True
