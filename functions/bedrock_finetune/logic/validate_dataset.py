"""ValidateDataset: stream the dataset object(s) from S3 through the foundation validator.

The full report (every error with file, line, code and JSON path; capped list, totals per code) goes to
``reports/<run>/validation.json``; an invalid dataset raises DatasetInvalid, so it never reaches
CreateCustomizationJob.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError, ConnectionError, ReadTimeoutError, ResponseStreamingError

from bedrock_finetune import aws, naming
from bedrock_finetune.catalog import get_model
from bedrock_finetune.config import RunConfig, S3Location, StackSettings
from bedrock_finetune.errors import ConfigInvalid, DatasetInvalid, DatasetUnreadable, TransientAwsError
from bedrock_finetune.logic import estimate, refresh_prices
from bedrock_finetune.models import ValidateDatasetOutput, ValidatedFile
from bedrock_finetune.validation import DatasetSource, FileStats, ValidationReport, validate_dataset

ERRORS_IN_CAUSE = 5


def validate(config: RunConfig, settings: StackSettings | None = None) -> ValidateDatasetOutput:
    settings = settings or _stack_settings(config)
    spec = get_model(config.base_model_id)
    train_body, train_size = _open(config.source)
    sources = {"train": config.source}
    validation = None
    if config.validation_source is not None:
        body, size = _open(config.validation_source)
        validation = DatasetSource(name=config.validation_source.uri, stream=body, size=size)
        sources["validation"] = config.validation_source
    try:
        report = validate_dataset(
            train=DatasetSource(name=config.source.uri, stream=train_body, size=train_size),
            model=spec,
            customization_type=config.customization_type,
            validation=validation,
            hyperparameters=dict(config.hyper_parameters),
        )
    except (ResponseStreamingError, ReadTimeoutError, ConnectionError) as exc:
        # The object's stream broke mid-read: reading it again from the start is the fix.
        raise TransientAwsError(f"reading the dataset failed: {type(exc).__name__}") from exc
    key = naming.report_key(config.run_id, naming.VALIDATION_REPORT)
    tokens = int(report.stats.tokens.total)
    train_records = sum(item.records for item in report.stats.files if item.role == "train")
    priced = (
        estimate.priced(
            config, tokens, settings, records=train_records, table=refresh_prices.current_table(settings, config.region)
        )
        if report.valid
        else None
    )
    cost_json = priced[0].model_dump(mode="json") if priced is not None else None
    run_json = priced[1].model_dump(mode="json") if priced is not None else None
    document = json.loads(report.model_dump_json())
    if priced is not None:
        document["cost"], document["runEstimate"] = cost_json, run_json
    aws.put_json(config.bucket, key, json.dumps(document, indent=2))
    if not report.valid:
        raise DatasetInvalid(summarize(report, f"s3://{config.bucket}/{key}"))
    if priced is not None:
        estimate.guard(config, priced[1])
    return ValidateDatasetOutput(
        valid=True,
        report_key=key,
        files=[_validated_file(item, sources) for item in report.stats.files],
        error_counts=dict(report.error_counts),
        warning_counts=dict(report.warning_counts),
        estimated_tokens=tokens,
        cost=cost_json,
        run_estimate=run_json,
    )


def _stack_settings(config: RunConfig) -> StackSettings:
    """The function's stack settings (its environment); outside Lambda, the defaults (no price overrides)."""
    try:
        return StackSettings.from_environ()
    except ConfigInvalid:
        return StackSettings(bucket_name=config.bucket)


def summarize(report: ValidationReport, report_uri: str) -> str:
    """The DatasetInvalid cause: totals per code and the first errors with file and line; never content."""
    total = sum(report.error_counts.values())
    counts = ", ".join(f"{code} x{count}" for code, count in sorted(report.error_counts.items()))
    lines = [f"{total} error(s) ({counts}); full report: {report_uri}"]
    for issue in report.errors[:ERRORS_IN_CAUSE]:
        where = f"{issue.file}:{issue.line}" if issue.line is not None else issue.file
        lines.append(f"{where} {issue.code} {issue.message}")
    return "\n".join(lines)


def _open(location: S3Location) -> tuple[Any, int]:
    try:
        return aws.open_object(location)
    except ClientError as exc:
        raise DatasetUnreadable(f"{location.uri}: {aws.error_code(exc)}") from exc


def _validated_file(item: FileStats, sources: dict[str, S3Location]) -> ValidatedFile:
    if item.sha256 is None:
        raise ValueError(f"{item.name} was not read although the report is valid")
    return ValidatedFile(
        role=item.role, location=sources[item.role], sha256=item.sha256, bytes=item.bytes, records=item.records
    )
