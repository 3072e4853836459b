"""Run the real workflow locally: deploy template.yaml into moto, drop a dataset into the inbox (or start from the
console input), let the real state machine run the real handlers, and report what happened and what is left.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import re
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

import boto3
from botocore.exceptions import ClientError
from moto import mock_aws
from moto.sns.models import sns_backends

from bedrock_finetune import aws as lambda_aws
from bedrock_finetune.config import METADATA_KEY
from bedrock_finetune_local import aws as local_aws
from bedrock_finetune_local import seams, stack
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.aws import faults as local_faults
from bedrock_finetune_local.aws import iam as local_iam
from bedrock_finetune_local.clock import CLOCK

Via = Literal["inbox", "console"]
Status = Literal["SUCCEEDED", "FAILED", "TIMED_OUT", "NO_EXECUTION", "ABORTED"]

NO_EXECUTION_GRACE_SECONDS = 1.5
HISTORY_INTERVAL_SECONDS = 0.4


@dataclass
class RunOptions:
    dataset: Path
    config: dict[str, Any] | None = None
    via: Via = "inbox"
    key: str | None = None
    job_outcome: str = "Completed"
    # The simulated duration of each training job (None: the local Bedrock's formula from data size, epochs and
    # model; see local_bedrock.job_duration_seconds).
    job_duration_seconds: float | None = None
    # The local Bedrock publishes no job state change events (EventBridge delivers them best effort).
    drop_events: bool = False
    deploy_outcome: str = "InService"
    runtime_answer: str = "normal"
    faults: list[str] = field(default_factory=list)
    stack_parameters: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] | None = None
    timeout_seconds: float = 180.0
    # Stop the executions still running this many simulated seconds after the drops (StopExecution, as a person
    # would in the console); None: never.
    stop_after_seconds: float | None = None
    # Changes the translated template before the local deploy (tests take one permission out this way).
    template_edit: Callable[[dict[str, Any]], None] | None = None
    # Dropped (or started) after ``dataset``, in order, into the same local account.
    extra_datasets: list[Path] = field(default_factory=list)
    # How many times EventBridge delivers each inbox event (at least once: duplicates happen).
    deliveries: int = 1
    # The local Bedrock's concurrent customization job quota (None: the local Bedrock's default).
    job_quota: int | None = None
    # Fire the reconciler's schedule once after the executions end, as it would on AWS.
    reconcile: bool = True
    # Fire the Price List refresh's schedule once after the deploy, before the drops (as its first run after a deploy
    # would), when the stack's PriceRefreshSchedule is not "off". ``faults`` are the run's: they do not apply to it;
    # ``price_refresh_faults`` apply to it alone (same syntax).
    refresh_prices: bool = True
    price_refresh_faults: list[str] = field(default_factory=list)
    # The local Price List's prices by usagetype, in the product's unit (a price the table does not know yet).
    price_list_prices: dict[str, float] = field(default_factory=dict)
    # Jobs whose name contains one of these end Failed (e.g. "-s1v2-": one sweep variant fails).
    failing_jobs: list[str] = field(default_factory=list)
    # Executions started after the drops' executions ended, one after the other, in the same local account:
    # ``{"stateMachine": "<logical id>", "input": {...}}`` with ``{{run.N.runId}}``, ``{{run.N.modelArn}}`` and
    # ``{{run.N.deploymentArn}}`` referring to earlier executions (0-based, in order).
    then: list[dict[str, Any]] = field(default_factory=list)
    # The stack's name in the local account (physical names derive from it).
    stack_name: str = "bedrock-finetune-local"

    @property
    def all_datasets(self) -> list[Path]:
        return [self.dataset, *self.extra_datasets]


@dataclass
class StateLine:
    """One state of the timeline: entered, how it ended, how long it took."""

    name: str
    outcome: str
    seconds: float
    detail: str = ""


@dataclass
class RunResult:
    status: Status
    states: list[str]
    timeline: list[StateLine]
    error: dict[str, str] | None
    resources: dict[str, list[dict[str, Any]]]
    dataset_uri: str | None
    report: dict[str, Any] | None
    notifications: list[str]
    notification_messages: list[str]
    faults_fired: dict[str, int]
    jobs_created: int
    execution_arn: str | None
    bucket: str
    log_file: str
    seconds: float
    # Calls the local IAM refused (principal, action, resource, operation, message), in order.
    access_denied: list[dict[str, str]] = field(default_factory=list)
    # What allowed each authorized call (the permission-removal tests enumerate these).
    grants: list[local_iam.Grant] = field(default_factory=list)
    # (service, operation) of every call the workflow's principals made
    workflow_operations: list[tuple[str, str]] = field(default_factory=list)
    # Every execution of the state machine in the local account (duplicate deliveries start more than one per drop).
    executions_started: int = 0
    # The most customization jobs InProgress at once, as the local Bedrock saw them.
    max_concurrent_jobs: int = 0
    # What the reconciler's scheduled sweep did after the executions ended (its output, or its error).
    reconciler: dict[str, Any] | None = None
    # What the Price List refresh's schedule did before the drops (its output, or its error); None: not fired.
    price_refresh: dict[str, Any] | None = None
    # The state machine (logical id) the execution ran on.
    state_machine: str = "FineTuneStateMachine"
    # A local folder holding copies of the run's reports/<run>/ objects (report.json, report.html, ...), next to the
    # log file; None when the run wrote none.
    artifacts_dir: str | None = None
    # What waiting cost, on the virtual clock (see ExecutionClock).
    clock: ExecutionClock | None = None

    def to_json(self) -> dict[str, Any]:
        measured = self.clock or ExecutionClock()
        return {
            "status": self.status,
            "transitions": measured.transitions,
            "detection_lag_seconds": measured.detection_lag_seconds,
            "simulated_seconds": measured.simulated_seconds,
            "jobs": measured.jobs,
            "states": self.states,
            "error": self.error,
            "resources": self.resources,
            "dataset": {"s3_uri": self.dataset_uri},
            "report": self.report,
            "notifications": self.notifications,
            "faults_fired": self.faults_fired,
            "access_denied": self.access_denied,
            "executions_started": self.executions_started,
            "max_concurrent_jobs": self.max_concurrent_jobs,
            "reconciler": self.reconciler,
            "price_refresh": self.price_refresh,
            "artifacts_dir": self.artifacts_dir,
        }


@dataclass
class ExecutionClock:
    """An execution measured on the virtual clock.

    * ``transitions``: state transitions as Step Functions bills them (AWS Step Functions pricing: "a state
      transition each time a step of your workflow is executed", retries included): every state entered, plus every
      retry of a Task (a Task scheduled again within one entry). A Distributed Map's child executions bill their own.
    * ``detection_lag_seconds``: for each training job the execution created (CreateCustomizationJob), the simulated
      time from the job reaching its final status to the first state the workflow entered after it; the largest.
    * ``simulated_seconds``: from the execution's start to its stop.
    """

    transitions: int | None = None
    detection_lag_seconds: float | None = None
    simulated_seconds: float | None = None
    jobs: list[dict[str, Any]] = field(default_factory=list)


_JOB_ARN = re.compile(r"arn:aws[a-z-]*:bedrock:[^\\\":]+:\d{12}:model-customization-job/[^\\\"\s]+")


def measure_execution(execution_arn: str, events: list[dict[str, Any]] | None = None) -> ExecutionClock:
    """The execution measured from its history (``events``, when already read)."""
    sfn = admin_client("stepfunctions")
    events = events if events is not None else _history(sfn, execution_arn)
    transitions, scheduled = 0, 0
    entered: list[datetime] = []
    job_arns: list[str] = []
    for event in events:
        kind = str(event["type"])
        if kind.endswith("StateEntered"):
            transitions, scheduled = transitions + 1, 0
            entered.append(event["timestamp"])
        elif kind in ("TaskScheduled", "LambdaFunctionScheduled"):
            scheduled += 1
            transitions += scheduled > 1
        elif kind == "TaskStateExited" and event.get("stateExitedEventDetails", {}).get("name") in (
            "CreateCustomizationJob",
        ):
            output = str(event["stateExitedEventDetails"].get("output") or "")
            job_arns += [arn for arn in _JOB_ARN.findall(output) if arn not in job_arns]
    described = sfn.describe_execution(executionArn=execution_arn)
    stop = described.get("stopDate")
    simulated = (stop - described["startDate"]).total_seconds() if stop else None
    jobs = [_job_timing(arn, entered) for arn in job_arns]
    lags = [job["detection_lag_seconds"] for job in jobs if job.get("detection_lag_seconds") is not None]
    return ExecutionClock(
        transitions=transitions,
        detection_lag_seconds=max(lags) if lags else None,
        simulated_seconds=simulated,
        jobs=jobs,
    )


def _job_timing(job_arn: str, entered: list[datetime]) -> dict[str, Any]:
    region, account = job_arn.split(":")[3:5]
    try:
        job = local_bedrock.backend_for(account, region).find_job(job_arn)
    except Exception:
        return {"arn": job_arn}
    timing: dict[str, Any] = {
        "arn": job_arn,
        "status": job.status,
        "duration_seconds": (job.end_time - job.creation_time).total_seconds() if job.end_time else None,
        "ended_at": job.end_time.isoformat() if job.end_time else None,
    }
    if job.end_time is not None:
        after = [moment for moment in entered if moment >= job.end_time]
        if after:
            timing["acted_at"] = after[0].isoformat()
            timing["detection_lag_seconds"] = round((after[0] - job.end_time).total_seconds(), 3)
    return timing


def _quiet_libraries() -> None:
    """moto's interpreter logs every Fail state with its whole AST, and SAM's translator warns about metrics it
    never publishes: neither helps a person reading the timeline."""
    for name in ("moto", "samtranslator"):
        logging.getLogger(name).setLevel(logging.CRITICAL)


@contextmanager
def local_aws_session(options: RunOptions, log_file: Path) -> Iterator[stack.Stack]:
    """moto with the workflow's extensions installed and the stack deployed; everything is gone on exit."""
    _quiet_libraries()
    with ExitStack() as scope:
        scope.enter_context(_credentials())
        scope.enter_context(
            mock_aws(config={"stepfunctions": {"execute_state_machine": True}, "lambda": {"use_docker": False}})
        )
        seams.install()
        local_aws.install()
        local_bedrock.reset()
        local_bedrock.configure(
            job_outcome=options.job_outcome,
            job_duration_seconds=options.job_duration_seconds,
            drop_events=options.drop_events,
            deploy_outcome=options.deploy_outcome,
            runtime_answer=options.runtime_answer,
            failing_jobs=tuple(options.failing_jobs),
            price_list_prices=dict(options.price_list_prices),
            **_job_quota(options.job_quota),
        )
        seams.set_inbox_deliveries(options.deliveries)
        scope.callback(seams.set_inbox_deliveries, 1)
        lambda_aws.reset_clients()
        scope.callback(lambda_aws.reset_clients)
        scope.enter_context(_lambda_logs_to(log_file))
        deployed = stack.deploy(
            stack_name=options.stack_name,
            parameters=dict(options.stack_parameters),
            edit=options.template_edit,
        )
        # From here on every call is authorized as the principal that makes it (the runner itself is the
        # account's administrator), and faults apply to the workflow's calls only.
        enforcement = scope.enter_context(local_iam.enforce())
        if options.refresh_prices:
            with local_faults.inject_faults([local_faults.Fault.parse(text) for text in options.price_refresh_faults]):
                deployed.price_refresh = fire_schedule(deployed, "RefreshPricesFunction", 0)
            # What the runs call is recorded from here on (its grants stay: the IAM tests cover the refresh's).
            with enforcement.lock:
                enforcement.operations.clear()
        scope.enter_context(local_faults.inject_faults([local_faults.Fault.parse(text) for text in options.faults]))
        yield deployed


def _job_quota(quota: int | None) -> dict[str, Any]:
    """``job_quota`` for the local Bedrock's settings, when given and when the local Bedrock has that setting."""
    if quota is None:
        return {}
    if "job_quota" not in local_bedrock.LocalBedrockSettings.model_fields:
        raise ValueError("this local Bedrock has no concurrent job quota (LocalBedrockSettings.job_quota)")
    return {"job_quota": quota}


@contextmanager
def _credentials() -> Iterator[None]:
    """Fake credentials and a region, so nothing can ever reach a real account."""
    values = {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "AWS_DEFAULT_REGION": stack.REGION,
        "AWS_REGION": stack.REGION,
    }
    saved = {key: os.environ.get(key) for key in [*values, "AWS_PROFILE"]}
    os.environ.pop("AWS_PROFILE", None)
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def _lambda_logs_to(path: Path) -> Iterator[None]:
    """The handlers' Powertools logs go to a file (stdout belongs to the CLI)."""
    from bedrock_finetune.handlers._step import logger  # noqa: PLC0415 - imported where the logs are redirected

    handlers = [h for h in logger._logger.handlers if isinstance(h, logging.StreamHandler)]
    with path.open("a", encoding="utf-8") as stream:
        # Assigned, not setStream(): that flushes the old stream, which a test harness may have closed.
        previous = [h.stream for h in handlers]
        for h in handlers:
            h.stream = stream
        try:
            yield
        finally:
            for h, old in zip(handlers, previous, strict=True):
                h.stream = old


@dataclass
class _Drop:
    """One dataset of a local run: where it was put, and the executions it started (in start order)."""

    index: int
    dataset: Path
    key: str
    executions: list[str] = field(default_factory=list)


@dataclass
class _Followed:
    arn: str
    index: int
    status: str = "RUNNING"
    timeline: list[StateLine] = field(default_factory=list)
    reported: int = 0
    error: dict[str, str] | None = None
    #: The whole history, once the execution ended (read once, for the timeline and the clock's measures).
    history: list[dict[str, Any]] | None = None


@dataclass
class MultiRunResult:
    """Several datasets dropped (or started) in order into one local account."""

    status: Status
    runs: list[RunResult]
    executions_started: int
    max_concurrent_jobs: int
    reconciler: dict[str, Any] | None
    price_refresh: dict[str, Any] | None
    resources: dict[str, list[dict[str, Any]]]
    log_file: str
    seconds: float

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "runs": [run.to_json() for run in self.runs],
            "executions_started": self.executions_started,
            "max_concurrent_jobs": self.max_concurrent_jobs,
            "reconciler": self.reconciler,
            "price_refresh": self.price_refresh,
            "resources": self.resources,
        }


def run(options: RunOptions, on_state: Callable[[StateLine], None] | None = None) -> RunResult:
    """One dataset (``options.dataset``; ``options.extra_datasets`` must be empty): today's result, plus the
    executions started, the most jobs at once and what the reconciler did."""
    if options.extra_datasets:
        raise ValueError("run() takes one dataset: use run_many() for several")
    result = run_many(options, None if on_state is None else lambda _index, line: on_state(line))
    return result.runs[0]


RUN_FOLDER_PREFIX = "bedrock-finetune-local-"
#: A local run keeps its folder (the Lambda log, the report copies) for a person to read; the next run removes the
#: folders of runs older than this.
RUN_FOLDER_MAX_AGE_SECONDS = 24 * 3600


def remove_old_run_folders(now: float | None = None) -> list[Path]:
    """Remove the folders of local runs (and demos) older than a day; what was removed."""
    import shutil  # noqa: PLC0415

    now = time.time() if now is None else now
    removed = []
    for prefix in (RUN_FOLDER_PREFIX, "bedrock-finetune-demo-"):
        for folder in Path(tempfile.gettempdir()).glob(f"{prefix}*"):
            try:
                old = now - folder.stat().st_mtime > RUN_FOLDER_MAX_AGE_SECONDS
            except OSError:
                continue
            if old and folder.is_dir():
                shutil.rmtree(folder, ignore_errors=True)
                removed.append(folder)
    return removed


def run_many(options: RunOptions, on_state: Callable[[int, StateLine], None] | None = None) -> MultiRunResult:
    """Drop ``options.dataset`` and then each of ``options.extra_datasets`` in order (or start each from the console
    input) into one local account, wait until every execution has ended, then fire the reconciler's schedule once."""
    started = time.monotonic()
    remove_old_run_folders()
    log_file = Path(tempfile.mkdtemp(prefix=RUN_FOLDER_PREFIX)) / "lambda.log"
    with local_aws_session(options, log_file) as deployed:
        s3 = boto3.client("s3", region_name=stack.REGION)
        sfn = boto3.client("stepfunctions", region_name=stack.REGION)
        price_refresh = deployed.price_refresh
        with CLOCK.busy():  # every drop at the same simulated moment
            drops = _drop_all(options, deployed, s3, sfn)
        dropped_at = CLOCK.now()
        _attach_executions(sfn, deployed, drops, wait=options.via == "inbox")
        followed = [_Followed(arn=drop.executions[0], index=drop.index) for drop in drops if drop.executions]
        followed += [
            _Followed(arn=arn, index=drop.index) for drop in drops for arn in drop.executions[1:]
        ]  # duplicates: followed to their end, not reported state by state
        attached = {item.arn for item in followed}
        followed += [  # started by something else (no drop's key in the input): followed too, never reported
            _Followed(arn=str(item["executionArn"]), index=-1)
            for item in _list_executions(sfn, deployed.state_machine_arn)
            if item["executionArn"] not in attached
        ]
        if options.stop_after_seconds is not None:
            CLOCK.call_at(dropped_at + options.stop_after_seconds, functools.partial(_stop_running, sfn, followed))
        _follow_all(sfn, followed, options.timeout_seconds, on_state)
        chained = _run_chain(options, deployed, sfn, s3, drops, followed, on_state)
        by_arn = {item.arn: item for item in followed}
        enforcement = local_iam.current()
        denials = list(enforcement.denials if enforcement else [])
        denied = [_denial(d) for d in denials]
        sent = _notifications(deployed.topic_arn)
        faults_fired = local_faults.fired_counts()
        jobs_created = len(_all_jobs())
        max_jobs = local_bedrock.backend_for(stack.ACCOUNT_ID, stack.REGION).max_jobs_in_progress
        executions_started = len(_list_executions(sfn, deployed.state_machine_arn))
        runs = [
            _run_result(
                drop,
                by_arn.get(drop.executions[0]) if drop.executions else None,
                s3=s3,
                bucket=deployed.bucket,
                sent=sent if len(drops) == 1 else _sent_for(sent, drop, by_arn),
                denied=denied,
                faults_fired=faults_fired,
                jobs_created=jobs_created,
                log_file=log_file,
            )
            for drop in drops
        ]
        runs += [
            _chained_result(step, s3=s3, bucket=deployed.bucket, sent=sent, denied=denied, log_file=log_file)
            for step in chained
        ]
        # What the runs did (grants, operations) is read before the reconciler's sweep, whose calls are its own.
        grants = list(enforcement.grants if enforcement else [])
        operations = sorted(enforcement.operations if enforcement else [])
        reconciler = fire_reconciler(deployed, len(denials)) if options.reconcile else None
        resources = leftover_resources()
        seconds = time.monotonic() - started
        for result in runs:
            result.resources = resources
            result.grants = grants
            result.workflow_operations = operations
            result.executions_started = executions_started
            result.max_concurrent_jobs = max_jobs
            result.reconciler = reconciler
            result.price_refresh = price_refresh
            result.seconds = seconds
        statuses = {result.status for result in runs}
        return MultiRunResult(
            status="SUCCEEDED" if statuses == {"SUCCEEDED"} else _worst(statuses),
            runs=runs,
            executions_started=executions_started,
            max_concurrent_jobs=max_jobs,
            reconciler=reconciler,
            price_refresh=price_refresh,
            resources=resources,
            log_file=str(log_file),
            seconds=seconds,
        )


@dataclass
class _Chained:
    """One ``then`` execution: the state machine it ran on, its input as started, and how it went."""

    state_machine: str
    input: dict[str, Any]
    followed: _Followed


class ChainError(ValueError):
    """A ``then`` step that cannot start: an unknown state machine, or a placeholder nothing fills."""


PLACEHOLDER = re.compile(r"\{\{run\.(\d+)\.(runId|modelArn|deploymentArn)\}\}")


def _run_chain(
    options: RunOptions,
    deployed: stack.Stack,
    sfn: Any,
    s3: Any,
    drops: list[_Drop],
    followed: list[_Followed],
    on_state: Callable[[int, StateLine], None] | None,
) -> list[_Chained]:
    """Start each ``then`` execution after the previous ones ended (as a person would from the console), resolving
    the placeholders from the earlier executions' reports."""
    reports: list[dict[str, Any]] = []
    for drop in drops:
        reports.append(_report(s3, deployed.bucket, drop.executions[0] if drop.executions else None) or {})
    chained: list[_Chained] = []
    for number, step in enumerate(options.then):
        logical_id = str(step.get("stateMachine") or "FineTuneStateMachine")
        arn = deployed.physical.get(logical_id)
        if arn is None or deployed.types.get(logical_id) != "AWS::StepFunctions::StateMachine":
            machines = sorted(k for k, t in deployed.types.items() if t == "AWS::StepFunctions::StateMachine")
            raise ChainError(
                f"then[{number}]: {logical_id} is not a state machine of the stack ({', '.join(machines)})"
            )
        execution_input = _resolve_placeholders(step.get("input") or {}, reports, number)
        execution_arn = sfn.start_execution(
            stateMachineArn=arn, name=f"then-{number}-{uuid.uuid4().hex[:12]}", input=json.dumps(execution_input)
        )["executionArn"]
        item = _Followed(arn=execution_arn, index=len(drops) + number)
        _follow_all(sfn, [item], options.timeout_seconds, on_state)
        followed.append(item)
        chained.append(_Chained(state_machine=logical_id, input=execution_input, followed=item))
        reports.append(_report(s3, deployed.bucket, execution_arn) or {})
    return chained


def _resolve_placeholders(value: Any, reports: list[dict[str, Any]], number: int) -> Any:
    if isinstance(value, dict):
        return {key: _resolve_placeholders(item, reports, number) for key, item in value.items()}
    if isinstance(value, list):
        return [_resolve_placeholders(item, reports, number) for item in value]
    if not isinstance(value, str):
        return value

    def replace(match: re.Match[str]) -> str:
        index, field_name = int(match.group(1)), match.group(2)
        if index >= len(reports):
            raise ChainError(f"then[{number}]: {match.group(0)} refers to execution {index}; only {len(reports)} ran")
        report = reports[index]
        found = {
            "runId": report.get("runId"),
            "modelArn": (report.get("model") or {}).get("arn"),
            "deploymentArn": (report.get("deployment") or {}).get("arn"),
        }[field_name]
        if not found:
            raise ChainError(f"then[{number}]: execution {index} has no {field_name} (its report names none)")
        return str(found)

    return PLACEHOLDER.sub(replace, value)


def _chained_result(
    step: _Chained, *, s3: Any, bucket: str, sent: list[tuple[str, str]], denied: list[dict[str, str]], log_file: Path
) -> RunResult:
    item = step.followed
    report = _report(s3, bucket, item.arn)
    if report is None:
        # Not a fine-tune run (the retire state machine): its output names its report.
        output = _execution_output(item.arn)
        uri = str((output.get("retired") or {}).get("reportUri") or "")
        if uri.startswith(f"s3://{bucket}/"):
            body = s3.get_object(Bucket=bucket, Key=uri.removeprefix(f"s3://{bucket}/"))["Body"].read()
            report = dict(json.loads(body))
    from bedrock_finetune.naming import run_id  # noqa: PLC0415

    marks = {item.arn, run_id(item.arn.rsplit(":", 1)[-1]), step.input.get("retire") or "\0"}
    mine = [(subject, message) for subject, message in sent if any(str(mark) in message for mark in marks)]
    return RunResult(
        status=item.status,  # type: ignore[arg-type]
        states=[line.name for line in item.timeline],
        timeline=item.timeline,
        error=item.error,
        resources={},
        dataset_uri=None,
        report=report,
        notifications=[subject for subject, _ in mine],
        notification_messages=[message for _, message in mine],
        faults_fired={},
        access_denied=denied,
        jobs_created=0,
        execution_arn=item.arn,
        bucket=bucket,
        log_file=str(log_file),
        seconds=0.0,
        state_machine=step.state_machine,
        artifacts_dir=_download_reports(s3, bucket, item.arn, log_file),
        clock=measure_execution(item.arn, item.history),
    )


def wait_for_execution(sfn: Any, execution_arn: str, timeout: float = 180.0) -> str:
    """The execution's status once it is no longer RUNNING (RUNNING after ``timeout`` seconds)."""
    deadline = time.monotonic() + timeout
    while True:
        status = str(sfn.describe_execution(executionArn=execution_arn)["status"])
        if status != "RUNNING" or time.monotonic() > deadline:
            return status
        time.sleep(0.05)


def _execution_output(execution_arn: str) -> dict[str, Any]:
    output = admin_client("stepfunctions").describe_execution(executionArn=execution_arn).get("output")
    try:
        value = json.loads(output or "{}")
    except json.JSONDecodeError:
        return {}
    return value if isinstance(value, dict) else {}


def _worst(statuses: set[Status]) -> Status:
    order: tuple[Status, ...] = ("FAILED", "TIMED_OUT", "ABORTED", "NO_EXECUTION")
    return next((status for status in order if status in statuses), "FAILED")


def _denial(d: local_iam.Denial) -> dict[str, str]:
    return {
        "principal": d.principal,
        "action": d.action,
        "resource": d.resource,
        "operation": d.operation,
        "message": d.message,
    }


def _all_jobs() -> list[dict[str, Any]]:
    bedrock = admin_client("bedrock")
    jobs: list[dict[str, Any]] = []
    for page in bedrock.get_paginator("list_model_customization_jobs").paginate():
        jobs.extend(page["modelCustomizationJobSummaries"])
    return jobs


def _drop_all(options: RunOptions, deployed: stack.Stack, s3: Any, sfn: Any) -> list[_Drop]:
    """Put every dataset in order (into inbox/, or uploads/ and a console start for each)."""
    drops: list[_Drop] = []
    used: set[str] = set()
    metadata = dict(options.metadata or {})
    if options.via == "inbox" and options.config:
        metadata[METADATA_KEY] = json.dumps(options.config, separators=(",", ":"))
    for index, dataset in enumerate(options.all_datasets):
        folder = "inbox" if options.via == "inbox" else "uploads"
        key = options.key if index == 0 and options.key else f"{folder}/{dataset.name}"
        stem, dot, suffix = key.rpartition(".")
        copy = 2
        while key in used:  # the same file name twice: a second key, as a person would rename it
            key = f"{stem}-{copy}{dot}{suffix}" if dot else f"{key}-{copy}"
            copy += 1
        used.add(key)
        drop = _Drop(index=index, dataset=dataset, key=key)
        s3.put_object(Bucket=deployed.bucket, Key=key, Body=dataset.read_bytes(), Metadata=metadata)
        if options.via == "console":
            console_input = {"datasetUri": f"s3://{deployed.bucket}/{key}", **(options.config or {})}
            drop.executions.append(
                sfn.start_execution(
                    stateMachineArn=deployed.state_machine_arn,
                    name=f"console-{uuid.uuid4().hex[:12]}",
                    input=json.dumps(console_input),
                )["executionArn"]
            )
        drops.append(drop)
    return drops


def _attach_executions(sfn: Any, deployed: stack.Stack, drops: list[_Drop], *, wait: bool) -> None:
    """Find the executions each inbox drop started (whatever started them: the inbox rule, or a function between it
    and the state machine), by the dataset's key in their input. Waits a short grace for drops without one."""
    known = {arn for drop in drops for arn in drop.executions}
    deadline = time.monotonic() + (NO_EXECUTION_GRACE_SECONDS if wait else 0.0)
    seen: dict[str, Any] = {}
    while True:
        executions = _list_executions(sfn, deployed.state_machine_arn)
        for item in sorted(executions, key=lambda e: e["startDate"]):
            arn = str(item["executionArn"])
            if arn in known or arn in seen:
                continue
            seen[arn] = sfn.describe_execution(executionArn=arn).get("input")
            drop = _drop_of(drops, deployed.bucket, seen[arn])
            if drop is not None:
                drop.executions.append(arn)
                known.add(arn)
        if all(drop.executions for drop in drops) or time.monotonic() >= deadline:
            return
        time.sleep(0.05)


def _list_executions(sfn: Any, state_machine_arn: str) -> list[dict[str, Any]]:
    executions: list[dict[str, Any]] = []
    for page in sfn.get_paginator("list_executions").paginate(stateMachineArn=state_machine_arn):
        executions.extend(page["executions"])
    return executions


def _drop_of(drops: list[_Drop], bucket: str, raw_input: str | None) -> _Drop | None:
    """The drop whose key (or s3:// URI) appears as a value in the execution's input."""
    try:
        value = json.loads(raw_input or "null")
    except json.JSONDecodeError:
        return None
    strings: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, str):
            strings.add(node)
        elif isinstance(node, dict):
            for item in node.values():
                walk(item)
        elif isinstance(node, list):
            for item in node:
                walk(item)

    walk(value)
    return next((drop for drop in drops if {drop.key, f"s3://{bucket}/{drop.key}"} & strings), None)


def _sent_for(sent: list[tuple[str, str]], drop: _Drop, by_arn: dict[str, _Followed]) -> list[tuple[str, str]]:
    """The notifications about one drop's executions (a run's notification names its run id and execution ARN)."""
    from bedrock_finetune.naming import run_id  # noqa: PLC0415

    marks = set(drop.executions) | {run_id(arn.rsplit(":", 1)[-1]) for arn in drop.executions}
    return [(subject, message) for subject, message in sent if any(mark in message for mark in marks)]


def _run_result(
    drop: _Drop,
    followed: _Followed | None,
    *,
    s3: Any,
    bucket: str,
    sent: list[tuple[str, str]],
    denied: list[dict[str, str]],
    faults_fired: dict[str, int],
    jobs_created: int,
    log_file: Path,
) -> RunResult:
    execution_arn = followed.arn if followed else None
    status: Status = "NO_EXECUTION"
    error = None
    timeline: list[StateLine] = []
    if followed is not None:
        status, error, timeline = followed.status, followed.error, followed.timeline  # type: ignore[assignment]
    if execution_arn is None and denied:
        # EventBridge could not start the state machine: on AWS the rule's failed invocations show it.
        error = {"error": "AccessDenied", "cause": "EventBridge could not start the execution: " + denied[0]["message"]}
    report = _report(s3, bucket, execution_arn)
    return RunResult(
        status=status,
        states=[line.name for line in timeline],
        timeline=timeline,
        error=error,
        resources={},
        dataset_uri=_dataset_location(s3, bucket, drop.key, report, execution_arn),
        report=report,
        notifications=[subject for subject, _ in sent],
        notification_messages=[message for _, message in sent],
        faults_fired=faults_fired,
        access_denied=denied,
        jobs_created=jobs_created,
        execution_arn=execution_arn,
        bucket=bucket,
        log_file=str(log_file),
        seconds=0.0,
        artifacts_dir=_download_reports(s3, bucket, execution_arn, log_file),
        clock=None
        if execution_arn is None
        else measure_execution(execution_arn, followed.history if followed else None),
    )


def _download_reports(s3: Any, bucket: str, execution_arn: str | None, log_file: Path) -> str | None:
    """Copy the run's reports/<run>/ objects into ``artifacts/<run>/`` next to the log file; None when there are
    none (no execution, or a state machine that reports elsewhere)."""
    if execution_arn is None:
        return None
    from bedrock_finetune.naming import run_id  # noqa: PLC0415

    run = run_id(execution_arn.rsplit(":", 1)[-1])
    prefix = f"reports/{run}/"
    keys = [
        item["Key"]
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix)
        for item in page.get("Contents", [])
    ]
    if not keys:
        return None
    folder = log_file.parent / "artifacts" / run
    for key in keys:
        relative = Path(key.removeprefix(prefix))
        if relative.is_absolute() or ".." in relative.parts:
            continue  # never written outside the folder
        target = folder / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    return str(folder)


def admin_client(service: str) -> Any:
    return local_iam.admin_client(service, stack.REGION)


def fire_reconciler(deployed: stack.Stack, denials_before: int) -> dict[str, Any] | None:
    """Fire the reconciler's schedule once (:func:`fire_schedule`)."""
    return fire_schedule(deployed, "ReconcileFunction", denials_before)


def fire_schedule(deployed: stack.Stack, function: str, denials_before: int) -> dict[str, Any] | None:
    """Fire the schedule whose target is ``function`` (a logical id) once, as EventBridge Scheduler does: the target
    is invoked with the schedule's role (after its trust policy lets scheduler.amazonaws.com assume it), with the
    schedule's Input and its context attributes filled in (Scheduler User Guide, "Adding context attributes").
    Scheduler invokes a Lambda target asynchronously; locally the invocation is synchronous, so its effects are
    complete when this returns. The handler's output, or its error, plus any call the local IAM denied while it ran;
    None when the stack has no such schedule or it is DISABLED (Scheduler does not invoke a disabled schedule)."""
    schedules = [logical for logical, kind in deployed.types.items() if kind == "AWS::Scheduler::Schedule"]
    scheduler = admin_client("scheduler")
    function_arn = deployed.attributes.get(function, {}).get("Arn")
    for logical in schedules:
        schedule = scheduler.get_schedule(Name=deployed.physical[logical])
        target = schedule["Target"]
        if target["Arn"] != function_arn:
            continue
        if schedule.get("State") == "DISABLED":
            return None
        return _invoke_schedule(schedule, denials_before)
    return None


def _invoke_schedule(schedule: dict[str, Any], denials_before: int) -> dict[str, Any]:
    target = schedule["Target"]
    now = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    payload = str(target.get("Input") or "{}")
    for attribute, value in {
        "schedule-arn": schedule["Arn"],
        "scheduled-time": now,
        "execution-id": uuid.uuid4().hex[:16],
        "attempt-number": "1",
    }.items():
        payload = payload.replace(f"<aws.scheduler.{attribute}>", value)
    outcome: dict[str, Any]
    allowed, reason = local_iam.trust_allows(
        target["RoleArn"], "scheduler.amazonaws.com", source_account=stack.ACCOUNT_ID, source_arn=schedule["Arn"]
    )
    if not allowed:
        outcome = {"error": "AccessDenied", "cause": f"EventBridge Scheduler cannot assume the role: {reason}"}
    else:
        credentials = local_iam.role_credentials(target["RoleArn"], "scheduler")
        lambda_client = boto3.client("lambda", region_name=stack.REGION, **credentials.as_client_kwargs())
        try:
            response = lambda_client.invoke(FunctionName=target["Arn"], Payload=payload.encode())
        except ClientError as exc:
            error = exc.response.get("Error", {})
            outcome = {"error": str(error.get("Code", "")), "cause": str(error.get("Message", ""))}
        else:
            body = json.loads(response["Payload"].read() or b"null")
            if response.get("FunctionError"):
                outcome = {"error": body.get("errorType"), "cause": body.get("errorMessage")}
            else:
                outcome = dict(body) if isinstance(body, dict) else {"output": body}
    enforcement = local_iam.current()
    outcome["accessDenied"] = [_denial(d) for d in (enforcement.denials if enforcement else [])[denials_before:]]
    return outcome


def _follow_all(
    sfn: Any,
    followed: list[_Followed],
    timeout: float,
    on_state: Callable[[int, StateLine], None] | None,
) -> None:
    """Poll every execution until it ends, reporting each state of the first execution of each drop as it exits.
    Past ``timeout`` the executions still running are stopped (as a person would) and marked TIMED_OUT."""
    deadline = time.monotonic() + timeout
    next_history = 0.0
    indexes = {item.index for item in followed if item.index >= 0}
    # Histories are read while running only to report states live (reading one makes moto serialize it all).
    reporting = {next(item.arn for item in followed if item.index == index) for index in indexes} if on_state else set()
    while True:
        refresh = time.monotonic() >= next_history
        for item in followed:
            if item.status != "RUNNING":
                continue
            description = sfn.describe_execution(executionArn=item.arn)
            running = description["status"] == "RUNNING"
            # The whole history is read (and serialized by moto) each time: a few times a second is enough for the
            # live timeline, and leaves the interpreter's threads the CPU.
            if not running or (refresh and item.arn in reporting):
                events = _history(sfn, item.arn)
                item.timeline = timeline_from_history(events, finished=not running)
                item.history = None if running else events
                if item.arn in reporting and on_state:
                    for line in item.timeline[item.reported :]:
                        on_state(item.index, line)
                item.reported = len(item.timeline)
            if not running:
                item.status = description["status"]
                if item.status != "SUCCEEDED":
                    item.error = {"error": description.get("error", ""), "cause": description.get("cause", "")}
        if refresh:
            next_history = time.monotonic() + HISTORY_INTERVAL_SECONDS
        if all(item.status != "RUNNING" for item in followed):
            return
        if time.monotonic() > deadline:
            cause = f"no end after {timeout} s"
            for item in followed:
                if item.status == "RUNNING":
                    sfn.stop_execution(executionArn=item.arn, error="LocalTimeout", cause=cause)
                    item.status, item.error = "TIMED_OUT", {"error": "LocalTimeout", "cause": cause}
            return
        time.sleep(0.05)


def _stop_running(sfn: Any, followed: list[_Followed]) -> None:
    for item in followed:
        if sfn.describe_execution(executionArn=item.arn)["status"] == "RUNNING":
            sfn.stop_execution(executionArn=item.arn, error="StoppedByHand", cause="stopped from the console (local)")


def _history(sfn: Any, execution_arn: str) -> list[dict[str, Any]]:
    events: list[dict[str, Any]] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {"executionArn": execution_arn, "maxResults": 1000}
        if token:
            kwargs["nextToken"] = token
        page = sfn.get_execution_history(**kwargs)
        events.extend(page["events"])
        token = page.get("nextToken")
        if not token:
            return events


def timeline_from_history(events: list[dict[str, Any]], *, finished: bool) -> list[StateLine]:
    """One line per state entered, in order: ok, retried (a failed attempt followed by another), or caught (the
    last attempt failed and a Catch took over), with its duration. A state still running is left out until it
    exits (or the execution ends)."""
    lines: list[StateLine] = []
    current: dict[str, Any] | None = None
    for event in events:
        kind = event["type"]
        if kind.endswith("StateEntered"):
            current = {"name": event["stateEnteredEventDetails"]["name"], "start": event["timestamp"]}
            current.update(failures=[], failed_last=False)
        elif current is None:
            continue
        elif kind in {"LambdaFunctionFailed", "TaskFailed", "LambdaFunctionTimedOut", "MapRunFailed", "MapStateFailed"}:
            details = (
                event.get("lambdaFunctionFailedEventDetails")
                or event.get("taskFailedEventDetails")
                or event.get("mapRunFailedEventDetails")
                or {}
            )
            if not current["failed_last"]:
                current["failures"].append(details.get("error", kind))
            current["failed_last"] = True
        elif kind in {"LambdaFunctionScheduled", "TaskScheduled"}:
            current["failed_last"] = False
        elif kind.endswith("StateExited") or kind in {"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}:
            lines.append(_line(current, event["timestamp"]))
            current = None
    if current is not None and finished:
        lines.append(_line(current, current["start"]))
    return lines


def _line(current: dict[str, Any], end: datetime) -> StateLine:
    failures: list[str] = current["failures"]
    seconds = max(0.0, (end - current["start"]).total_seconds())
    retried = failures[:-1] if current["failed_last"] else failures
    if current["failed_last"]:
        detail = failures[-1] + (f" (after {len(retried)} retries)" if retried else "")
        return StateLine(current["name"], "caught", seconds, detail)
    if retried:
        return StateLine(current["name"], f"retried x{len(retried)}", seconds, ", ".join(retried))
    return StateLine(current["name"], "ok", seconds)


def leftover_resources() -> dict[str, list[dict[str, Any]]]:
    """What still exists in the local Bedrock after a run (throughput, deployments, running jobs, models)."""
    bedrock = admin_client("bedrock")
    throughputs = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    deployments = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    jobs = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    models = bedrock.list_custom_models()["modelSummaries"]
    return {
        "provisioned_throughputs": [
            {"arn": item["provisionedModelArn"], "status": item["status"], "modelArn": item["modelArn"]}
            for item in throughputs
        ],
        "custom_model_deployments": [
            {"arn": item["customModelDeploymentArn"], "status": item["status"], "modelArn": item["modelArn"]}
            for item in deployments
        ],
        "jobs_in_progress": [
            {"arn": item["jobArn"], "status": item["status"]}
            for item in jobs
            if item["status"] in {"InProgress", "Stopping"}
        ],
        "custom_models": [{"arn": item["modelArn"], "name": item["modelName"]} for item in models],
    }


def _report(s3: Any, bucket: str, execution_arn: str | None) -> dict[str, Any] | None:
    if execution_arn is None:
        return None
    from bedrock_finetune.naming import run_id  # noqa: PLC0415

    key = f"reports/{run_id(execution_arn.rsplit(':', 1)[-1])}/report.json"
    try:
        return dict(json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read()))
    except s3.exceptions.NoSuchKey:
        return None


def _dataset_location(
    s3: Any, bucket: str, key: str, report: dict[str, Any] | None, execution_arn: str | None = None
) -> str | None:
    """Where the dataset is now: the report's final location if the object is really there, else the dropped key
    if it still is; None only if neither exists (the dataset would be lost)."""
    final = ((report or {}).get("dataset") or {}).get("finalUri")
    candidates = [str(final)] if final else []
    candidates.append(f"s3://{bucket}/{key}")
    # Where the workflow moves a dropped dataset (when no report says so, e.g. the report could not be written)
    run = (report or {}).get("runId")
    if not run and execution_arn:
        from bedrock_finetune.naming import run_id  # noqa: PLC0415

        run = run_id(execution_arn.rsplit(":", 1)[-1])
    if run:
        name = key.rsplit("/", 1)[-1]
        candidates += [f"s3://{bucket}/failed/{run}/{name}", f"s3://{bucket}/processed/{run}/{name}"]
    for uri in candidates:
        found_bucket, _, found_key = uri.removeprefix("s3://").partition("/")
        try:
            s3.head_object(Bucket=found_bucket, Key=found_key)
        except s3.exceptions.ClientError:
            continue
        return uri
    return None


def _notifications(topic_arn: str) -> list[tuple[str, str]]:
    topic = sns_backends[stack.ACCOUNT_ID][stack.REGION].topics[topic_arn]
    return [(str(item[2] or ""), str(item[1])) for item in topic.sent_notifications]
