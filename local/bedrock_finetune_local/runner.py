"""Run the real workflow locally: deploy template.yaml into moto, drop a dataset into the inbox (or start from the
console input), let the real state machine run the real handlers, and report what happened and what is left.
"""

from __future__ import annotations

import json
import logging
import os
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, Literal

import boto3
from moto import mock_aws
from moto.sns.models import sns_backends

from bedrock_finetune import aws as lambda_aws
from bedrock_finetune.config import METADATA_KEY
from bedrock_finetune_local import aws as local_aws
from bedrock_finetune_local import seams, stack
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.aws import faults as local_faults
from bedrock_finetune_local.aws import iam as local_iam

Via = Literal["inbox", "console"]
Status = Literal["SUCCEEDED", "FAILED", "TIMED_OUT", "NO_EXECUTION", "ABORTED"]

# Waits come from configuration: locally the polls start at the template's minimum interval (1 s) and grow with the
# elapsed time (a quarter of it), so a run takes seconds; the maximums are the template's minimum allowed values.
LOCAL_STACK_PARAMETERS = {
    "JobPollInitialSeconds": "1",
    "JobPollMaxSeconds": "600",
    "DeploymentPollInitialSeconds": "1",
    "DeploymentPollMaxSeconds": "60",
}
NO_EXECUTION_GRACE_SECONDS = 1.5
HISTORY_INTERVAL_SECONDS = 0.4


@dataclass
class RunOptions:
    dataset: Path
    config: dict[str, Any] | None = None
    via: Via = "inbox"
    key: str | None = None
    job_outcome: str = "Completed"
    job_polls: int = 2
    deploy_outcome: str = "InService"
    runtime_answer: str = "normal"
    faults: list[str] = field(default_factory=list)
    stack_parameters: dict[str, str] = field(default_factory=dict)
    metadata: dict[str, str] | None = None
    timeout_seconds: float = 180.0
    # Changes the translated template before the local deploy (tests take one permission out this way).
    template_edit: Callable[[dict[str, Any]], None] | None = None


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

    def to_json(self) -> dict[str, Any]:
        return {
            "status": self.status,
            "states": self.states,
            "error": self.error,
            "resources": self.resources,
            "dataset": {"s3_uri": self.dataset_uri},
            "report": self.report,
            "notifications": self.notifications,
            "faults_fired": self.faults_fired,
            "access_denied": self.access_denied,
        }


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
            job_polls_to_finish=options.job_polls,
            deploy_outcome=options.deploy_outcome,
            runtime_answer=options.runtime_answer,
        )
        lambda_aws.reset_clients()
        scope.callback(lambda_aws.reset_clients)
        scope.enter_context(_lambda_logs_to(log_file))
        deployed = stack.deploy(
            parameters={**LOCAL_STACK_PARAMETERS, **options.stack_parameters}, edit=options.template_edit
        )
        # From here on every call is authorized as the principal that makes it (the runner itself is the
        # account's administrator), and faults apply to the workflow's calls only.
        scope.enter_context(local_iam.enforce())
        scope.enter_context(local_faults.inject_faults([local_faults.Fault.parse(text) for text in options.faults]))
        yield deployed


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


def run(options: RunOptions, on_state: Callable[[StateLine], None] | None = None) -> RunResult:
    started = time.monotonic()
    log_file = Path(tempfile.mkdtemp(prefix="bedrock-finetune-local-")) / "lambda.log"
    with local_aws_session(options, log_file) as deployed:
        s3 = boto3.client("s3", region_name=stack.REGION)
        sfn = boto3.client("stepfunctions", region_name=stack.REGION)
        key = options.key or (
            f"inbox/{options.dataset.name}" if options.via == "inbox" else f"uploads/{options.dataset.name}"
        )
        metadata = dict(options.metadata or {})
        if options.via == "inbox" and options.config:
            metadata[METADATA_KEY] = json.dumps(options.config, separators=(",", ":"))
        s3.put_object(Bucket=deployed.bucket, Key=key, Body=options.dataset.read_bytes(), Metadata=metadata)
        if options.via == "console":
            console_input = {"datasetUri": f"s3://{deployed.bucket}/{key}", **(options.config or {})}
            execution_arn: str | None = sfn.start_execution(
                stateMachineArn=deployed.state_machine_arn,
                name=f"console-{uuid.uuid4().hex[:12]}",
                input=json.dumps(console_input),
            )["executionArn"]
        else:
            execution_arn = _wait_for_execution(sfn, deployed.state_machine_arn)
        status: Status = "NO_EXECUTION"
        timeline: list[StateLine] = []
        error = None
        if execution_arn is not None:
            status, timeline, error = _follow(sfn, execution_arn, options.timeout_seconds, on_state)
        enforcement = local_iam.current()
        denied = [
            {
                "principal": d.principal,
                "action": d.action,
                "resource": d.resource,
                "operation": d.operation,
                "message": d.message,
            }
            for d in (enforcement.denials if enforcement else [])
        ]
        if execution_arn is None and denied:
            # EventBridge could not start the state machine: on AWS the rule's failed invocations show it.
            error = {
                "error": "AccessDenied",
                "cause": "EventBridge could not start the execution: " + denied[0]["message"],
            }
        report = _report(s3, deployed.bucket, execution_arn)
        sent = _notifications(deployed.topic_arn)
        return RunResult(
            status=status,
            states=[line.name for line in timeline],
            timeline=timeline,
            error=error,
            resources=leftover_resources(),
            dataset_uri=_dataset_location(s3, deployed.bucket, key, report),
            report=report,
            notifications=[subject for subject, _ in sent],
            notification_messages=[message for _, message in sent],
            faults_fired=local_faults.fired_counts(),
            access_denied=denied,
            grants=list(enforcement.grants if enforcement else []),
            jobs_created=len(
                boto3.client("bedrock", region_name=stack.REGION).list_model_customization_jobs()[
                    "modelCustomizationJobSummaries"
                ]
            ),
            execution_arn=execution_arn,
            bucket=deployed.bucket,
            log_file=str(log_file),
            seconds=time.monotonic() - started,
        )


def _wait_for_execution(sfn: Any, state_machine_arn: str) -> str | None:
    deadline = time.monotonic() + NO_EXECUTION_GRACE_SECONDS
    while time.monotonic() < deadline:
        executions = sfn.list_executions(stateMachineArn=state_machine_arn)["executions"]
        if executions:
            return str(executions[0]["executionArn"])
        time.sleep(0.05)
    return None


def _follow(
    sfn: Any, execution_arn: str, timeout: float, on_state: Callable[[StateLine], None] | None
) -> tuple[Status, list[StateLine], dict[str, str] | None]:
    deadline = time.monotonic() + timeout
    reported = 0
    timeline: list[StateLine] = []
    next_history = 0.0
    while True:
        description = sfn.describe_execution(executionArn=execution_arn)
        running = description["status"] == "RUNNING"
        # The whole history is read (and serialized by moto) each time: a few times a second is enough for the
        # live timeline, and leaves the interpreter's thread the CPU.
        if not running or time.monotonic() >= next_history:
            timeline = timeline_from_history(_history(sfn, execution_arn), finished=not running)
            next_history = time.monotonic() + HISTORY_INTERVAL_SECONDS
            for line in timeline[reported:]:
                if on_state:
                    on_state(line)
            reported = len(timeline)
        if not running:
            break
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=execution_arn, error="LocalTimeout", cause=f"no end after {timeout} s")
            return "TIMED_OUT", timeline, {"error": "LocalTimeout", "cause": f"no end after {timeout} s"}
        time.sleep(0.05)
    status = description["status"]
    error = None
    if status != "SUCCEEDED":
        error = {"error": description.get("error", ""), "cause": description.get("cause", "")}
    return status, timeline, error


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
        elif kind in {"LambdaFunctionFailed", "TaskFailed", "LambdaFunctionTimedOut"}:
            details = event.get("lambdaFunctionFailedEventDetails") or event.get("taskFailedEventDetails") or {}
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
    bedrock = boto3.client("bedrock", region_name=stack.REGION)
    throughputs = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    deployments = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    jobs = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]
    models = bedrock.list_custom_models()["modelSummaries"]
    return {
        "provisioned_throughputs": [
            {"arn": item["provisionedModelArn"], "status": item["status"]} for item in throughputs
        ],
        "custom_model_deployments": [
            {"arn": item["customModelDeploymentArn"], "status": item["status"]} for item in deployments
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


def _dataset_location(s3: Any, bucket: str, key: str, report: dict[str, Any] | None) -> str | None:
    final = ((report or {}).get("dataset") or {}).get("finalUri")
    if final:
        return str(final)
    try:
        s3.head_object(Bucket=bucket, Key=key)
    except s3.exceptions.ClientError:
        return None
    return f"s3://{bucket}/{key}"


def _notifications(topic_arn: str) -> list[tuple[str, str]]:
    topic = sns_backends[stack.ACCOUNT_ID][stack.REGION].topics[topic_arn]
    return [(str(item[2] or ""), str(item[1])) for item in topic.sent_notifications]
