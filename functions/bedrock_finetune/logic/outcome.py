"""Finalize (success), Cleanup (every failure) and Notify.

Cleanup is the compensating step: it stops a job still running, deletes throughput and deployments this run created
(found from the state and, in case a step died before returning, by the run's hash in their names), moves an inbox
dataset to ``failed/`` with a report next to it, and never deletes a dataset: a move is a copy then the removal of
the inbox entry, and the bucket keeps versions. Everything is safe to repeat, so the ASL may retry it.
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from bedrock_finetune import aws, naming
from bedrock_finetune.config import INBOX_PREFIX, S3Location, StackSettings, is_s3_event, source_from_event
from bedrock_finetune.errors import CleanupIncomplete
from bedrock_finetune.logic import deployment as deployments
from bedrock_finetune.logic.reporting import build_report, message, subject
from bedrock_finetune.models import (
    AbortedRunCleanupOutput,
    CaughtError,
    CleanupOutput,
    DeploymentKind,
    ExecutionContext,
    ExecutionStatusChange,
    NotifyOutput,
    ReportOutput,
    RunState,
)

REPORT_NAME = "report.json"


def parse_state(raw: dict[str, Any]) -> RunState:
    """The state as far as it can be read: a part that does not parse is left out rather than failing cleanup."""
    try:
        return RunState.model_validate(raw)
    except ValidationError as exc:
        broken = {str(error["loc"][0]) for error in exc.errors() if error["loc"]}
        return RunState.model_validate({key: value for key, value in raw.items() if key not in broken})


def dataset_source(state: RunState, execution: ExecutionContext) -> S3Location | None:
    """Where the dataset is: from the config, else (config invalid) from the execution's original input."""
    if state.config is not None:
        return state.config.source
    raw = execution.input or {}
    try:
        if is_s3_event(raw):
            return source_from_event(raw)
        uri = raw.get("datasetUri")
        return S3Location.from_uri(uri, field="datasetUri") if isinstance(uri, str) else None
    except (ValueError, KeyError, TypeError):
        return None


def move_dataset(source: S3Location | None, settings: StackSettings, run: str, prefix: str) -> tuple[str | None, str]:
    """Move an inbox dataset under ``<prefix><run>/``; anything outside our inbox is left where it is."""
    if source is None:
        return None, "no dataset location known"
    if source.bucket != settings.bucket_name or not source.key.startswith(INBOX_PREFIX):
        return source.uri, f"left {source.uri} in place (only inbox/ objects are moved)"
    target_key = f"{prefix}{run}/{source.file_name}"
    target = S3Location(bucket=settings.bucket_name, key=target_key)
    head = aws.head_object(source.model_copy(update={"version_id": None}))
    if head is None:
        if aws.head_object(target) is not None:
            return target.uri, f"dataset already at {target.uri}"
        return None, f"{source.uri} no longer exists"
    aws.copy_object(
        source.model_copy(update={"version_id": None}), settings.bucket_name, target_key, int(head["ContentLength"])
    )
    aws.delete_object(source.model_copy(update={"version_id": None}))
    return target.uri, f"moved {source.uri} to {target.uri}"


def _write_report(settings: StackSettings, run: str, report: dict[str, Any], extra_key: str | None) -> str:
    body = json.dumps(report, indent=2, default=str)
    key = naming.report_key(run, REPORT_NAME)
    aws.put_json(settings.bucket_name, key, body)
    if extra_key:
        aws.put_json(settings.bucket_name, extra_key, body)
    return f"s3://{settings.bucket_name}/{key}"


def finalize(state: RunState, execution: ExecutionContext, settings: StackSettings) -> ReportOutput:
    run = naming.run_id(execution.name)
    final_uri, _ = move_dataset(dataset_source(state, execution), settings, run, "processed/")
    report = build_report(state, execution, outcome="SUCCEEDED", dataset_uri=final_uri)
    return ReportOutput(report=report, report_uri=_write_report(settings, run, report, None), dataset_uri=final_uri)


# --- Cleanup ----------------------------------------------------------------------------------------------------------
class _Ledger:
    def __init__(self) -> None:
        self.actions: list[str] = []
        self.leftovers: list[str] = []

    def attempt(self, what: str, action: Any) -> None:
        """Run one cleanup action; transient errors propagate (the ASL retries Cleanup), others are recorded."""
        try:
            result = action()
        except ClientError as exc:
            self.leftovers.append(f"{what}: {aws.error_code(exc)}")
            return
        if result:
            self.actions.append(str(result))


def cleanup(state: RunState, execution: ExecutionContext, settings: StackSettings) -> CleanupOutput:
    run = naming.run_id(execution.name)
    run_hash = naming.run_hash(execution.id)
    ledger = _Ledger()
    bedrock = aws.client("bedrock")

    job_arns = {state.job.job_arn} if state.job else set()
    with aws.transient_errors():
        for page in bedrock.get_paginator("list_model_customization_jobs").paginate(nameContains=run_hash):
            job_arns.update(item["jobArn"] for item in page.get("modelCustomizationJobSummaries", []))
    for arn in sorted(job_arns):
        ledger.attempt(f"job {arn}", lambda arn=arn: _stop_job(arn))

    for kind, arn in sorted(_deployments(state, run_hash)):
        ledger.attempt(
            f"{kind} {arn}",
            lambda kind=kind, arn=arn: f"deleted {kind} {arn}" if deployments.delete(kind, arn) else None,
        )

    final_uri = None
    source = dataset_source(state, execution)

    def quarantine() -> str:
        nonlocal final_uri
        final_uri, note = move_dataset(source, settings, run, "failed/")
        return note

    ledger.attempt("dataset", quarantine)
    validation_report = _validation_report(settings, run, state)
    summary = {"actions": ledger.actions, "leftovers": ledger.leftovers}
    report = build_report(
        state,
        execution,
        outcome="FAILED",
        dataset_uri=final_uri,
        source_uri=source.uri if source else None,
        validation_report=validation_report,
        cleanup=summary,
    )
    report_uri = _write_report(settings, run, report, f"failed/{run}/{REPORT_NAME}")
    if ledger.leftovers:
        raise CleanupIncomplete("could not clean up: " + "; ".join(ledger.leftovers) + f" (report: {report_uri})")
    return CleanupOutput(
        report=report,
        report_uri=report_uri,
        dataset_uri=final_uri,
        actions=ledger.actions,
        leftovers=ledger.leftovers,
    )


def _stop_job(arn: str) -> str | None:
    bedrock = aws.client("bedrock")
    with aws.transient_errors():
        status = bedrock.get_model_customization_job(jobIdentifier=arn).get("status")
        if status != "InProgress":
            return f"job {arn} is {status}" if status == "Stopping" else None
        bedrock.stop_model_customization_job(jobIdentifier=arn)
    return f"stopped job {arn}"


def _deployments(state: RunState, run_hash: str) -> set[tuple[DeploymentKind, str]]:
    """This run's throughput and deployments: the one in the state, and any whose name carries the run's hash."""
    found: set[tuple[DeploymentKind, str]] = set()
    if state.deployment:
        found.add((state.deployment.mode, state.deployment.arn))
    bedrock = aws.client("bedrock")
    with aws.transient_errors():
        for page in bedrock.get_paginator("list_provisioned_model_throughputs").paginate(nameContains=run_hash):
            found.update(("provisioned", item["provisionedModelArn"]) for item in page["provisionedModelSummaries"])
        for page in bedrock.get_paginator("list_custom_model_deployments").paginate(nameContains=run_hash):
            found.update(("on-demand", item["customModelDeploymentArn"]) for item in page["modelDeploymentSummaries"])
    return found


def _validation_report(settings: StackSettings, run: str, state: RunState) -> dict[str, Any] | None:
    """The validator's report when the dataset was rejected (so its errors reach failed/ and the notification)."""
    if state.validation is not None or state.error is None or state.error.Error != "DatasetInvalid":
        return None
    text = aws.get_text(settings.bucket_name, naming.report_key(run, naming.VALIDATION_REPORT))
    return json.loads(text) if text else None


# --- an execution that ended without its Catch (aborted by hand, or timed out) ------------------------------------
def cleanup_aborted(change: ExecutionStatusChange, settings: StackSettings) -> AbortedRunCleanupOutput:
    """What Cleanup would have done, for a run whose state machine never reached it; then the notification.

    The state is lost with the execution, so everything is found from the run's name hash and original input."""
    try:
        raw_input = json.loads(change.input) if change.input else None
    except json.JSONDecodeError:
        raw_input = None
    execution = ExecutionContext(
        id=change.execution_arn, name=change.name, input=raw_input if isinstance(raw_input, dict) else None
    )
    error = "ExecutionTimedOut" if change.status == "TIMED_OUT" else "ExecutionAborted"
    state = RunState(
        error=CaughtError(Error=error, Cause=f"the execution ended {change.status} before its cleanup ran")
    )
    try:
        result: CleanupOutput | None = cleanup(state, execution, settings)
        report = result.report if result else {}
        leftovers: list[str] = []
    except CleanupIncomplete as exc:
        result = None
        report = build_report(state, execution, outcome="FAILED", dataset_uri=None)
        leftovers = [str(exc)]
        report["cleanup"] = {"error": "CleanupIncomplete", "cause": str(exc)}
    sent = notify(report, settings)
    if leftovers:
        raise CleanupIncomplete(leftovers[0])
    return AbortedRunCleanupOutput(cleanup=result, leftovers=leftovers, notification=sent)


# --- Notify -----------------------------------------------------------------------------------------------------------
def notify(report: dict[str, Any], settings: StackSettings) -> NotifyOutput:
    title = subject(report)
    with aws.transient_errors():
        response = aws.client("sns").publish(
            TopicArn=settings.topic_arn,
            Subject=title,
            Message=message(report),
            MessageAttributes={"outcome": {"DataType": "String", "StringValue": str(report.get("outcome"))}},
        )
    return NotifyOutput(message_id=response["MessageId"], subject=title)


def failure_report(state: RunState, execution: ExecutionContext) -> dict[str, Any]:
    """Notify's report when Cleanup did not produce one (Cleanup itself failed)."""
    if state.cleanup and isinstance(state.cleanup.get("report"), dict):
        return dict(state.cleanup["report"])
    report = build_report(state, execution, outcome="FAILED", dataset_uri=None)
    if state.cleanup_error:
        report["cleanup"] = {"error": state.cleanup_error.Error, "cause": state.cleanup_error.Cause}
    return report
