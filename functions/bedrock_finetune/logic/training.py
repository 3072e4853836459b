"""CreateCustomizationJob and PollJob."""

from __future__ import annotations

import csv
import io
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune import aws, clock, naming
from bedrock_finetune.config import MIN_JOB_EVENT_FALLBACK_SECONDS, PollingSettings, RunConfig
from bedrock_finetune.errors import JobTimedOut, TrainingCapacityFull, TransientAwsError
from bedrock_finetune.models import (
    JobInfo,
    JobMetrics,
    JobStatusOutput,
    MetricsFile,
    StageDatasetOutput,
    ValidateDatasetOutput,
)

MANAGED_BY = naming.MANAGED_BY
ACTIVE_STATUSES = frozenset({"InProgress", "Stopping"})
#: CreateModelCustomizationJob's answer when the account's concurrent job quota is used up (botocore's bedrock model:
#: "The number of requests exceeds the service quota. Resubmit your request later."): the run waits its turn.
QUOTA_EXCEEDED = "ServiceQuotaExceededException"

# Poll-interval floors and timeout ceilings. A Standard execution's history holds at most 25,000 events (Step
# Functions quotas) and every poll costs 9 (PollJob 5, JobStatus 2, WaitForJob 2). With these values a job polled
# for the longest allowed time plus the longest deployment wait stays far under it:
# tests/workflow/test_poll_history_budget.py computes the worst case. template.yaml's MinValue/MaxValue carry the
# same numbers; values below a floor (or above a ceiling) are clamped here, so a stack deployed without them is safe.
MIN_POLL_INITIAL_SECONDS = 1
MIN_JOB_POLL_MAX_SECONDS = 600
MAX_JOB_TIMEOUT_HOURS = 72
MIN_DEPLOYMENT_POLL_MAX_SECONDS = 60
MAX_DEPLOYMENT_TIMEOUT_MINUTES = 240


def effective_polling(polling: PollingSettings) -> PollingSettings:
    """The configured polling with every value clamped to the floors and ceilings above."""
    return PollingSettings(
        job_initial_seconds=max(MIN_POLL_INITIAL_SECONDS, polling.job_initial_seconds),
        job_max_seconds=max(MIN_JOB_POLL_MAX_SECONDS, polling.job_max_seconds, polling.job_initial_seconds),
        job_timeout_seconds=min(MAX_JOB_TIMEOUT_HOURS * 3600, polling.job_timeout_seconds),
        deployment_initial_seconds=max(MIN_POLL_INITIAL_SECONDS, polling.deployment_initial_seconds),
        deployment_max_seconds=max(
            MIN_DEPLOYMENT_POLL_MAX_SECONDS, polling.deployment_max_seconds, polling.deployment_initial_seconds
        ),
        deployment_timeout_seconds=min(MAX_DEPLOYMENT_TIMEOUT_MINUTES * 60, polling.deployment_timeout_seconds),
        job_event_fallback_seconds=max(MIN_JOB_EVENT_FALLBACK_SECONDS, polling.job_event_fallback_seconds),
    )


def tags(
    config: RunConfig, sha256: str, *, keep: bool = False, keep_until: datetime | None = None
) -> list[dict[str, str]]:
    """Tags on every resource a run creates (naming.run_tags): Cleanup, the reconciler and people can find what
    belongs to which stack and run."""
    return naming.run_tags(
        run=config.run_id,
        execution_arn=config.execution_arn,
        sha256=sha256,
        source_key=config.source.key,
        stack=config.stack_name,
        keep=keep,
        keep_until=keep_until,
    )


def job_name_of(config: RunConfig) -> str:
    return naming.resource_name(config.dataset_name, config.execution_arn, prefix="ft-", variant=config.variant)


def model_name_of(config: RunConfig) -> str:
    """The custom model's name, known before the job exists (a sweep variant's is its own, even with ``modelName``)."""
    if config.model_name and config.variant:
        return f"{config.model_name[: naming.MAX_NAME - len(config.variant) - 1]}-{config.variant}"
    return config.model_name or naming.resource_name(config.dataset_name, config.execution_arn, variant=config.variant)


def create_job(
    config: RunConfig, validation: ValidateDatasetOutput, staged: StageDatasetOutput, role_arn: str
) -> JobInfo:
    job_name = job_name_of(config)
    model_name = model_name_of(config)
    output_uri = f"s3://{config.bucket}/{naming.output_prefix(config.run_id, config.variant)}"
    request: dict[str, Any] = {
        "jobName": job_name,
        "customModelName": model_name,
        "roleArn": role_arn,
        "clientRequestToken": naming.request_token(
            config.execution_arn, staged.sha256, f"job-{config.variant}" if config.variant else "job"
        ),
        "baseModelIdentifier": config.base_model_id,
        "customizationType": config.customization_type,
        "hyperParameters": dict(config.hyper_parameters),
        "trainingDataConfig": {"s3Uri": staged.train.uri},
        "outputDataConfig": {"s3Uri": output_uri},
        "jobTags": tags(config, staged.sha256),
        "customModelTags": tags(config, staged.sha256),
    }
    if staged.validation is not None:
        request["validationDataConfig"] = {"validators": [{"s3Uri": staged.validation.uri}]}
    try:
        with aws.transient_errors():
            response = aws.client("bedrock").create_model_customization_job(**request)
    except ClientError as exc:
        if aws.error_code(exc) == QUOTA_EXCEEDED:
            raise TrainingCapacityFull(f"CreateModelCustomizationJob answered {QUOTA_EXCEEDED}") from exc
        raise
    return JobInfo(job_arn=response["jobArn"], job_name=job_name, model_name=model_name, output_s3_uri=output_uri)


def next_wait(elapsed: float, initial: int, cap: int) -> int:
    """The poll interval grows with the time already spent (a quarter of it), from ``initial`` up to ``cap``."""
    return int(min(cap, max(initial, elapsed / 4)))


def _read_job(config: RunConfig, job: JobInfo, now: datetime | None) -> tuple[dict[str, Any], str, float]:
    """GetModelCustomizationJob: the answer, its status and the seconds since the job was created; JobTimedOut when
    it is still active past the run's timeout."""
    with aws.transient_errors():
        response = aws.client("bedrock").get_model_customization_job(jobIdentifier=job.job_arn)
    status = str(response.get("status", "Unknown"))
    created = response.get("creationTime")
    elapsed = ((now or clock.now()) - created).total_seconds() if isinstance(created, datetime) else 0.0
    timeout = effective_polling(config.polling).job_timeout_seconds
    if status in ACTIVE_STATUSES and elapsed > timeout:
        raise JobTimedOut(f"job {job.job_name} still {status} after {int(elapsed)} s (timeout {timeout} s)")
    return dict(response), status, elapsed


def poll_job(config: RunConfig, job: JobInfo, now: datetime | None = None) -> JobStatusOutput:
    response, status, elapsed = _read_job(config, job, now)
    polling = effective_polling(config.polling)
    details = {
        name: str(value.get("status"))
        for name, value in (response.get("statusDetails") or {}).items()
        if isinstance(value, dict) and "status" in value
    }
    metrics = _metrics(config, response) if status == "Completed" else None
    return JobStatusOutput(
        status=status,
        message=str(response.get("failureMessage") or f"job {job.job_name} is {status}"),
        elapsed_seconds=int(elapsed),
        wait_seconds=next_wait(elapsed, polling.job_initial_seconds, polling.job_max_seconds),
        status_details=details,
        model_arn=response.get("outputModelArn"),
        metrics=metrics,
    )


def _metrics(config: RunConfig, response: dict[str, Any]) -> JobMetrics:
    """Losses from the job, and the metric CSVs found by listing the output prefix (their path varies)."""
    validation_metrics = response.get("validationMetrics") or []
    keys = aws.list_keys(config.bucket, naming.output_prefix(config.run_id, config.variant))
    training_key = next((key for key in keys if key.endswith("step_wise_training_metrics.csv")), None)
    validation_key = next((key for key in keys if key.endswith("validation_metrics.csv")), None)
    return JobMetrics(
        training_loss=(response.get("trainingMetrics") or {}).get("trainingLoss"),
        validation_loss=validation_metrics[0].get("validationLoss") if validation_metrics else None,
        training_csv=_metrics_file(config.bucket, training_key, "training_loss"),
        validation_csv=_metrics_file(config.bucket, validation_key, "validation_loss"),
    )


def _metrics_file(bucket: str, key: str | None, column: str) -> MetricsFile | None:
    if key is None:
        return None
    text = aws.get_text(bucket, key)
    if text is None:
        return None
    rows = list(csv.DictReader(io.StringIO(text)))
    final = rows[-1].get(column) if rows else None
    try:
        final_loss = float(final) if final not in (None, "") else None
    except ValueError:
        final_loss = None
    return MetricsFile(key=key, rows=len(rows), final_loss=final_loss)


def check_job(config: RunConfig, job: JobInfo, now: datetime | None = None) -> str | None:
    """The job's status (None: it no longer exists); JobTimedOut when it is still active past the run's timeout."""
    try:
        return _read_job(config, job, now)[1]
    except ClientError as exc:
        if aws.is_not_found(exc):
            return None
        raise


def job_status(arn: str) -> str | None:
    """The job's status, or None when it no longer exists (as ``deployment.status`` for deployments); throttling
    becomes TransientAwsError, other errors propagate."""
    try:
        with aws.transient_errors():
            return str(aws.client("bedrock").get_model_customization_job(jobIdentifier=arn).get("status"))
    except ClientError as exc:
        if aws.is_not_found(exc):
            return None
        raise


def delete_custom_model(arn: str) -> bool:
    """Delete a custom model; False when it was already gone. A model still in use by a throughput or deployment
    answers ConflictException (the local Bedrock does, as botocore models it for DeleteCustomModel): raised as
    TransientAwsError, since the user that holds it may be on its way out."""
    try:
        with aws.transient_errors():
            aws.client("bedrock").delete_custom_model(modelIdentifier=arn)
    except ClientError as exc:
        if aws.is_not_found(exc):
            return False
        if aws.error_code(exc) == "ConflictException":
            raise TransientAwsError(f"custom model {arn} is still in use: {aws.error_message(exc)}") from exc
        raise
    return True


def stop_job(arn: str, wait: aws.BusyWait) -> str | None:
    """Stop the job if it is still running; what was done, or None when it had already ended.

    StopModelCustomizationJob can answer ConflictException (botocore models it) while the job is changing state:
    then its status is read again and the stop retried within ``wait``."""
    bedrock = aws.client("bedrock")
    seen: dict[str, str] = {}

    def status() -> str | None:
        with aws.transient_errors():
            seen["status"] = str(bedrock.get_model_customization_job(jobIdentifier=arn).get("status"))
        return seen["status"]

    def attempt() -> str | None:
        current = status()
        if current != "InProgress":
            return f"job {arn} is {current}" if current == "Stopping" else None
        bedrock.stop_model_customization_job(jobIdentifier=arn)
        return f"stopped job {arn}"

    return aws.retry_while_busy(attempt, status, frozenset({"InProgress"}), wait, f"job {arn}")
