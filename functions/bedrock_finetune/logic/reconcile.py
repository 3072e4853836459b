"""Reconcile: the scheduled sweep that catches whatever every other path missed.

Every resource a run creates carries tags (``naming.run_tags``): ``managed-by``, ``stack`` (this stack's name),
``execution-arn`` and, for a deployment a run was asked to keep, ``keep=true``. Every few minutes (template.yaml's
``ReconcileSchedule``) this sweep lists every job in progress, every provisioned throughput and every custom model
deployment of the account and Region, and for each one

* without this stack's ``managed-by`` and ``stack`` tags: touches nothing (only counts it);
* tagged ``keep=true``: touches nothing;
* tagged ``keep-until=<UTC time>`` (a provisioned throughput kept by ``budget.maxDeploymentHours``): when its run
  SUCCEEDED, touches nothing until that time, then deletes it like any other whose run ended (renewing = moving the
  tag later); a failed run's is deleted at once; a tag that is not a time is reported and left alone;
* whose execution still runs (RUNNING, or PENDING_REDRIVE: it may run again): leaves it to its run;
* otherwise (the execution ended, or never existed): stops the job or deletes the throughput or deployment.

This is what catches a job or throughput created by a Lambda that was still mid-call when its execution was aborted
(AbortedRunCleanup had already looked), a Cleanup that gave up, a console action, or a permission removed later.

It is idempotent and safe next to Cleanup: a resource that is already gone or no longer running when the sweep gets
to it (ResourceNotFoundException, or a Stop of a job that just ended) is reported as ``already-ended``, never as a
failure; a Delete that answers ConflictException (still Creating or Updating) is retried while the resource settles,
as Cleanup does. Resources are listed *before* their executions are looked up, so a resource that exists when it is
listed belongs to an execution that had started by then: one still running is seen running.

What it did goes to ``reports/reconciler/<timestamp>.json`` and, when it stopped, deleted or failed to remove
anything, to the notification topic. Nothing here reads or writes dataset content.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune import aws, clock, cost, naming
from bedrock_finetune.config import StackSettings
from bedrock_finetune.errors import ConfigInvalid, TransientAwsError
from bedrock_finetune.logic import deployment as deployments
from bedrock_finetune.logic import refresh_prices, training
from bedrock_finetune.logic.outcome import COSTS
from bedrock_finetune.logic.reporting import remove_command
from bedrock_finetune.models import (
    DeploymentKind,
    LeftoverKind,
    NotifyOutput,
    ReconcileAction,
    ReconciledResource,
    ReconcileOutput,
)

#: Statuses of an execution that may still create or use its resources (Step Functions API Reference,
#: DescribeExecution ``status``; a PENDING_REDRIVE execution is redriven and runs again).
LIVE_EXECUTION_STATUSES = frozenset({"RUNNING", "PENDING_REDRIVE"})
#: Time one sweep may spend waiting for busy resources (the function's timeout is 900 s).
WAIT_BUDGET_SECONDS = 600.0
NO_EXECUTION = "none"
_DEPLOYMENT_KIND: dict[LeftoverKind, DeploymentKind] = {
    "provisioned-throughput": "provisioned",
    "custom-model-deployment": "on-demand",
}
_NAMES: dict[LeftoverKind, str] = {
    "model-customization-job": "job",
    "provisioned-throughput": "provisioned throughput",
    "custom-model-deployment": "custom model deployment",
}


@dataclass(frozen=True)
class Listed:
    kind: LeftoverKind
    arn: str
    status: str
    #: A provisioned throughput's model units (what it bills by the hour).
    units: int = 0
    #: A provisioned throughput's base model (its foundation-model ARN), for its price.
    foundation_model_arn: str = ""


def _list_jobs() -> list[Listed]:
    """Jobs InProgress only: a Stopping job is already being stopped, an ended one costs nothing."""
    paginator = aws.client("bedrock").get_paginator("list_model_customization_jobs")
    return [
        Listed("model-customization-job", item["jobArn"], str(item.get("status")))
        for page in paginator.paginate(statusEquals="InProgress")
        for item in page.get("modelCustomizationJobSummaries", [])
    ]


def _list_throughputs() -> list[Listed]:
    paginator = aws.client("bedrock").get_paginator("list_provisioned_model_throughputs")
    return [
        Listed(
            "provisioned-throughput",
            item["provisionedModelArn"],
            str(item.get("status")),
            int(item.get("modelUnits") or 0),
            str(item.get("foundationModelArn") or ""),
        )
        for page in paginator.paginate()
        for item in page.get("provisionedModelSummaries", [])
    ]


def _list_deployments() -> list[Listed]:
    paginator = aws.client("bedrock").get_paginator("list_custom_model_deployments")
    return [
        Listed("custom-model-deployment", item["customModelDeploymentArn"], str(item.get("status")))
        for page in paginator.paginate()
        for item in page.get("modelDeploymentSummaries", [])
    ]


_LISTERS: tuple[tuple[LeftoverKind, Callable[[], list[Listed]]], ...] = (
    ("model-customization-job", _list_jobs),
    ("provisioned-throughput", _list_throughputs),
    ("custom-model-deployment", _list_deployments),
)


def hourly_usd(item: Listed, prices: cost.PriceTable | None) -> float:
    """What a provisioned throughput costs per hour (model units × the no-commitment price per model-unit hour of
    its base model in ``prices``: the table, the Price List refresh and the stack's overrides); 0 when its model has
    no price here (or ``prices`` is None: the overrides are wrong)."""
    if prices is None:
        return 0.0
    base = item.foundation_model_arn.rsplit("/", 1)[-1]
    region = item.arn.split(":")[3] if item.arn.count(":") >= 3 else ""
    try:
        spec = cost.model_for(base, "foundationModelArn")
        price = prices.region_prices(spec.id, region).get(cost.PROVISIONED_PER_MODEL_UNIT_HOUR)
    except ConfigInvalid:
        return 0.0
    return 0.0 if price is None else item.units * price.usd


def price_table(settings: StackSettings, problems: list[str]) -> cost.PriceTable | None:
    """The prices the running cost is counted with (None when the stack's PriceOverrides are wrong: reported). A
    Price List refresh that cannot be read is reported and the table alone is used."""
    try:
        overrides = cost.parse_overrides(settings.price_overrides or None)
    except ConfigInvalid as exc:
        problems.append(f"the running cost was not counted: {exc}")
        return None
    try:
        table = refresh_prices.current_table(settings, aws.region())
    except (ClientError, TransientAwsError) as exc:
        problems.append(f"the Price List refresh could not be read ({_reason(exc)}); priced with the table alone")
        table = cost.load_table()
    return cost.apply_overrides(table, overrides)


def _reason(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return f"{getattr(exc, 'operation_name', 'call')} answered {aws.error_code(exc) or aws.http_status(exc)}"
    return str(exc) if isinstance(exc, TransientAwsError) else type(exc).__name__


@dataclass
class _Sweep:
    settings: StackSettings
    wait: aws.BusyWait
    examined: int = 0
    not_ours: int = 0
    kept: list[str] = field(default_factory=list)
    running: list[str] = field(default_factory=list)
    acted: list[ReconciledResource] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    _running_tags: set[str] | None = None

    # --- whose is it, and does its run still run? -------------------------------------------------------------------
    def execution_status(self, execution_arn: str | None) -> str:
        """The execution's status, or NO_EXECUTION when the tag is missing or names no execution."""
        if not execution_arn:
            return NO_EXECUTION
        status = aws.execution_status(execution_arn)
        if status is not None:
            return status
        # The tag holds the ARN reduced to the characters Bedrock accepts in tag values (naming.tag_value): for an
        # execution name with other characters it names nothing. Such an execution is found among the running ones.
        if self._running_tags is None:
            arns = aws.running_executions(self.settings.state_machine_arn) if self.settings.state_machine_arn else []
            self._running_tags = {naming.tag_value(arn) for arn in arns}
        return "RUNNING" if execution_arn in self._running_tags else NO_EXECUTION

    def examine(self, listed: Listed) -> None:
        self.examined += 1
        try:
            tags = aws.bedrock_tags(listed.arn)
        except (ClientError, TransientAwsError) as exc:
            self.problems.append(f"{_NAMES[listed.kind]} {listed.arn}: its tags could not be read ({_reason(exc)})")
            return
        if tags is None:
            return  # gone since it was listed
        if not naming.belongs_to_stack(tags, self.settings.stack_name):
            self.not_ours += 1
            return
        if naming.is_kept(tags):
            self.kept.append(listed.arn)
            return
        until = naming.keep_until(tags)
        if until == "malformed":
            # Nothing is removed on a guess: reported, and kept until the tag is readable.
            self.kept.append(listed.arn)
            self.problems.append(
                f"{_NAMES[listed.kind]} {listed.arn}: left alone, its {naming.TAG_KEEP_UNTIL} tag "
                f"{tags.get(naming.TAG_KEEP_UNTIL)!r} is not a UTC time such as 2026-12-31T18:00:00Z"
            )
            return
        execution = tags.get(naming.TAG_EXECUTION) or None
        try:
            status = self.execution_status(execution)
        except (ClientError, TransientAwsError) as exc:
            # Never remove what a run may still be using: unknown counts as running, and is reported.
            self.problems.append(
                f"{_NAMES[listed.kind]} {listed.arn}: left alone, the status of its execution {execution} could not "
                f"be read ({_reason(exc)})"
            )
            return
        if status in LIVE_EXECUTION_STATUSES:
            self.running.append(listed.arn)
            return
        if until is not None and status == "SUCCEEDED" and clock.now() < until:
            # Kept by budget.maxDeploymentHours, and the time is not up yet. Only a run that succeeded keeps its
            # deployment: the tag is set when the throughput is created, so a failed run's (its Cleanup could not
            # delete it) is removed now, not at the deadline.
            self.kept.append(listed.arn)
            return
        action, detail, now = self.remove(listed)
        expired = naming.format_keep_until(until) if until is not None else None
        if expired is not None and action == "deleted":
            detail = f"kept until {expired} (budget.maxDeploymentHours) and not renewed: {detail}"
        self.acted.append(
            ReconciledResource(
                kind=listed.kind,
                arn=listed.arn,
                run_id=tags.get(naming.TAG_RUN_ID),
                execution_arn=execution,
                execution_status=status,
                status=now,
                action=action,
                detail=detail,
                cost=COSTS[listed.kind],
                kept_until=expired,
            )
        )

    # --- stop or delete ---------------------------------------------------------------------------------------------
    def remove(self, listed: Listed) -> tuple[ReconcileAction, str, str]:
        """(what happened, a sentence, the resource's status afterwards)."""
        if listed.kind == "model-customization-job":
            return self._stop(listed.arn)
        return self._delete(_DEPLOYMENT_KIND[listed.kind], listed.arn)

    def _stop(self, arn: str) -> tuple[ReconcileAction, str, str]:
        try:
            done = training.stop_job(arn, self.wait)
        except (ClientError, TransientAwsError) as exc:
            status = self._job_status(arn)
            if status not in ("InProgress", "unknown"):
                # Stopped or ended meanwhile (Cleanup got there first): nothing runs.
                return "already-ended", f"the job is {status}", status
            return "failed", f"could not stop it: {_reason(exc)}", status
        if done is None or not done.startswith("stopped"):
            status = self._job_status(arn)
            return "already-ended", f"the job is {status}", status
        return "stopped", done, "Stopping"

    def _job_status(self, arn: str) -> str:
        try:
            return training.job_status(arn) or "gone"
        except (ClientError, TransientAwsError):
            return "unknown"

    def _delete(self, kind: DeploymentKind, arn: str) -> tuple[ReconcileAction, str, str]:
        try:
            deleted = deployments.delete(kind, arn, self.wait)
        except (ClientError, TransientAwsError) as exc:
            status = getattr(exc, "status", None) or self._deployment_status(kind, arn)
            if status == "gone":
                return "already-ended", "deleted meanwhile (by Cleanup or a person)", "gone"
            return "failed", f"could not delete it: {_reason(exc)}", status
        if not deleted:
            return "already-ended", "deleted meanwhile (by Cleanup or a person)", "gone"
        return "deleted", f"deleted {deployments.KIND_NAMES[kind]} {arn}", "gone"

    def _deployment_status(self, kind: DeploymentKind, arn: str) -> str:
        try:
            return deployments.status(kind, arn) or "gone"
        except (ClientError, TransientAwsError):
            return "unknown"


def reconcile(settings: StackSettings, scheduled_time: str | None = None) -> ReconcileOutput:
    """One sweep (see the module docstring)."""
    if not settings.stack_name:
        raise ConfigInvalid("function environment: STACK_NAME is not set; the reconciler touches only tagged resources")
    started = clock.now()
    sweep = _Sweep(
        settings,
        aws.BusyWait(
            initial_seconds=settings.deployment_poll_initial_seconds,
            max_seconds=settings.deployment_poll_max_seconds,
            budget_seconds=WAIT_BUDGET_SECONDS,
        ),
    )
    # Every List first (each on its own: one failing is reported and the others go on), then the executions.
    listed: list[Listed] = []
    for kind, lister in _LISTERS:
        try:
            with aws.transient_errors():
                listed.extend(lister())
        except (ClientError, TransientAwsError) as exc:
            sweep.problems.append(f"{_NAMES[kind]}s were not checked: {_reason(exc)}")
    for item in listed:
        sweep.examine(item)

    ours = set(sweep.running) | set(sweep.kept)
    active = [item for item in listed if item.arn in ours]
    throughputs = [item for item in active if item.kind == "provisioned-throughput" and item.status != "Failed"]
    prices = price_table(settings, sweep.problems) if throughputs else None
    removed = [item for item in sweep.acted if item.action != "already-ended"]
    notification = None
    if removed:
        try:
            notification = _notify(settings, sweep.acted)
        except (ClientError, TransientAwsError) as exc:
            sweep.problems.append(f"the notification could not be sent: {_reason(exc)}")
    report_uri = None
    if sweep.acted or sweep.problems:
        moment = started.strftime("%Y-%m-%dT%H-%M-%SZ")
        key = naming.reconciler_report_key(moment)
        report = _report(settings, started, scheduled_time, sweep, notification)
        aws.put_json(settings.bucket_name, key, json.dumps(report, indent=2))
        report_uri = f"s3://{settings.bucket_name}/{key}"
    return ReconcileOutput(
        jobs_in_progress=sum(item.kind == "model-customization-job" for item in active),
        provisioned_model_units=sum(
            item.units for item in active if item.kind == "provisioned-throughput" and item.status != "Failed"
        ),
        provisioned_usd_per_hour=math.fsum(hourly_usd(item, prices) for item in throughputs),
        removed=len(removed),
        stack=settings.stack_name,
        started_at=started.isoformat(),
        examined=sweep.examined,
        not_ours=sweep.not_ours,
        kept=sweep.kept,
        running=sweep.running,
        acted=sweep.acted,
        problems=sweep.problems,
        report_uri=report_uri,
        notification=notification,
    )


def _report(
    settings: StackSettings,
    started: datetime,
    scheduled_time: str | None,
    sweep: _Sweep,
    notification: NotifyOutput | None,
) -> dict[str, Any]:
    return {
        "stack": settings.stack_name,
        "scheduledTime": scheduled_time,
        "startedAt": started.isoformat(),
        "finishedAt": clock.now().isoformat(),
        "examined": sweep.examined,
        "notOurs": sweep.not_ours,
        "kept": sweep.kept,
        "running": sweep.running,
        "acted": [
            {
                **item.model_dump(mode="json", by_alias=True),
                **({"command": remove_command(item.kind, item.arn)} if item.action == "failed" else {}),
            }
            for item in sweep.acted
        ],
        "problems": sweep.problems,
        "notification": notification.model_dump(mode="json", by_alias=True) if notification else None,
    }


def _subject(acted: list[ReconciledResource]) -> str:
    counts: dict[str, int] = {}
    for item in acted:
        if item.action in ("stopped", "deleted"):
            label = f"{item.action} {_NAMES[item.kind]}"
            counts[label] = counts.get(label, 0) + 1
    parts = [f"{label} x{count}" for label, count in counts.items()]
    failed = sum(1 for item in acted if item.action == "failed")
    if failed:
        parts.append(f"{failed} NOT removed")
    return f"bedrock-finetune reconciler: {', '.join(parts)}"[:100]


def _message(settings: StackSettings, acted: list[ReconciledResource]) -> str:
    lines = [
        f"The reconciler of stack {settings.stack_name} found resources of runs that no longer run (their "
        "executions ended without removing them, or never existed), or kept only until a time that has passed "
        "(budget.maxDeploymentHours).",
        "",
    ]
    for item in acted:
        lines.append(f"- {_NAMES[item.kind]} {item.arn}")
        lines.append(f"  run {item.run_id or '(unknown)'}, execution {item.execution_arn or '(none)'}")
        if item.kept_until:
            lines.append(f"  kept until {item.kept_until} (budget.maxDeploymentHours), not renewed")
        lines.append(f"  execution status {item.execution_status}; {item.action}: {item.detail}")
        if item.action == "failed":
            lines.append(f"  STILL THERE ({item.status}): {item.cost}")
            lines.append(f"  remove it with: {remove_command(item.kind, item.arn)}")
    lines += ["", f"Report: s3://{settings.bucket_name}/reports/reconciler/"]
    return "\n".join(lines)


def _notify(settings: StackSettings, acted: list[ReconciledResource]) -> NotifyOutput:
    title = _subject(acted)
    with aws.transient_errors():
        response = aws.client("sns").publish(
            TopicArn=settings.topic_arn,
            Subject=title,
            Message=_message(settings, acted),
            MessageAttributes={"outcome": {"DataType": "String", "StringValue": "RECONCILED"}},
        )
    return NotifyOutput(message_id=response["MessageId"], subject=title)
