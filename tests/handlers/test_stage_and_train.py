"""StageDataset, CreateCustomizationJob and PollJob against moto and the local Bedrock."""

from __future__ import annotations

import json
from datetime import timedelta

import pytest

from bedrock_finetune import clock
from bedrock_finetune.config import RunOverrides, S3Location
from bedrock_finetune.errors import JobTimedOut
from bedrock_finetune.logic import stage_dataset, training
from bedrock_finetune.logic.resolve_config import build_config
from bedrock_finetune.logic.validate_dataset import validate
from bedrock_finetune.models import RunConfig
from bedrock_finetune_local.clock import CLOCK

from .conftest import BUCKET, Account


def record(index: int) -> bytes:
    return (
        json.dumps(
            {
                "schemaVersion": "bedrock-conversation-2024",
                "messages": [
                    {"role": "user", "content": [{"text": f"Question number {index} about an order?"}]},
                    {"role": "assistant", "content": [{"text": f"Answer number {index}."}]},
                ],
            }
        ).encode()
        + b"\n"
    )


def make_config(account: Account, key: str, records: int, **overrides: object) -> RunConfig:
    account.put(key, b"".join(record(i) for i in range(records)))
    return build_config(
        source=S3Location(bucket=BUCKET, key=key),
        trigger="inbox",
        overrides=RunOverrides.model_validate(overrides),
        execution=account.execution,
        settings=account.settings,
        region="us-east-1",
    )


def test_split_is_reproducible_and_within_bounds(account: Account) -> None:
    # Given 200 valid records and the default 10 % split
    config = make_config(account, "inbox/orders.jsonl", 200)
    validation = validate(config)

    # When staged twice
    first = stage_dataset.stage(config, validation)
    train_body = account.s3.get_object(Bucket=BUCKET, Key=first.train.key)["Body"].read()
    second = stage_dataset.stage(config, validation)

    # Then 20 records went to validation, 180 to training, under a content-addressed key, the same both times
    assert first == second
    assert first.split is not None
    assert (first.train_records, first.validation_records) == (180, 20)
    assert first.train.key == f"datasets/{first.sha256}/split-10pct/train.jsonl"
    assert train_body.count(b"\n") == 180
    validation_body = account.s3.get_object(Bucket=BUCKET, Key=first.validation.key)["Body"].read()  # type: ignore[union-attr]
    assert validation_body.count(b"\n") == 20
    assert sorted(train_body.splitlines() + validation_body.splitlines()) == sorted(
        record(i).rstrip(b"\n") for i in range(200)
    )
    # And the chosen lines depend only on the content hash
    assert stage_dataset.choose_validation_lines(first.sha256, 200, 20) == stage_dataset.choose_validation_lines(
        first.sha256, 200, 20
    )


def test_without_split_the_validated_version_is_copied_server_side(account: Account) -> None:
    # Given a dataset with splitting off, and the object overwritten after validation
    config = make_config(account, "inbox/orders.jsonl", 20, validationSplitPercent=0)
    first_version = account.s3.head_object(Bucket=BUCKET, Key="inbox/orders.jsonl")["VersionId"]
    config = config.model_copy(update={"source": config.source.model_copy(update={"version_id": first_version})})
    validation = validate(config)
    account.put("inbox/orders.jsonl", b"overwritten\n")

    # When staged
    staged = stage_dataset.stage(config, validation)

    # Then the staged object is the validated version, byte for byte, at datasets/<sha256>/train.jsonl
    body = account.s3.get_object(Bucket=BUCKET, Key=staged.train.key)["Body"].read()
    assert body == b"".join(record(i) for i in range(20))
    assert staged.train.key == f"datasets/{staged.sha256}/train.jsonl"
    assert staged.validation is None


def test_split_is_skipped_when_it_would_break_the_models_bounds(account: Account) -> None:
    # Given 8 records: Nova Micro's minimum; splitting would leave too few for training
    config = make_config(account, "inbox/tiny.jsonl", 8)

    # Then no split is made
    assert stage_dataset.split_size(config, 8) == 0
    assert stage_dataset.split_size(config, 200) == 20


def test_job_is_created_idempotently_with_tags_and_polled_to_completion(account: Account) -> None:
    # Given a staged dataset
    config = make_config(account, "inbox/orders.jsonl", 50)
    validation = validate(config)
    staged = stage_dataset.stage(config, validation)

    # When the job is created twice (a retried step) and polled
    job = training.create_job(config, validation, staged, account.settings.bedrock_role_arn)
    again = training.create_job(config, validation, staged, account.settings.bedrock_role_arn)
    statuses = [training.poll_job(config, job)]
    CLOCK.advance(24 * 3600)  # simulated time: far past the job's duration
    statuses.append(training.poll_job(config, job))

    # Then one job exists, tagged with the content hash and source key, and it completed with losses and CSVs
    assert again.job_arn == job.job_arn
    assert len(account.bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]) == 1
    tags = {t["key"]: t["value"] for t in account.bedrock.list_tags_for_resource(resourceARN=job.job_arn)["tags"]}
    assert tags["dataset-sha256"] == staged.sha256
    assert tags["source-key"] == "inbox/orders.jsonl"
    assert [status.status for status in statuses] == ["InProgress", "Completed"]
    final = statuses[-1]
    assert final.model_arn is not None
    assert final.metrics is not None
    assert final.metrics.training_csv is not None
    assert final.metrics.training_csv.rows > 0
    assert final.metrics.validation_csv is not None
    assert final.metrics.validation_csv.final_loss == final.metrics.validation_loss


def test_poll_interval_grows_to_the_cap_and_the_timeout_raises(account: Account) -> None:
    # Given the growth rule
    # Then the wait is a quarter of the elapsed time, from the initial value up to the cap
    assert training.next_wait(0, 60, 900) == 60
    assert training.next_wait(1200, 60, 900) == 300
    assert training.next_wait(100_000, 60, 900) == 900

    # And a job still running past the timeout raises JobTimedOut
    config = make_config(account, "inbox/orders.jsonl", 20)
    validation = validate(config)
    staged = stage_dataset.stage(config, validation)
    job = training.create_job(config, validation, staged, account.settings.bedrock_role_arn)
    later = clock.now() + timedelta(seconds=config.polling.job_timeout_seconds + 60)
    with pytest.raises(JobTimedOut, match="timeout"):
        training.poll_job(config, job, now=later)


def test_large_objects_are_copied_in_parts_server_side(account: Account, monkeypatch: pytest.MonkeyPatch) -> None:
    # Given a copy threshold lowered to 5 MiB (S3's minimum part size) and a 12 MiB object
    from bedrock_finetune import aws

    monkeypatch.setattr(aws, "MULTIPART_COPY_THRESHOLD", 5 * 1024 * 1024)
    monkeypatch.setattr(aws, "MULTIPART_COPY_PART", 5 * 1024 * 1024)
    body = b"x" * (12 * 1024 * 1024)
    version = account.put("inbox/big.jsonl", body)
    calls: list[str] = []
    aws.client("s3").meta.events.register("before-call.s3.*", lambda model, **_: calls.append(model.name))

    # When copied
    aws.copy_object(
        S3Location(bucket=BUCKET, key="inbox/big.jsonl", version_id=version), BUCKET, "datasets/b", len(body)
    )

    # Then the copy was done with UploadPartCopy (no GetObject: no bytes through the function) and is identical
    assert calls.count("UploadPartCopy") == 3
    assert "GetObject" not in calls
    assert account.s3.get_object(Bucket=BUCKET, Key="datasets/b")["Body"].read() == body
