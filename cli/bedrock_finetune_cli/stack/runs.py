"""``runs``, ``status`` and ``report``: what the stack's runs did, from Step Functions and ``reports/<run>/``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import webbrowser
from datetime import datetime
from pathlib import Path
from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune_cli.catalog import table
from bedrock_finetune_cli.common import EXIT_FAILED, EXIT_OK, UsageError
from bedrock_finetune_cli.stack import follow
from bedrock_finetune_cli.stack.aws import (
    Stack,
    aws_errors,
    connect,
    console_url,
    execution_arn,
    get_json,
    get_object,
    is_error,
)

COLUMNS = ("RUN", "DATASET", "STATUS", "STATE", "BASE MODEL", "VAL LOSS", "DEPLOYMENT", "AGE")


def report_key(run: str, name: str = "report.json") -> str:
    return f"reports/{run}/{name}"


# --- runs ------------------------------------------------------------------------------------------------------------
@aws_errors
def runs_command(args: argparse.Namespace) -> int:
    if args.limit < 1:
        raise UsageError("--limit must be at least 1")
    stack = connect(args.stack, args.region, args.profile)
    sfn, s3 = stack.client("stepfunctions"), stack.client("s3")
    executions = _recent_executions(sfn, stack.state_machine_arn, args.limit)
    rows = [_run_row(sfn, s3, stack, execution) for execution in executions]
    if args.json:
        print(json.dumps({"stack": stack.name, "runs": rows}, default=str))
        return EXIT_OK
    if not rows:
        print(f"No runs yet in {stack.name} ({stack.region}).")
        return EXIT_OK
    cells = [COLUMNS] + [
        (
            row["run"],
            row["dataset"] or "-",
            row["status"],
            row["state"] or "-",
            row["baseModelId"] or "-",
            _loss(row["validationLoss"]),
            row["deployment"] or "-",
            age(row["ageSeconds"]),
        )
        for row in rows
    ]
    print(table(cells), end="")
    return EXIT_OK


def _recent_executions(sfn: Any, machine: str, limit: int) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    token = None
    while len(found) < limit:
        page = sfn.list_executions(
            stateMachineArn=machine, maxResults=min(limit - len(found), 100), **({"nextToken": token} if token else {})
        )
        found += page.get("executions") or []
        token = page.get("nextToken")
        if not token:
            break
    found.sort(key=lambda execution: execution["startDate"], reverse=True)
    return found[:limit]


def _run_row(sfn: Any, s3: Any, stack: Stack, execution: dict[str, Any]) -> dict[str, Any]:
    from bedrock_finetune.naming import run_id  # noqa: PLC0415

    run = run_id(execution["name"])
    report = get_json(s3, stack.bucket, report_key(run))
    row: dict[str, Any] = {
        "run": run,
        "executionArn": execution["executionArn"],
        "status": execution["status"],
        "startDate": execution["startDate"],
        "stopDate": execution.get("stopDate"),
        "ageSeconds": (follow.now() - execution["startDate"]).total_seconds(),
        "dataset": None,
        "state": None,
        "baseModelId": None,
        "validationLoss": None,
        "deployment": None,
        "report": report is not None,
    }
    if report is not None:
        row.update(_from_report(report))
    if report is None or execution["status"] == "RUNNING":
        snapshot = follow.look(sfn, execution["executionArn"], history=True)
        row["dataset"] = row["dataset"] or _dataset_of_input(snapshot.input or {})
        row["baseModelId"] = row["baseModelId"] or snapshot.base_model_id
        row["deployment"] = row["deployment"] or snapshot.deployment_mode
        if execution["status"] == "RUNNING":
            row["state"] = follow.progress_line(snapshot, with_time=False).split("  ", 1)[-1]
        elif snapshot.error:
            row["state"] = snapshot.error
    return row


def _from_report(report: dict[str, Any]) -> dict[str, Any]:
    dataset = report.get("dataset") or {}
    source = dataset.get("source") or ""
    metrics = report.get("metrics") or {}
    loss = metrics.get("validationLoss")
    winner = (report.get("sweep") or {}).get("winner") or {}
    if loss is None:
        loss = winner.get("validationLoss")
    state = None
    if report.get("duplicateOf"):
        state = f"duplicate of {report['duplicateOf']}"
    elif report.get("error"):
        state = str((report.get("error") or {}).get("error"))
    retrain = report.get("retrain") or {}
    if retrain and not source:
        source = f"retrain of {retrain.get('fromRun')}"
    return {
        "dataset": str(source).rsplit("/", 1)[-1] or None,
        "state": state,
        "baseModelId": report.get("baseModelId"),
        "validationLoss": loss,
        "deployment": _deployment(report.get("deployment") or {}),
        "outcome": report.get("outcome"),
        "modelArn": (report.get("model") or {}).get("arn"),
    }


def _deployment(deployment: dict[str, Any]) -> str | None:
    mode = deployment.get("mode")
    if not mode:
        return None
    if not deployment.get("arn"):
        return str(mode) if mode == "none" else f"{mode} (not deployed)"
    if deployment.get("kept"):
        return f"{mode} kept"
    return f"{mode} deleted" if deployment.get("deleted") else f"{mode} NOT deleted"


def _dataset_of_input(execution_input: dict[str, Any]) -> str | None:
    detail = execution_input.get("detail") or {}
    key = (detail.get("object") or {}).get("key") or execution_input.get("datasetUri")
    if key:
        return str(key).rsplit("/", 1)[-1]
    if execution_input.get("retrainFrom"):
        return f"retrain of {execution_input['retrainFrom']}"
    return None


def _loss(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) and not isinstance(value, bool) else "-"


def age(seconds: float) -> str:
    """``45s``, ``12m``, ``5h``, ``3d``."""
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{int(seconds // size)}{unit}"
    return f"{max(0, int(seconds))}s"


# --- status ----------------------------------------------------------------------------------------------------------
def find_execution(sfn: Any, stack: Stack, run: str) -> str:
    """The execution ARN of a run id (or an execution ARN), in the fine-tune or the retire state machine."""
    if run.startswith("arn:") and ":execution:" in run:
        return run
    machines = [stack.state_machine_arn]
    if stack.outputs.get("RetireStateMachineArn"):
        machines.append(stack.outputs["RetireStateMachineArn"])
    for machine in machines:
        arn = execution_arn(machine, run)
        try:
            sfn.describe_execution(executionArn=arn)
        except ClientError as error:
            if is_error(error, "ExecutionDoesNotExist"):
                continue
            raise
        return arn
    raise UsageError(f"no run {run} in stack {stack.name} (`bedrock-finetune runs` lists the recent ones)")


@aws_errors
def status_command(args: argparse.Namespace) -> int:
    stack = connect(args.stack, args.region, args.profile)
    sfn = stack.client("stepfunctions")
    arn = find_execution(sfn, stack, args.run)
    snapshot = follow.look(sfn, arn)
    steps = follow.timeline(list(follow.all_events(sfn, arn)))
    run = arn.rsplit(":", 1)[-1]
    report = get_json(stack.client("s3"), stack.bucket, report_key(run)) if _is_finetune(stack, arn) else None
    if args.json:
        payload = {
            "run": run,
            "executionArn": arn,
            "status": snapshot.status,
            "state": snapshot.state,
            "jobStatus": snapshot.job_status,
            "queuePosition": snapshot.queue_position,
            "startDate": snapshot.started,
            "stopDate": snapshot.stopped,
            "error": snapshot.error,
            "cause": follow.readable(snapshot.cause, limit=2000) or None,
            "timeline": [
                {"state": step.name, "visits": step.visits, "seconds": round(step.seconds, 3), "outcome": step.outcome}
                for step in steps
            ],
            "report": report,
        }
        print(json.dumps(payload, default=str))
        return follow.exit_code(snapshot) if snapshot.status != "RUNNING" else EXIT_OK
    print(f"Run        {run}")
    print(f"Status     {_status_text(snapshot)}")
    print(f"Started    {_when(snapshot.started)}" + (f", ended {_when(snapshot.stopped)}" if snapshot.stopped else ""))
    print(f"Console    {console_url(arn)}")
    if steps:
        print("\nTimeline")
        for step in steps:
            visits = f"x{step.visits}" if step.visits > 1 else ""
            print(f"  {step.name:<30} {visits:>4} {follow.duration(step.seconds):>9}  {step.outcome}")
    lines = follow.report_summary(report, snapshot)
    if lines:
        print("\nReport" if report else "\nOutput")
        for line in lines:
            print(f"  {line}")
    elif snapshot.status != "RUNNING":
        print(f"\nNo report at s3://{stack.bucket}/{report_key(run)}.")
    return follow.exit_code(snapshot) if snapshot.status != "RUNNING" else EXIT_OK


def _is_finetune(stack: Stack, arn: str) -> bool:
    return arn.rsplit(":", 1)[0] == execution_arn(stack.state_machine_arn, "x").rsplit(":", 1)[0]


def _status_text(snapshot: follow.Snapshot) -> str:
    if snapshot.status == "RUNNING":
        return f"RUNNING for {follow.duration(snapshot.seconds)}: {follow.progress_line(snapshot, with_time=False)}"
    text = f"{snapshot.status} after {follow.duration(snapshot.seconds)}"
    if snapshot.error:
        cause = follow.readable(snapshot.cause)
        text += f": {snapshot.error}" + (f": {cause}" if cause else "")
    return text


def _when(moment: datetime | None) -> str:
    return moment.astimezone().strftime("%Y-%m-%d %H:%M:%S %Z") if moment else "-"


# --- report ----------------------------------------------------------------------------------------------------------
@aws_errors
def report_command(args: argparse.Namespace) -> int:
    stack = connect(args.stack, args.region, args.profile)
    s3 = stack.client("s3")
    if args.html or args.open:
        key = report_key(args.run, "report.html")
        data = get_object(s3, stack.bucket, key)
        if data is None:
            print(f"s3://{stack.bucket}/{key} is not there (runs write report.html when they end; see report.json)")
            return EXIT_FAILED
        if args.html:
            try:
                Path(args.html).write_bytes(data)
            except OSError as error:
                raise UsageError(f"--html {args.html}: {error.strerror or error}") from error
            print(f"Wrote {args.html} ({len(data):,} bytes) from s3://{stack.bucket}/{key}")
            return EXIT_OK
        with tempfile.NamedTemporaryFile("wb", prefix=f"{args.run}-", suffix=".html", delete=False) as file:
            file.write(data)
        opened = webbrowser.open(Path(file.name).as_uri())
        print(f"{'Opened' if opened else 'Open'} {file.name}")
        return EXIT_OK
    data = get_object(s3, stack.bucket, report_key(args.run))
    if data is None:
        print(
            f"no report at s3://{stack.bucket}/{report_key(args.run)}: a run writes it when it ends "
            f"(`bedrock-finetune status {args.run}` shows where it is)",
            file=sys.stderr,
        )
        return EXIT_FAILED
    try:
        print(json.dumps(json.loads(data), indent=2))
    except ValueError:
        sys.stdout.write(data.decode("utf-8", "replace"))
    return EXIT_OK
