"""SmokeTest prompts and answers; reports and notifications carry no dataset content."""

from __future__ import annotations

import json

import pytest

from bedrock_finetune.config import S3Location
from bedrock_finetune.errors import SmokeTestFailed
from bedrock_finetune.logic import outcome, reporting, smoke_test
from bedrock_finetune.models import ExecutionContext, RunState
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.clock import CLOCK

from .conftest import BUCKET, Account
from .test_stage_and_train import make_config

SECRET = "Customer Jane Roe, card ending 4242"


@pytest.mark.parametrize(
    ("record", "dataset_format", "prompt"),
    [
        ({"prompt": "p1", "completion": "c"}, "prompt-completion", "p1"),
        ({"input": "some text"}, "cpt-input", "some text"),
        ({"system": "s", "messages": [{"role": "user", "content": "hi"}]}, "claude-messages", "hi"),
        ({"messages": [{"role": "user", "content": [{"text": "a"}, {"image": {}}, {"text": "b"}]}]}, "converse", "a b"),
        ({"messages": []}, "converse", None),
        ({"prompt": "   "}, "prompt-completion", None),
    ],
)
def test_first_user_text_per_format(record: dict[str, object], dataset_format: str, prompt: str | None) -> None:
    assert smoke_test.first_user_text(record, dataset_format) == prompt


def test_base_model_inference_id_drops_the_context_suffix() -> None:
    assert smoke_test.base_inference_id("amazon.nova-micro-v1:0:128k") == "amazon.nova-micro-v1:0"
    assert smoke_test.base_inference_id("amazon.titan-image-generator-v2:0") == "amazon.titan-image-generator-v2:0"


def deployed(account: Account) -> tuple[object, object, object]:
    from bedrock_finetune.logic import deployment, stage_dataset, training
    from bedrock_finetune.logic.validate_dataset import validate

    config = make_config(account, "inbox/orders.jsonl", 40)
    validation = validate(config)
    staged = stage_dataset.stage(config, validation)
    job = training.create_job(config, validation, staged, account.settings.bedrock_role_arn)
    status = training.poll_job(config, job)
    while status.status != "Completed":  # simulated time: each round moves it 10 minutes on
        CLOCK.advance(600)
        status = training.poll_job(config, job)
    info = deployment.deploy(config, job, status, staged.sha256)
    while deployment.poll(config, info).status not in {"Active", "InService"}:
        CLOCK.advance(60)
    return config, staged, info


def test_smoke_test_answers_from_the_validation_set_and_keeps_prompts_out_of_its_output(account: Account) -> None:
    # Given a deployed model
    config, staged, info = deployed(account)

    # When the smoke test runs
    result = smoke_test.run(config, staged, info)  # type: ignore[arg-type]

    # Then it asked 3 prompts from the validation split, all answered, and wrote them only to the report object
    assert (result.prompt_source, result.prompts, result.answered) == ("validation", 3, 3)
    assert result.median_latency_ms is not None
    assert "Question number" not in result.model_dump_json()
    details = json.loads(account.s3.get_object(Bucket=BUCKET, Key=result.results_key)["Body"].read())  # type: ignore[arg-type]
    assert len(details["results"]) == 3
    assert all(item["answer"] for item in details["results"])


def test_empty_answers_fail_the_smoke_test(account: Account) -> None:
    # Given a deployed model that answers with empty text
    config, staged, info = deployed(account)
    local_bedrock.configure(runtime_answer="empty")

    # When the smoke test runs, Then it fails naming the count
    with pytest.raises(SmokeTestFailed, match="3 of 3"):
        smoke_test.run(config, staged, info)  # type: ignore[arg-type]


def test_failure_notification_has_lines_and_codes_but_no_dataset_content(account: Account) -> None:
    # Given a failed run whose state holds only ids, codes and the validator's messages
    state = RunState.model_validate({"error": {"Error": "DatasetInvalid", "Cause": "2 error(s) (E_JSON x2)"}})
    report = reporting.build_report(
        state,
        ExecutionContext(Id="arn:x", Name="run-1"),
        outcome="FAILED",
        dataset_uri=f"s3://{BUCKET}/failed/run-1/data.jsonl",
        validation_report={
            "valid": False,
            "errors": [{"file": "data.jsonl", "line": 3, "code": "E_JSON", "message": "not JSON", "path": None}],
            "warnings": [],
            "stats": {"error_counts": {"E_JSON": 2}},
        },
    )

    # When the notification is published
    sent = outcome.notify(report, account.settings)

    # Then the subject is short ASCII naming the error, and the text points at the line
    assert sent.subject == "bedrock-finetune FAILED (DatasetInvalid): data.jsonl"
    text = reporting.message(report)
    assert "data.jsonl:3 E_JSON not JSON" in text
    assert SECRET not in text


def test_subject_is_printable_ascii_within_the_sns_limit() -> None:
    report = {"outcome": "FAILED", "error": {"error": "JobFailed"}, "dataset": {"source": "s3://b/inbox/" + "é" * 300}}
    subject = reporting.subject(report)
    assert len(subject) <= 100
    assert all(32 <= ord(char) < 127 for char in subject)


def test_source_location_round_trip() -> None:
    location = S3Location.from_uri("s3://my-bucket/a/b c.jsonl", field="datasetUri")
    assert (location.bucket, location.key, location.file_name) == ("my-bucket", "a/b c.jsonl", "b c.jsonl")
