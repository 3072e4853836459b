"""An execution as it runs: its current state, the job's status, its place in the training queue, its timeline.

``--wait`` polls DescribeExecution and GetExecutionHistory until the execution ends and shows one progress line
(rewritten in place on a terminal, a new line on each change otherwise); ``status`` prints the timeline of the whole
history. Progress goes to stderr, so stdout keeps only results (and ``--json`` stays one object).
"""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TextIO

from botocore.exceptions import ClientError

from bedrock_finetune_cli.common import EXIT_FAILED, EXIT_OK, GREEN, RED, colour_wanted, paint
from bedrock_finetune_cli.stack.aws import AwsError, is_error

#: Seconds between two looks at the execution (DescribeExecution + one page of its history).
POLL_SECONDS = 5.0
#: On a terminal the elapsed time is redrawn this often between two polls.
TICK_SECONDS = 1.0
#: How long an inbox drop may take to start its execution (EventBridge, then the InboxStarter function).
APPEAR_TIMEOUT_SECONDS = 120.0
HISTORY_PAGE = 200
JOB_STATES = {"PollJob", "VariantPollJob"}
CREATE_JOB_STATES = {"CreateCustomizationJob", "VariantCreateJob"}
MAP_STATES = {"TrainSweepVariants"}
QUEUE_REASONS = {"ahead": "runs ahead", "quota": "Bedrock's job quota is full"}
FAILURE_EVENTS = {
    "TaskFailed",
    "TaskTimedOut",
    "TaskStartFailed",
    "TaskSubmitFailed",
    "LambdaFunctionFailed",
    "LambdaFunctionTimedOut",
    "LambdaFunctionStartFailed",
    "LambdaFunctionScheduleFailed",
    "MapRunFailed",
}
END_EVENTS = {"ExecutionFailed", "ExecutionAborted", "ExecutionTimedOut"}


def sleep(seconds: float) -> None:
    time.sleep(seconds)


def now() -> datetime:
    return datetime.now(UTC)


# --- waiting for an execution to exist ------------------------------------------------------------------------------
def wait_until_started(sfn: Any, candidates: list[str], *, what: str, timeout: float | None = None) -> str:
    """The first of ``candidates`` (execution ARNs) that exists; DescribeExecution is polled until ``timeout``."""
    limit = APPEAR_TIMEOUT_SECONDS if timeout is None else timeout
    deadline = time.monotonic() + limit
    while True:
        for arn in candidates:
            try:
                sfn.describe_execution(executionArn=arn)
            except ClientError as error:
                if not is_error(error, "ExecutionDoesNotExist"):
                    raise
                continue
            return arn
        if time.monotonic() >= deadline:
            raise AwsError(
                f"no execution {candidates[0].rsplit(':', 1)[-1]} {limit:.0f} s after {what}: the stack did not start "
                "it (check the InboxStarterFunction's logs and the inbox rule); it may still start later"
            )
        sleep(min(POLL_SECONDS, 2.0))


# --- one look at an execution ---------------------------------------------------------------------------------------
@dataclass
class Snapshot:
    """What DescribeExecution and the latest history events say about an execution."""

    arn: str
    status: str
    started: datetime
    stopped: datetime | None = None
    state: str | None = None
    job_status: str | None = None
    queue_position: int | None = None
    queue_reason: str | None = None
    variants: dict[str, int] = field(default_factory=dict)
    error: str | None = None
    cause: str | None = None
    output: dict[str, Any] | None = None
    input: dict[str, Any] | None = None
    base_model_id: str | None = None
    deployment_mode: str | None = None
    #: A retire execution's answer (RetireModel's result: models, report URI, message).
    retired: dict[str, Any] | None = None

    @property
    def seconds(self) -> float:
        return ((self.stopped or now()) - self.started).total_seconds()


def look(sfn: Any, arn: str, *, history: bool = True) -> Snapshot:
    described = sfn.describe_execution(executionArn=arn)
    snapshot = Snapshot(
        arn=arn,
        status=described["status"],
        started=described["startDate"],
        stopped=described.get("stopDate"),
        error=described.get("error"),
        cause=described.get("cause"),
        output=_json(described.get("output")),
        input=_json(described.get("input")),
    )
    if history:
        _read_events(sfn, snapshot, recent_events(sfn, arn))
    return snapshot


def recent_events(sfn: Any, arn: str) -> list[dict[str, Any]]:
    """The latest events of the history, oldest first."""
    answer = sfn.get_execution_history(executionArn=arn, reverseOrder=True, maxResults=HISTORY_PAGE)
    events: list[dict[str, Any]] = answer.get("events") or []
    if answer.get("nextToken") and len(events) > 1 and events[0]["id"] < events[-1]["id"]:
        events = list(all_events(sfn, arn))  # the endpoint ignored reverseOrder: read the whole history
    return sorted(events, key=lambda event: int(event["id"]))


def all_events(sfn: Any, arn: str) -> Iterator[dict[str, Any]]:
    token: str | None = None
    while True:
        page = sfn.get_execution_history(executionArn=arn, maxResults=1000, **({"nextToken": token} if token else {}))
        yield from page.get("events") or []
        token = page.get("nextToken")
        if not token:
            return


def _read_events(sfn: Any, snapshot: Snapshot, events: list[dict[str, Any]]) -> None:
    map_run = None
    for event in events:
        kind = str(event.get("type", ""))
        if kind.endswith("StateEntered"):
            snapshot.state = (event.get("stateEnteredEventDetails") or {}).get("name")
        elif kind.endswith("StateExited"):
            details = event.get("stateExitedEventDetails") or {}
            _read_output(snapshot, str(details.get("name")), _json(details.get("output")) or {})
        elif kind == "MapRunStarted":
            map_run = (event.get("mapRunStartedEventDetails") or {}).get("mapRunArn")
    if map_run and snapshot.status == "RUNNING" and snapshot.state in MAP_STATES:
        try:
            counts = sfn.describe_map_run(mapRunArn=map_run).get("itemCounts") or {}
        except ClientError:
            counts = {}
        snapshot.variants = {key: int(value) for key, value in counts.items() if isinstance(value, int)}


def _read_output(snapshot: Snapshot, state: str, output: dict[str, Any]) -> None:
    if state == "ResolveConfig":
        config = output.get("config") or {}
        snapshot.base_model_id = config.get("baseModelId") or snapshot.base_model_id
        snapshot.deployment_mode = (config.get("deployment") or {}).get("mode") or snapshot.deployment_mode
    elif state in JOB_STATES:
        snapshot.job_status = (output.get("jobStatus") or {}).get("status") or snapshot.job_status
    elif state == "RetireModel":
        retired = output.get("retired")
        snapshot.retired = retired if isinstance(retired, dict) else snapshot.retired
    elif state in CREATE_JOB_STATES:
        training = output.get("training") or {}
        queue = training.get("queue") or {}
        queued = training.get("status") == "Queued"
        snapshot.queue_position = queue.get("position") if queued else None
        snapshot.queue_reason = queue.get("reason") if queued else None
        if training.get("status") == "Created":
            # A new job starts InProgress; the run then waits for its end (AwaitJobEnd) without reading it again.
            snapshot.job_status = "InProgress"


def _json(text: Any) -> dict[str, Any] | None:
    if not isinstance(text, str):
        return None
    try:
        value = json.loads(text)
    except ValueError:  # absent or truncated
        return None
    return value if isinstance(value, dict) else None


# --- the progress line ----------------------------------------------------------------------------------------------
def progress_line(snapshot: Snapshot, *, with_time: bool = True) -> str:
    parts = [snapshot.status, snapshot.state or "starting"]
    if snapshot.queue_position is not None and snapshot.state and "WaitForTrainingCapacity" in snapshot.state:
        reason = QUEUE_REASONS.get(str(snapshot.queue_reason), "")
        parts.append(f"queue position {snapshot.queue_position}" + (f" ({reason})" if reason else ""))
    elif snapshot.job_status and snapshot.state and ("Job" in snapshot.state):
        parts.append(f"job {snapshot.job_status}")
    if snapshot.variants:
        counts = snapshot.variants
        parts.append(
            f"variants: {counts.get('running', 0)} running, {counts.get('succeeded', 0)} succeeded, "
            f"{counts.get('failed', 0)} failed of {counts.get('total', 0)}"
        )
    line = "  ".join(parts)
    return f"{duration(snapshot.seconds):>8}  {line}" if with_time else line


def duration(seconds: float) -> str:
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h{minutes:02d}m{secs:02d}s"
    return f"{minutes}m{secs:02d}s" if minutes else f"{secs}s"


def follow(sfn: Any, arn: str, *, stream: TextIO | None = None) -> Snapshot:
    """Show the execution's progress until it ends; the last snapshot."""
    out = stream or sys.stderr
    live = out.isatty()
    snapshot = look(sfn, arn)
    last = None
    next_poll = time.monotonic() + POLL_SECONDS
    while snapshot.status == "RUNNING":
        if live:
            out.write("\r\033[K" + progress_line(snapshot))
            out.flush()
        elif progress_line(snapshot, with_time=False) != last:
            last = progress_line(snapshot, with_time=False)
            print(progress_line(snapshot), file=out, flush=True)
        sleep(TICK_SECONDS if live else POLL_SECONDS)
        if not live or time.monotonic() >= next_poll:
            snapshot = look(sfn, arn)
            next_poll = time.monotonic() + POLL_SECONDS
    if live:
        out.write("\r\033[K")
    return snapshot


def outcome_line(snapshot: Snapshot, stream: TextIO) -> str:
    on = colour_wanted(stream)
    verdict = paint(snapshot.status, GREEN if snapshot.status == "SUCCEEDED" else RED, on)
    line = f"{verdict} after {duration(snapshot.seconds)}"
    if snapshot.error:
        cause = readable(snapshot.cause)
        line += f": {snapshot.error}" + (f": {cause}" if cause else "")
    return line


def readable(cause: str | None, limit: int = 300) -> str:
    """A Lambda error's message without its stack trace, on one line."""
    if not cause:
        return ""
    text = cause
    payload = _json(cause)
    if payload and isinstance(payload.get("errorMessage"), str):
        text = payload["errorMessage"]
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def exit_code(snapshot: Snapshot) -> int:
    return EXIT_OK if snapshot.status == "SUCCEEDED" else EXIT_FAILED


# --- the timeline of a whole history ---------------------------------------------------------------------------------
@dataclass
class Step:
    name: str
    entered: datetime
    visits: int = 0
    seconds: float = 0.0
    failures: list[str] = field(default_factory=list)
    running: bool = False
    caught: str | None = None
    failed: str | None = None

    @property
    def outcome(self) -> str:
        if self.running:
            return "running"
        if self.failed:
            return f"failed: {self.failed}"
        if self.caught:
            return f"caught {self.caught}"
        return f"ok after {len(self.failures)} retries" if self.failures else "ok"


def timeline(events: list[dict[str, Any]]) -> list[Step]:
    """One step per state name in the order first entered: visits, time spent, retries, a caught error."""
    steps: dict[str, Step] = {}
    entered: dict[str, datetime] = {}
    current: Step | None = None
    failed_last = False
    for event in sorted(events, key=lambda item: int(item["id"])):
        kind = str(event.get("type", ""))
        moment: datetime = event["timestamp"]
        if kind.endswith("StateEntered"):
            name = str((event.get("stateEnteredEventDetails") or {}).get("name"))
            current = steps.setdefault(name, Step(name=name, entered=moment))
            current.visits += 1
            current.running = True
            current.caught = None
            entered[name] = moment
            failed_last = False
        elif kind.endswith("StateExited"):
            name = str((event.get("stateExitedEventDetails") or {}).get("name"))
            step = steps.get(name)
            if step is not None:
                step.seconds += (moment - entered.pop(name, moment)).total_seconds()
                step.running = False
                if failed_last and step.failures:
                    step.caught = step.failures.pop()
            failed_last = False
        elif kind in FAILURE_EVENTS and current is not None:
            details = _details(event)
            current.failures.append(str(details.get("error") or kind))
            failed_last = True
        elif kind in END_EVENTS:
            details = _details(event)
            for step in steps.values():
                if step.running:
                    step.running = False
                    step.failed = step.failures.pop() if step.failures else str(details.get("error") or kind)
        elif kind.endswith(("Scheduled", "Started")) and current is not None:
            failed_last = False
    return list(steps.values())


def _details(event: dict[str, Any]) -> dict[str, Any]:
    """The event's ``...EventDetails`` object (each event type names its own)."""
    found = next((value for key, value in event.items() if key.endswith("EventDetails")), None)
    return found if isinstance(found, dict) else {}


# --- what a run ended with --------------------------------------------------------------------------------------------
def report_summary(report: dict[str, Any] | None, snapshot: Snapshot | None = None) -> list[str]:
    """The run report as its notification says it (without the JSON); for a retire execution, its own message."""
    if report:
        from bedrock_finetune.logic.reporting import message  # noqa: PLC0415

        text = message(report).split("\n\nReport:\n", 1)[0]
        return text.splitlines()[2:]
    retired = (snapshot.retired if snapshot else None) or {}
    if isinstance(retired.get("message"), str):
        return [line for line in retired["message"].splitlines() if line.strip()]
    return []
