"""Finalize (success), Cleanup (every failure), the recovery of executions that ended without Cleanup, and Notify.

Cleanup is the compensating step. It cannot be derailed and it never claims more than it did:

* what the state already names (the job, the throughput or deployment) is handled first, each on its own;
* then the run's resources are looked for by the run's hash in their names, each List call on its own: one that
  fails is reported as "not checked" with the command that finds what it would have found, and the rest goes on;
* a Delete or Stop answering ConflictException (the resource is still Creating, Updating or Stopping) waits,
  polling, and retries within a bounded time;
* anything that is not gone is a *leftover* with its ARN, its state, what it costs while it runs and the one AWS CLI
  command that removes it: in ``report.json`` and in the notification;
* the dataset is never deleted: an inbox dataset is moved (copy, then removal of the inbox entry; the bucket keeps
  versions) to ``failed/``, and the report says where it really is;
* once Finalize has settled the outcome (its output is in the state, or its SUCCEEDED report exists), nothing is
  undone: no deletion, no move, no report overwritten.

Every step is safe to repeat; ``reports/<run>/cleanup.json`` records that Cleanup ran (and whether it completed), so
the recovery path for executions that ended FAILED, ABORTED or TIMED_OUT does nothing twice.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable
from typing import Any

from botocore.exceptions import ClientError
from pydantic import ValidationError

from bedrock_finetune import aws, clock, naming
from bedrock_finetune.config import INBOX_PREFIX, S3Location, StackSettings, is_s3_event, source_from_event
from bedrock_finetune.errors import CleanupIncomplete, TransientAwsError
from bedrock_finetune.logic import claims, html_report, queue, training
from bedrock_finetune.logic import deployment as deployments
from bedrock_finetune.logic.reporting import build_report, message, remove_command, subject
from bedrock_finetune.models import (
    AbortedRunCleanupOutput,
    CaughtError,
    CleanupOutput,
    DeploymentKind,
    ExecutionContext,
    ExecutionStatusChange,
    Leftover,
    LeftoverKind,
    NotifyOutput,
    ReportOutput,
    RunState,
)

REPORT_NAME = "report.json"
CLEANUP_MARKER = "cleanup.json"
#: The state machine's MaxAttempts for TransientAwsError on Cleanup (tests/workflow/test_cleanup_honest.py checks
#: the ASL). Before the last retry a transient leftover makes Cleanup fail so the state machine retries it with
#: backoff; on the last one Cleanup reports what is left instead.
CLEANUP_RETRIES = 8
#: Time one Cleanup invocation may spend waiting for busy resources (its function timeout is 900 s).
CLEANUP_WAIT_BUDGET_SECONDS = 600.0

_KIND_OF: dict[DeploymentKind, LeftoverKind] = {
    "provisioned": "provisioned-throughput",
    "on-demand": "custom-model-deployment",
}
COSTS: dict[LeftoverKind, str] = {
    "provisioned-throughput": "provisioned throughput bills hourly per model unit until deleted",
    "custom-model-deployment": (
        "no hourly charge, but every inference request on it bills per token until it is deleted"
    ),
    "model-customization-job": "training bills per token processed (tokens x epochs) until the job stops",
}


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
    """Move an inbox dataset under ``<prefix><run>/``; anything outside our inbox is left where it is.

    When the inbox entry is gone already, the dataset is looked for where this run may have moved it (``failed/``
    and ``processed/``), so a repeated or late call reports its real location."""
    if source is None:
        return None, "no dataset location known"
    if source.bucket != settings.bucket_name or not source.key.startswith(INBOX_PREFIX):
        return source.uri, f"left {source.uri} in place (only inbox/ objects are moved)"
    current = source.model_copy(update={"version_id": None})
    target_key = f"{prefix}{run}/{source.file_name}"
    target = S3Location(bucket=settings.bucket_name, key=target_key)
    head = aws.head_object(current)
    if head is None:
        for moved in (target, *_other_homes(settings, run, source, prefix)):
            if _exists(moved):
                return moved.uri, f"dataset already at {moved.uri}"
        return None, f"{source.uri} no longer exists and is not in processed/{run}/ or failed/{run}/"
    aws.copy_object(current, settings.bucket_name, target_key, int(head["ContentLength"]))
    aws.delete_object(current)
    return target.uri, f"moved {source.uri} to {target.uri}"


def _exists(location: S3Location) -> bool:
    """Whether the object exists; an answer other than found / not found (e.g. AccessDenied) counts as not found."""
    try:
        return aws.head_object(location) is not None
    except ClientError:
        return False


def _other_homes(settings: StackSettings, run: str, source: S3Location, prefix: str) -> list[S3Location]:
    return [
        S3Location(bucket=settings.bucket_name, key=f"{other}{run}/{source.file_name}")
        for other in ("processed/", "failed/")
        if other != prefix
    ]


def _unwritten(summary: dict[str, Any], what: str, exc: ClientError) -> None:
    """Record a write Cleanup could not make (the summary is the report's ``cleanup`` section, shared by reference)."""
    problem = f"{what} ({aws.error_code(exc) or aws.http_status(exc)})"
    summary["problems"].append(problem)


def _write_report(settings: StackSettings, run: str, report: dict[str, Any], extra_key: str | None) -> str:
    """report.json (and a copy at ``extra_key``), then the HTML page next to it. The page is best effort: its
    inputs are read first (what could not be read is named in ``report.htmlReport``), and it is written only after
    report.json; neither step of the page ever raises."""
    page_inputs = html_report.prepare(settings.bucket_name, run, report)
    body = json.dumps(report, indent=2, default=str)
    key = naming.report_key(run, REPORT_NAME)
    aws.put_json(settings.bucket_name, key, body)
    if extra_key:
        aws.put_json(settings.bucket_name, extra_key, body)
    html_report.publish(settings.bucket_name, run, report, page_inputs)
    return f"s3://{settings.bucket_name}/{key}"


def _read_json(settings: StackSettings, key: str) -> dict[str, Any] | None:
    """A JSON object of the bucket, None when it does not exist (or is not a JSON object)."""
    return aws.json_object(aws.get_text(settings.bucket_name, key))


def finalize(state: RunState, execution: ExecutionContext, settings: StackSettings) -> ReportOutput:
    run = naming.run_id(execution.name)
    if state.claim is not None and state.config is not None:
        # The claim now stands for a trained model: the same content and settings will not train again.
        model_arn = state.job_status.model_arn if state.job_status else None
        claims.complete(state.claim, state.config, model_arn, settings)
    if state.config is not None and state.job is None and settings.training_table_name:
        # A run that never asked for a job slot (a duplicate of a trained run) gives up its place in the queue.
        queue.leave(settings.training_table_name, queue.queue_key(state.config), state.config.execution_arn)
    final_uri, _ = move_dataset(dataset_source(state, execution), settings, run, "processed/")
    report = build_report(state, execution, outcome="SUCCEEDED", dataset_uri=final_uri)
    return ReportOutput(report=report, report_uri=_write_report(settings, run, report, None), dataset_uri=final_uri)


# --- Cleanup ----------------------------------------------------------------------------------------------------------
_FIND_COMMANDS: dict[LeftoverKind, str] = {
    "provisioned-throughput": "list-provisioned-model-throughputs",
    "custom-model-deployment": "list-custom-model-deployments",
    "model-customization-job": "list-model-customization-jobs",
}


class _Ledger:
    """What Cleanup did, what is left and why; each action runs on its own, so one failure never stops the rest."""

    def __init__(self, wait: aws.BusyWait) -> None:
        self.wait = wait
        self.actions: list[str] = []
        self.leftovers: list[Leftover] = []
        self.problems: list[str] = []
        self.deleted: list[str] = []
        self.handled: set[str] = set()
        self.retry_may_help = False

    def failed(self, exc: Exception) -> str:
        if isinstance(exc, TransientAwsError):
            self.retry_may_help = True
            return str(exc)
        if isinstance(exc, ClientError):
            return f"{getattr(exc, 'operation_name', 'call')} answered {aws.error_code(exc)}"
        return type(exc).__name__

    def stop_job(self, arn: str) -> None:
        if arn in self.handled:
            return
        self.handled.add(arn)
        try:
            done = training.stop_job(arn, self.wait)
        except (ClientError, TransientAwsError) as exc:
            reason = self.failed(exc)
            state = getattr(exc, "status", None) or _job_status(arn)
            if state in ("Completed", "Failed", "Stopped"):
                return  # it ended meanwhile: nothing runs
            self._leftover("model-customization-job", arn, state, reason)
            return
        if done:
            self.actions.append(done)

    def delete(self, kind: DeploymentKind, arn: str) -> None:
        if arn in self.handled:
            return
        self.handled.add(arn)
        try:
            deleted = deployments.delete(kind, arn, self.wait)
        except (ClientError, TransientAwsError) as exc:
            reason = self.failed(exc)
            state = getattr(exc, "status", None) or _deployment_status(kind, arn)
            if state == "gone":
                return
            self._leftover(_KIND_OF[kind], arn, state, reason)
            return
        if deleted:
            self.deleted.append(arn)
            self.actions.append(f"deleted {kind} {arn}")

    def _leftover(self, kind: LeftoverKind, arn: str, state: str, reason: str) -> None:
        self.leftovers.append(
            Leftover(
                kind=kind, arn=arn, state=state, cost=COSTS[kind], command=remove_command(kind, arn), reason=reason
            )
        )

    def discover(self, kind: LeftoverKind, run_hash: str, find: Callable[[], Iterable[str]]) -> list[str]:
        """ARNs that ``find`` lists; a failing List is a leftover of unknown ARN with the command that finds it."""
        try:
            with aws.transient_errors():
                return sorted(set(find()))
        except (ClientError, TransientAwsError) as exc:
            reason = self.failed(exc)
            self.leftovers.append(
                Leftover(
                    kind=kind,
                    arn=None,
                    state="not checked",
                    cost=COSTS[kind],
                    command=f"aws bedrock {_FIND_COMMANDS[kind]} --name-contains {run_hash}",
                    reason=f"could not look for this run's {kind}s: {reason}",
                )
            )
            return []


def _job_status(arn: str) -> str:
    try:
        return training.job_status(arn) or "Stopped"
    except (ClientError, TransientAwsError):
        return "unknown (its status could not be read)"


def _deployment_status(kind: DeploymentKind, arn: str) -> str:
    try:
        return deployments.status(kind, arn) or "gone"
    except (ClientError, TransientAwsError):
        return "unknown (its status could not be read)"


def _list_jobs(run_hash: str) -> list[str]:
    paginator = aws.client("bedrock").get_paginator("list_model_customization_jobs")
    return [
        item["jobArn"]
        for page in paginator.paginate(nameContains=run_hash)
        for item in page.get("modelCustomizationJobSummaries", [])
        if item.get("status") in training.ACTIVE_STATUSES
    ]


def _list_throughputs(run_hash: str) -> list[str]:
    paginator = aws.client("bedrock").get_paginator("list_provisioned_model_throughputs")
    return [
        item["provisionedModelArn"]
        for page in paginator.paginate(nameContains=run_hash)
        for item in page.get("provisionedModelSummaries", [])
    ]


def _list_deployments(run_hash: str) -> list[str]:
    paginator = aws.client("bedrock").get_paginator("list_custom_model_deployments")
    return [
        item["customModelDeploymentArn"]
        for page in paginator.paginate(nameContains=run_hash)
        for item in page.get("modelDeploymentSummaries", [])
    ]


def settled_report(state: RunState, execution: ExecutionContext, settings: StackSettings) -> dict[str, Any] | None:
    """The run's SUCCEEDED report when Finalize settled the outcome (its output is in the state, or its report for
    this execution exists), else None."""
    final = state.final or {}
    if isinstance(final.get("report"), dict) and final["report"].get("outcome") == "SUCCEEDED":
        return dict(final["report"])
    try:
        report = _read_json(settings, naming.report_key(naming.run_id(execution.name), REPORT_NAME))
    except (ClientError, TransientAwsError):
        return None  # unreadable: not proven settled
    if report and report.get("outcome") == "SUCCEEDED" and report.get("executionArn") == execution.id:
        return report
    return None


def cleanup(
    state: RunState,
    execution: ExecutionContext,
    settings: StackSettings,
    *,
    attempt: int | None = 0,
    known: Iterable[tuple[LeftoverKind, str]] = (),
    final_attempt: bool | None = None,
) -> CleanupOutput:
    """Clean up after a failed run (see the module docstring). ``attempt`` is ``$$.State.RetryCount``; ``known``
    adds ARNs found elsewhere (a previous incomplete cleanup); ``final_attempt`` overrides the retry decision."""
    run = naming.run_id(execution.name)
    settled = settled_report(state, execution, settings)
    if settled is not None:
        return _settled(settled, execution, settings, run)

    run_hash = naming.run_hash(execution.id)
    polling = training.effective_polling(state.config.polling) if state.config else None
    ledger = _Ledger(
        aws.BusyWait(
            initial_seconds=polling.deployment_initial_seconds if polling else settings.deployment_poll_initial_seconds,
            max_seconds=polling.deployment_max_seconds if polling else settings.deployment_poll_max_seconds,
            budget_seconds=CLEANUP_WAIT_BUDGET_SECONDS,
        )
    )

    # 1. What the state names, each on its own.
    if state.job:
        ledger.stop_job(state.job.job_arn)
    if state.deployment:
        ledger.delete(state.deployment.mode, state.deployment.arn)
    for kind, arn in known:
        if kind == "model-customization-job":
            ledger.stop_job(arn)
        else:
            ledger.delete("provisioned" if kind == "provisioned-throughput" else "on-demand", arn)

    # 2. What a step may have created without returning it: found by the run's hash, each List on its own.
    for arn in ledger.discover("model-customization-job", run_hash, lambda: _list_jobs(run_hash)):
        ledger.stop_job(arn)
    for arn in ledger.discover("provisioned-throughput", run_hash, lambda: _list_throughputs(run_hash)):
        ledger.delete("provisioned", arn)
    for arn in ledger.discover("custom-model-deployment", run_hash, lambda: _list_deployments(run_hash)):
        ledger.delete("on-demand", arn)

    # 3. The training claim and the queue entry: released, so a retry of the same content can train and the runs
    # behind in the queue move up; kept while a job of this run may still be running (it expires with its TTL).
    _release_claim(ledger, run, execution, settings)

    # 4. The dataset: moved to failed/ when it was dropped into the inbox, never deleted.
    source = dataset_source(state, execution)
    final_uri = _quarantine(ledger, source, settings, run)

    # 5. The report (and a copy next to the quarantined dataset) and the marker.
    complete = not ledger.leftovers and not ledger.problems
    summary = {
        "complete": complete,
        "actions": ledger.actions,
        "deleted": ledger.deleted,
        "leftovers": [item.model_dump(mode="json", by_alias=True) for item in ledger.leftovers],
        "problems": ledger.problems,
    }
    report = build_report(
        state,
        execution,
        outcome="FAILED",
        dataset_uri=final_uri,
        source_uri=source.uri if source else None,
        validation_report=_validation_report(settings, run, state),
        cleanup=summary,
    )
    quarantined = final_uri is not None and final_uri.startswith(f"s3://{settings.bucket_name}/failed/")
    # A report or marker that cannot be written (a permanent S3 refusal) must not hide what Cleanup did: the
    # notification is built from this output. Transient errors still raise (TransientAwsError) and are retried.
    report_uri = f"s3://{settings.bucket_name}/{naming.report_key(run, REPORT_NAME)}"
    try:
        report_uri = _write_report(settings, run, report, f"failed/{run}/{REPORT_NAME}" if quarantined else None)
    except ClientError as exc:
        _unwritten(summary, f"the report could not be written to {report_uri}", exc)
        report_uri = f"(not written: {aws.error_code(exc) or aws.http_status(exc)})"
    try:
        _write_marker(settings, run, execution, complete=complete, settled=False, summary=summary)
    except ClientError as exc:
        _unwritten(summary, "the cleanup marker could not be written (the recovery path may clean up again)", exc)

    last = final_attempt if final_attempt is not None else (attempt is not None and attempt >= CLEANUP_RETRIES)
    if ledger.retry_may_help and not last:
        what = "; ".join(item.reason for item in ledger.leftovers) or "; ".join(ledger.problems)
        raise TransientAwsError(f"cleanup incomplete, retrying: {what} (report: {report_uri})")
    return CleanupOutput(
        report=report,
        report_uri=report_uri,
        dataset_uri=final_uri,
        complete=complete,
        actions=ledger.actions,
        leftovers=ledger.leftovers,
        problems=ledger.problems,
    )


def _release_claim(ledger: _Ledger, run: str, execution: ExecutionContext, settings: StackSettings) -> None:
    if any(item.kind == "model-customization-job" for item in ledger.leftovers):
        ledger.problems.append("the training claim was kept: a job of this run may still be running")
        return
    try:
        ledger.actions.extend(claims.release(run, execution.id, settings))
    except (ClientError, TransientAwsError) as exc:
        ledger.problems.append(f"the training claim or queue entry could not be released ({ledger.failed(exc)})")


def _quarantine(ledger: _Ledger, source: S3Location | None, settings: StackSettings, run: str) -> str | None:
    try:
        final_uri, note = move_dataset(source, settings, run, "failed/")
    except (ClientError, TransientAwsError) as exc:
        reason = ledger.failed(exc)
        where = _still_at(source)
        ledger.problems.append(f"dataset not moved to failed/{run}/ ({reason}); it is still at {where}")
        return where
    if final_uri is None and source is not None:
        ledger.problems.append(f"dataset: {note}")
    elif final_uri is None:
        ledger.actions.append(f"dataset: {note}")
    else:
        ledger.actions.append(note)
    return final_uri


def _still_at(source: S3Location | None) -> str | None:
    if source is None:
        return None
    try:
        exists = aws.head_object(source.model_copy(update={"version_id": None})) is not None
    except (ClientError, TransientAwsError):
        return f"{source.uri} (probably: it could not be checked)"
    return source.uri if exists else None


def _settled(report: dict[str, Any], execution: ExecutionContext, settings: StackSettings, run: str) -> CleanupOutput:
    """The outcome was settled by Finalize: nothing is stopped, deleted, moved or rewritten."""
    action = (
        "the run's outcome was already settled (SUCCEEDED, report written by Finalize): "
        "nothing was stopped, deleted, moved or rewritten"
    )
    _write_marker(settings, run, execution, complete=True, settled=True, summary={"actions": [action]})
    dataset = report.get("dataset") or {}
    return CleanupOutput(
        report=report,
        report_uri=f"s3://{settings.bucket_name}/{naming.report_key(run, REPORT_NAME)}",
        dataset_uri=dataset.get("finalUri"),
        complete=True,
        actions=[action],
        leftovers=[],
    )


def _write_marker(
    settings: StackSettings,
    run: str,
    execution: ExecutionContext,
    *,
    complete: bool,
    settled: bool,
    summary: dict[str, Any],
) -> None:
    marker = {
        "executionArn": execution.id,
        "complete": complete,
        "settled": settled,
        "finishedAt": clock.now().isoformat(),
        **{key: value for key, value in summary.items() if key in ("actions", "leftovers", "problems")},
    }
    aws.put_json(settings.bucket_name, naming.report_key(run, CLEANUP_MARKER), json.dumps(marker, indent=2))


def _validation_report(settings: StackSettings, run: str, state: RunState) -> dict[str, Any] | None:
    """The validator's report when the dataset was rejected (so its errors reach failed/ and the notification)."""
    if state.validation is not None or state.error is None or state.error.Error != "DatasetInvalid":
        return None
    try:
        text = aws.get_text(settings.bucket_name, naming.report_key(run, naming.VALIDATION_REPORT))
    except (ClientError, TransientAwsError):
        return None
    return json.loads(text) if text else None


# --- an execution that ended without its Catch (FAILED, ABORTED or TIMED_OUT) ---------------------------------------
_RECOVERY_ERRORS = {"TIMED_OUT": "ExecutionTimedOut", "ABORTED": "ExecutionAborted", "FAILED": "ExecutionFailed"}


def cleanup_aborted(change: ExecutionStatusChange, settings: StackSettings) -> AbortedRunCleanupOutput:
    """The recovery path: what Cleanup would have done, for a run whose state machine never completed it; then the
    notification. Started by EventBridge's execution status change event, at least once: it does nothing when the
    run's own Cleanup already completed (``cleanup.json``), and undoes nothing once Finalize settled the outcome.

    The state is lost with the execution, so resources are found by the run's name hash, the original input, and
    the leftovers of an earlier incomplete cleanup."""
    try:
        raw_input = json.loads(change.input) if change.input else None
    except json.JSONDecodeError:
        raw_input = None
    execution = ExecutionContext(
        id=change.execution_arn, name=change.name, input=raw_input if isinstance(raw_input, dict) else None
    )
    run = naming.run_id(change.name)
    marker = _read_json(settings, naming.report_key(run, CLEANUP_MARKER))
    ours = marker is not None and marker.get("executionArn") == change.execution_arn
    if ours and marker is not None and (marker.get("complete") or change.status == "FAILED"):
        # Complete, or the run went on from its (last) Cleanup attempt to NotifyFailure and its Fail state, which
        # already told what is left: a second cleanup would change nothing but send the same news again.
        how = "settled" if marker.get("settled") else "cleaned" if marker.get("complete") else "incomplete, notified"
        return AbortedRunCleanupOutput(
            cleanup=None, leftovers=[], notification=None, skipped=f"the run's own cleanup already ran ({how})"
        )
    error = _RECOVERY_ERRORS.get(change.status, "ExecutionFailed")
    detail = f" ({change.error}: {change.cause})" if change.error else ""
    state = RunState(
        error=CaughtError(Error=error, Cause=f"the execution ended {change.status}{detail} before its cleanup ran")
    )
    known = [
        (item["kind"], item["arn"])
        for item in (marker or {}).get("leftovers", [])
        if ours and isinstance(item, dict) and item.get("arn") and item.get("kind") in COSTS
    ]
    result = cleanup(state, execution, settings, known=known, final_attempt=True)
    report = dict(result.report)
    if result.actions and result.actions[0].startswith("the run's outcome was already settled"):
        report["lateError"] = {"error": error, "cause": state.error.Cause if state.error else None}
    sent = notify(report, settings)
    if result.leftovers:
        # Fails the invocation so that Lambda retries it (then the dead-letter queue keeps the event).
        raise CleanupIncomplete("; ".join(f"{item.kind} {item.arn or ''}: {item.reason}" for item in result.leftovers))
    return AbortedRunCleanupOutput(cleanup=result, leftovers=result.leftovers, notification=sent)


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
    """NotifyFailure's report: Cleanup's, or, when Cleanup itself failed, one rebuilt from the state that still names
    everything the run may have left running (with the commands that remove or find it) and where the dataset may
    be. A settled run's report (Finalize done, a later step failed) keeps its outcome and says what failed later."""
    if state.cleanup and isinstance(state.cleanup.get("report"), dict):
        report = dict(state.cleanup["report"])
        if report.get("outcome") == "SUCCEEDED" and state.error is not None:
            report["lateError"] = {"error": state.error.Error, "cause": state.error.Cause}
        return report
    report = build_report(state, execution, outcome="FAILED", dataset_uri=None)
    run, run_hash = naming.run_id(execution.name), naming.run_hash(execution.id)
    source = dataset_source(state, execution)
    if source is not None and source.key.startswith(INBOX_PREFIX):
        report["dataset"]["note"] = (
            f"not known: Cleanup failed before it could say; the dataset is at {source.uri} "
            f"or s3://{source.bucket}/failed/{run}/{source.file_name} (it is never deleted)"
        )
    elif source is not None:
        report["dataset"]["note"] = f"left in place at {source.uri} (only inbox/ objects are moved)"
    leftovers: list[Leftover] = []
    if state.job and (state.job_status is None or state.job_status.status in training.ACTIVE_STATUSES):
        arn = state.job.job_arn
        leftovers.append(_unconfirmed("model-customization-job", arn))
    if state.deployment and not (state.release and state.release.arn == state.deployment.arn):
        leftovers.append(_unconfirmed(_KIND_OF[state.deployment.mode], state.deployment.arn))
    for kind, find in _FIND_COMMANDS.items():
        leftovers.append(
            Leftover(
                kind=kind,
                arn=None,
                state="not checked",
                cost=COSTS[kind],
                command=f"aws bedrock {find} --name-contains {run_hash}",
                reason="Cleanup failed before it could look for this run's resources",
            )
        )
    report["cleanup"] = {
        "complete": False,
        "error": state.cleanup_error.Error if state.cleanup_error else "CleanupNotRun",
        "cause": state.cleanup_error.Cause if state.cleanup_error else None,
        "actions": [],
        "leftovers": [item.model_dump(mode="json", by_alias=True) for item in leftovers],
        "problems": ["Cleanup failed: nothing it would have done can be confirmed"],
    }
    return report


def _unconfirmed(kind: LeftoverKind, arn: str) -> Leftover:
    return Leftover(
        kind=kind,
        arn=arn,
        state="unknown (Cleanup failed before it could stop or delete it)",
        cost=COSTS[kind],
        command=remove_command(kind, arn),
        reason="Cleanup failed",
    )
