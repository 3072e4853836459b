"""StageDataset: copy the exact object version that was validated to ``datasets/<sha256>/`` (server-side).

When the model accepts validation data, none was given and a split percentage is set, a reproducible validation set
is split off: the sample of line numbers is seeded by the content hash, so the same dataset always splits the same
way. That is the one case where dataset bytes pass through the Lambda (streamed, in bounded memory).

Bedrock's S3Uri rule (no spaces, ``=``, ``+`` or non-ASCII in keys) is enforced here, on the staged locations Bedrock
reads, and not on the dropped key: ``datasets/<sha256>/...`` always matches it, whatever the dropped key was.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from typing import Any

from bedrock_finetune import aws, naming
from bedrock_finetune.catalog import get_model
from bedrock_finetune.config import RunConfig, S3Location
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.models import SplitInfo, StageDatasetOutput, ValidateDatasetOutput, ValidatedFile

READ_CHUNK = 1024 * 1024


def stage(config: RunConfig, validation: ValidateDatasetOutput) -> StageDatasetOutput:
    staged = _stage(config, validation)
    for location in (staged.train, staged.validation):
        problem = naming.bedrock_s3_uri_problem(location.uri) if location is not None else None
        if problem:
            raise ConfigInvalid(f"staged dataset: {problem}")
    return staged


def _stage(config: RunConfig, validation: ValidateDatasetOutput) -> StageDatasetOutput:
    train = validation.file("train")
    if train is None:
        raise ValueError("validation output has no train file")
    given_validation = validation.file("validation")
    if given_validation is not None:
        return StageDatasetOutput(
            sha256=train.sha256,
            train=_stage_copy(config.bucket, train, naming.staged_key(train.sha256, "train")),
            validation=_stage_copy(
                config.bucket, given_validation, naming.staged_key(given_validation.sha256, "validation")
            ),
            train_records=train.records,
            validation_records=given_validation.records,
            split=None,
        )
    validation_count = split_size(config, train.records)
    if validation_count == 0:
        return StageDatasetOutput(
            sha256=train.sha256,
            train=_stage_copy(config.bucket, train, naming.staged_key(train.sha256, "train")),
            validation=None,
            train_records=train.records,
            validation_records=0,
            split=None,
        )
    return _stage_split(config, train, validation_count)


def split_size(config: RunConfig, records: int) -> int:
    """How many records to split off: the configured share, kept within the model's bounds (0 = no split)."""
    spec = get_model(config.base_model_id)
    if config.validation_split_percent <= 0 or not spec.validation_allowed(config.customization_type):
        return 0
    bounds = spec.record_bounds(config.customization_type)
    count = max(1, round(records * config.validation_split_percent / 100))
    if bounds.validation_max is not None:
        count = min(count, bounds.validation_max)
    if bounds.validation_min is not None and count < bounds.validation_min:
        return 0
    train_min = max(bounds.train_min or 1, bounds.combined_min or 1)
    if records - count < train_min:
        return 0
    return count


def choose_validation_lines(sha256: str, records: int, count: int) -> set[int]:
    """0-based record indexes of the validation set: reproducible, seeded by the content hash."""
    return set(random.Random(sha256).sample(range(records), count))  # noqa: S311 - sampling, not security


def _stage_copy(bucket: str, item: ValidatedFile, key: str) -> S3Location:
    target = S3Location(bucket=bucket, key=key)
    existing = aws.head_object(target)
    if existing is not None and int(existing["ContentLength"]) == item.bytes:
        return target.model_copy(update={"version_id": existing.get("VersionId")})
    version = aws.copy_object(item.location, bucket, key, item.bytes)
    return target.model_copy(update={"version_id": version})


def _stage_split(config: RunConfig, train: ValidatedFile, count: int) -> StageDatasetOutput:
    percent = config.validation_split_percent
    train_key = naming.split_key(train.sha256, percent, "train")
    validation_key = naming.split_key(train.sha256, percent, "validation")
    info = SplitInfo(percent=percent, train_records=train.records - count, validation_records=count, seed=train.sha256)
    done = aws.head_object(S3Location(bucket=config.bucket, key=train_key)) and aws.head_object(
        S3Location(bucket=config.bucket, key=validation_key)
    )
    if not done:
        chosen = choose_validation_lines(train.sha256, train.records, count)
        body, _ = aws.open_object(train.location)
        train_out = aws.MultipartWriter(config.bucket, train_key)
        validation_out = aws.MultipartWriter(config.bucket, validation_key)
        try:
            for index, line in enumerate(records(body)):
                (validation_out if index in chosen else train_out).write(line)
        except BaseException:
            train_out.abort()
            validation_out.abort()
            raise
        # The validation object is written last: its presence marks a finished split.
        train_out.close()
        validation_out.close()
    return StageDatasetOutput(
        sha256=train.sha256,
        train=S3Location(bucket=config.bucket, key=train_key),
        validation=S3Location(bucket=config.bucket, key=validation_key),
        train_records=info.train_records,
        validation_records=info.validation_records,
        split=info,
    )


def records(body: Any) -> Iterator[bytes]:
    """Each record of a validated dataset with a normalized ``\\n`` ending (CRLF and a missing final newline ok)."""
    pending = b""
    while chunk := body.read(READ_CHUNK):
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line.rstrip(b"\r") + b"\n"
    if pending.strip():
        yield pending.rstrip(b"\r") + b"\n"
