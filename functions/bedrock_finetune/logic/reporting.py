"""The run report (JSON in reports/, next to a quarantined dataset, and the basis of every notification).

It carries ids, counts, codes, losses and timings; never dataset content (smoke-test prompts and answers stay in
their own private object, referenced by key)."""

from __future__ import annotations

import json
import math
from datetime import datetime
from typing import Any, Literal

from bedrock_finetune import aws, clock, naming
from bedrock_finetune.config import RetrainPlan
from bedrock_finetune.models import ExecutionContext, LeftoverKind, RunState, SweepState

Outcome = Literal["SUCCEEDED", "FAILED"]
VALIDATION_ERRORS_IN_REPORT = 100
VALIDATION_ERRORS_IN_MESSAGE = 10


def build_report(
    state: RunState,
    execution: ExecutionContext,
    *,
    outcome: Outcome,
    dataset_uri: str | None,
    source_uri: str | None = None,
    validation_report: dict[str, Any] | None = None,
    cleanup: dict[str, Any] | None = None,
) -> dict[str, Any]:
    config = state.config
    report: dict[str, Any] = {
        "outcome": outcome,
        "runId": config.run_id if config else execution.name,
        "executionArn": execution.id,
        "startedAt": execution.start_time,
        "finishedAt": clock.now().isoformat(),
        "dataset": {"source": source_uri or (config.source.uri if config else None), "finalUri": dataset_uri},
    }
    if config:
        report["baseModelId"] = config.base_model_id
        report["customizationType"] = config.customization_type
        report["hyperParameters"] = config.hyper_parameters
    if state.validation:
        report["validation"] = {
            "reportUri": f"s3://{config.bucket}/{state.validation.report_key}" if config else None,
            "files": [item.model_dump(mode="json", by_alias=True) for item in state.validation.files],
            "warningCounts": state.validation.warning_counts,
            "estimatedTokens": state.validation.estimated_tokens,
        }
    if validation_report is not None:
        report["validation"] = {
            "valid": validation_report.get("valid"),
            "errorCounts": (validation_report.get("stats") or {}).get("error_counts"),
            "errors": (validation_report.get("errors") or [])[:VALIDATION_ERRORS_IN_REPORT],
            "warningCount": len(validation_report.get("warnings") or []),
        }
    if state.staged:
        report["dataset"]["staged"] = state.staged.model_dump(mode="json", by_alias=True)
    claim = state.claim
    if claim is not None and claim.duplicate_of:
        # Not trained again: the same content and settings were trained (or are training) by that run.
        report["duplicateOf"] = claim.duplicate_of
        report["duplicate"] = {
            "runId": claim.duplicate_of,
            "executionArn": claim.duplicate_execution_arn,
            "status": claim.duplicate_status,
            "model": {"name": claim.duplicate_model_name, "arn": claim.duplicate_model_arn},
            "fingerprint": claim.fingerprint,
        }
    elif claim is not None and claim.forced:
        report["forced"] = True
    if state.training is not None:
        queue = state.training.queue
        report["queue"] = {
            "waitedSeconds": queue.waited_seconds,
            "position": queue.initial_position,
            "enqueuedAt": queue.enqueued_at,
        }
    if state.job:
        report["job"] = {"arn": state.job.job_arn, "name": state.job.job_name}
        report["model"] = {"name": state.job.model_name}
    if state.job_status:
        report.setdefault("job", {}).update(
            status=state.job_status.status,
            message=state.job_status.message,
            elapsedSeconds=state.job_status.elapsed_seconds,
        )
        report.setdefault("model", {})["arn"] = state.job_status.model_arn
        if state.job_status.metrics:
            report["metrics"] = state.job_status.metrics.model_dump(mode="json", by_alias=True)
    if state.sweep is not None:
        report["sweep"] = sweep_section(state.sweep)
    if config is not None and config.retrain is not None:
        report["retrain"] = retrain_section(state, config.retrain)
    if state.deployment:
        kept = outcome == "SUCCEEDED" and state.release is None
        released = state.release is not None and state.release.arn == state.deployment.arn
        deleted_by_cleanup = state.deployment.arn in ((cleanup or {}).get("deleted") or [])
        report["deployment"] = {
            "mode": state.deployment.mode,
            "arn": state.deployment.arn,
            "name": state.deployment.name,
            "modelUnits": state.deployment.model_units,
            "status": state.deployment_status.status if state.deployment_status else None,
            "kept": kept,
            # budget.maxDeploymentHours: the reconciler deletes the kept throughput at this moment unless renewed.
            **({"keptUntil": state.deployment.kept_until} if kept and state.deployment.kept_until else {}),
            # True only when a Delete call for it succeeded (ReleaseDeployment or Cleanup): nothing is called
            # deleted that was not.
            "deleted": bool(released and state.release and state.release.deleted) or deleted_by_cleanup,
        }
    elif config:
        report["deployment"] = {"mode": config.deployment.mode, "arn": None, "kept": False}
    if state.smoke_test:
        report["smokeTest"] = state.smoke_test.model_dump(mode="json", by_alias=True)
    priced = cost_section(state, report)
    if priced is not None:
        report["cost"] = priced
    if state.error:
        report["error"] = {"error": state.error.Error, "cause": readable_cause(state.error.Cause)}
    if cleanup is not None:
        report["cleanup"] = cleanup
    return report


def cost_section(state: RunState, report: dict[str, Any]) -> dict[str, Any] | None:
    """``report.cost``: the estimate ValidateDataset made, and what the run really cost as far as it is known.

    Bedrock's GetModelCustomizationJob reports no billed token count (botocore: no such member), so the training
    tokens are the estimate, said as such, and count only when the job completed. Deployment hours run from
    DeployModel to the report (a kept Provisioned Throughput keeps costing ``usdPerHour`` after it)."""
    validation = state.validation
    if validation is None or validation.cost is None:
        return None
    estimate = validation.cost
    run = validation.run_estimate or {}
    section: dict[str, Any] = {"estimate": {**estimate, "runUsd": run.get("totalUsd"), "terms": run.get("terms")}}
    completed = state.job_status is not None and state.job_status.status == "Completed"
    actual: dict[str, Any] = {
        "billableTokens": estimate.get("billableTokens") if completed else 0,
        "billableTokensSource": (
            "estimate (Bedrock reports no billed token count)" if completed else "no completed training job"
        ),
        "trainingUsd": estimate.get("trainingUsd") if completed else 0.0,
    }
    deployment = estimate.get("deployment") or {}
    hours = _deployment_hours(state.deployment.created_at if state.deployment else None, str(report["finishedAt"]))
    if state.deployment is not None and hours is not None:
        actual["deploymentHours"] = round(hours, 3)
        if deployment.get("usdPerHour") is not None:
            # Provisioned Throughput is billed per hour started.
            actual["deploymentUsd"] = math.ceil(hours) * float(deployment["usdPerHour"])
    actual["totalUsd"] = float(actual["trainingUsd"]) + float(actual.get("deploymentUsd", 0.0))
    section["actual"] = actual
    kept = report.get("deployment") or {}
    if kept.get("kept") and deployment.get("usdPerHour") is not None:
        section["keptDeploymentUsdPerHour"] = deployment["usdPerHour"]
    return section


def _deployment_hours(created_at: str | None, until: str) -> float | None:
    if not created_at:
        return None
    try:
        start, end = datetime.fromisoformat(created_at), datetime.fromisoformat(until)
    except ValueError:
        return None
    return max(0.0, (end - start).total_seconds() / 3600)


def retrain_section(state: RunState, plan: RetrainPlan) -> dict[str, Any]:
    """``report.retrain``: both models, the records left out (line numbers and hashes, never their text), and the
    deployment swap."""
    section: dict[str, Any] = {
        "fromRun": plan.from_run,
        "previousModelArn": plan.from_model_arn,
        "newModelArn": state.job_status.model_arn if state.job_status else None,
    }
    prepared = state.retrain_dataset
    if prepared is not None:
        section.update(
            recordsBefore=prepared.records_before,
            recordsAfter=prepared.records_after,
            excludedRecords=[item.model_dump(mode="json") for item in prepared.excluded],
        )
    if plan.swap_deployment:
        swap = state.swap
        section["swap"] = {
            "deploymentArn": plan.deployment_arn,
            "mode": plan.deployment_mode,
            "status": swap.status if swap else "NotSwapped",
            "fromModelArn": plan.from_model_arn,
            "toModelArn": swap.to_model_arn if swap else None,
        }
    return section


def sweep_section(sweep: SweepState) -> dict[str, Any]:
    """``report.sweep``: every stage's variants with their losses and model, the best value of each stage, the
    winner, and what became of the other variants' models."""
    section: dict[str, Any] = {
        "lossUsed": sweep.loss_used,
        "stages": [
            {
                "parameter": stage.parameter,
                "variants": [
                    {
                        "variant": variant.variant,
                        "value": variant.value,
                        "hyperParameters": variant.hyper_parameters,
                        "status": variant.status,
                        "trainingLoss": variant.training_loss,
                        "validationLoss": variant.validation_loss,
                        "modelArn": variant.model_arn,
                        **({"message": variant.message} if variant.message else {}),
                    }
                    for variant in stage.variants
                ],
                "best": stage.best,
            }
            for stage in sweep.stages
        ],
        "winner": None,
        "deletedModels": sweep.deleted_models,
        "keptModels": sweep.kept_models,
    }
    if sweep.undeleted_models:
        section["undeletedModels"] = sweep.undeleted_models
    if sweep.next is not None:
        section["unfinishedStage"] = {"parameter": sweep.next.parameter, "variants": len(sweep.next.variants)}
    if sweep.winner is not None:
        section["winner"] = {
            "variant": sweep.winner.variant,
            "hyperParameters": sweep.winner.hyper_parameters,
            "validationLoss": sweep.winner.validation_loss,
            "trainingLoss": sweep.winner.training_loss,
            "modelArn": sweep.winner.model_arn,
        }
    return section


def sweep_lines(sweep: dict[str, Any]) -> list[str]:
    """The sweep as a table of losses, one row per variant, the best of each stage marked."""
    if not sweep:
        return []
    loss = sweep.get("lossUsed") or "validation"
    lines = [f"Sweep ({len(sweep.get('stages') or [])} stage(s), best = lowest final {loss} loss):"]
    for number, stage in enumerate(sweep.get("stages") or [], start=1):
        lines.append(f"  stage {number}: {stage.get('parameter')}")
        for variant in stage.get("variants") or []:
            mark = "*" if variant.get("value") == stage.get("best") else " "
            lines.append(
                f"   {mark} {variant.get('value')!s:>12}  {variant.get('status')!s:<10} "
                f"training {_loss(variant.get('trainingLoss'))}  validation {_loss(variant.get('validationLoss'))}"
            )
    winner = sweep.get("winner") or {}
    if winner:
        lines.append(f"  winner: {winner.get('hyperParameters')}")
    if sweep.get("deletedModels"):
        lines.append(f"  deleted the {len(sweep['deletedModels'])} other variants' custom models")
    if sweep.get("keptModels"):
        lines.append(f"  kept the {len(sweep['keptModels'])} other variants' custom models (keepAll)")
    for item in sweep.get("undeletedModels") or []:
        lines.append(f"  NOT deleted (costs storage until you delete it): {item}")
    return lines


def _loss(value: Any) -> str:
    return f"{value:.4f}" if isinstance(value, int | float) else "-"


def readable_cause(cause: str | None) -> str | None:
    """A Lambda error reaches the state machine as its JSON payload: keep the message, drop the stack trace."""
    if not cause or not cause.startswith("{"):
        return cause
    try:
        payload = json.loads(cause)
    except json.JSONDecodeError:
        return cause
    if isinstance(payload, dict) and isinstance(payload.get("errorMessage"), str):
        return str(payload["errorMessage"])
    return cause


def subject(report: dict[str, Any]) -> str:
    dataset = report.get("dataset") or {}
    name = dataset.get("source") or dataset.get("finalUri") or report.get("runId") or "run"
    name = str(name).rsplit("/", 1)[-1]
    if report.get("outcome") == "SUCCEEDED" and report.get("duplicateOf"):
        text = f"bedrock-finetune SUCCEEDED (already trained, not trained again): {name}"
    elif report.get("outcome") == "SUCCEEDED":
        text = f"bedrock-finetune SUCCEEDED: {name}"
    else:
        error = (report.get("error") or {}).get("error") or "error"
        text = f"bedrock-finetune FAILED ({error}): {name}"
    # SNS subjects: printable ASCII, at most 100 characters.
    return "".join(char if 32 <= ord(char) < 127 else "?" for char in text)[:100]


def region_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[3] if len(parts) > 3 and parts[3] else aws.region()


def remove_command(kind: LeftoverKind, arn: str) -> str:
    """The one AWS CLI command that removes (or, for a job, stops) the resource."""
    region = region_of(arn)
    if kind == "provisioned-throughput":
        return f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {arn} --region {region}"
    if kind == "custom-model-deployment":
        return (
            f"aws bedrock delete-custom-model-deployment --custom-model-deployment-identifier {arn} --region {region}"
        )
    return f"aws bedrock stop-model-customization-job --job-identifier {arn} --region {region}"


def cost_lines(report: dict[str, Any], leftovers: set[Any]) -> list[str]:
    """The estimate and the cost so far; a kept Provisioned Throughput's hourly cost next to the command that
    deletes it (the same command as the report's removal commands)."""
    priced = report.get("cost") or {}
    if not priced:
        return []
    estimate, actual = priced.get("estimate") or {}, priced.get("actual") or {}
    run_usd, training_usd = float(estimate.get("runUsd") or 0), float(estimate.get("trainingUsd") or 0)
    lines = [
        f"Estimated cost: ${run_usd:.2f} (training ${training_usd:.2f} for {estimate.get('billableTokens')} "
        f"billable tokens; prices as of {estimate.get('pricesAsOf')})",
        f"Cost so far: ${float(actual.get('totalUsd') or 0):.2f} ({actual.get('billableTokensSource')})",
    ]
    deployment = report.get("deployment") or {}
    per_hour = priced.get("keptDeploymentUsdPerHour")
    if per_hour is not None and deployment.get("arn"):
        arn = str(deployment["arn"])
        lines.append(
            f"The kept deployment costs ${float(per_hour):.2f} per hour until deleted: "
            f"{remove_command('provisioned-throughput', arn)}"
        )
        if deployment.get("keptUntil"):
            lines.append(
                f"It is kept until {deployment['keptUntil']} (budget.maxDeploymentHours): the reconciler deletes it "
                f"then, unless renewed: bedrock-finetune keep {report.get('runId')} --hours H, or "
                f"{renew_command(arn, 'YYYY-MM-DDTHH:MM:SSZ')}"
            )
    return lines


def renew_command(arn: str, until: str) -> str:
    """The AWS CLI command that keeps a throughput kept by ``budget.maxDeploymentHours`` until ``until`` (UTC,
    ``YYYY-MM-DDTHH:MM:SSZ``); ``bedrock-finetune keep`` does the same from a run id."""
    return (
        f"aws bedrock tag-resource --resource-arn {arn} --tags key={naming.TAG_KEEP_UNTIL},value={until} "
        f"--region {region_of(arn)}"
    )


def message(report: dict[str, Any]) -> str:
    """A plain-text notification for a person, followed by the report as JSON."""
    lines = [subject(report), ""]
    lines.append(f"Run: {report.get('runId')}  ({report.get('executionArn')})")
    dataset = report.get("dataset") or {}
    lines.append(f"Dataset: {dataset.get('source')}")
    lines.append(f"Dataset now at: {dataset.get('finalUri') or dataset.get('note') or 'not known'}")
    if report.get("baseModelId"):
        lines.append(f"Base model: {report['baseModelId']} ({report.get('customizationType')})")
    duplicate = report.get("duplicate") or {}
    if duplicate:
        earlier = duplicate.get("model") or {}
        lines.append(
            f"Not trained again: run {duplicate.get('runId')} ({duplicate.get('status')}) trained the same content "
            f"with the same settings. Its model: {earlier.get('arn') or earlier.get('name')}"
        )
        lines.append('To train anyway, start again with "force": true in the run configuration.')
    queue = report.get("queue") or {}
    if queue.get("waitedSeconds"):
        lines.append(
            f"Waited {queue['waitedSeconds']} s for a training job slot (queue position {queue.get('position')})"
        )
    lines.extend(sweep_lines(report.get("sweep") or {}))
    retrain = report.get("retrain") or {}
    if retrain:
        lines.append(
            f"Retrained from run {retrain.get('fromRun')} without {len(retrain.get('excludedRecords') or [])} "
            f"record(s) ({retrain.get('recordsBefore')} → {retrain.get('recordsAfter')}); previous model: "
            f"{retrain.get('previousModelArn')}"
        )
        swap = retrain.get("swap") or {}
        if swap:
            lines.append(
                f"Deployment {swap.get('deploymentArn')}: {swap.get('status')}"
                + (
                    f", now serving {swap.get('toModelArn')}"
                    if swap.get("status") == "Swapped"
                    else ", still on the previous model"
                )
            )
    model = report.get("model") or {}
    if model.get("arn"):
        lines.append(f"Custom model: {model['arn']}")
    metrics = report.get("metrics") or {}
    if metrics:
        lines.append(f"Training loss: {metrics.get('trainingLoss')}  validation loss: {metrics.get('validationLoss')}")
    cleanup = report.get("cleanup") or {}
    leftover_arns = {item.get("arn") for item in cleanup.get("leftovers", []) if isinstance(item, dict)}
    deployment = report.get("deployment") or {}
    if deployment.get("arn"):
        units = f", {deployment['modelUnits']} model unit(s)" if deployment.get("modelUnits") else ""
        lines.append(
            f"Deployment ({deployment.get('mode')}{units}, {_deployment_state(deployment, leftover_arns)}): "
            f"{deployment['arn']}"
        )
    lines.extend(cost_lines(report, leftover_arns))
    smoke = report.get("smokeTest") or {}
    if smoke:
        lines.append(
            f"Smoke test: {smoke.get('answered')}/{smoke.get('prompts')} answered, "
            f"median latency {smoke.get('medianLatencyMs')} ms"
            + (f" (skipped: {smoke['skippedReason']})" if smoke.get("skippedReason") else "")
        )
    error = report.get("error") or {}
    if error:
        lines += ["", f"Error: {error.get('error')}", f"Cause: {error.get('cause')}"]
    late = report.get("lateError") or {}
    if late:
        lines += [
            "",
            f"The run's outcome was settled before a later step failed ({late.get('error')}: {late.get('cause')}).",
            "Nothing was undone: the report, the dataset and any kept deployment are as stated above.",
        ]
    validation = report.get("validation") or {}
    for issue in (validation.get("errors") or [])[:VALIDATION_ERRORS_IN_MESSAGE]:
        lines.append(f"  {issue.get('file')}:{issue.get('line')} {issue.get('code')} {issue.get('message')}")
    if cleanup:
        lines.append("")
        lines += [f"Cleanup: {action}" for action in cleanup.get("actions", [])]
        if cleanup.get("error"):
            lines.append(f"Cleanup failed: {cleanup.get('error')}: {readable_cause(cleanup.get('cause'))}")
        lines += [f"Cleanup problem: {problem}" for problem in cleanup.get("problems", [])]
        for item in cleanup.get("leftovers", []):
            lines += leftover_lines(item)
    lines += ["", "Report:", json.dumps(report, indent=2, default=str)]
    return "\n".join(lines)


def _deployment_state(deployment: dict[str, Any], leftover_arns: set[Any]) -> str:
    if deployment.get("kept"):
        return "kept"
    if deployment.get("arn") in leftover_arns:
        return "NOT deleted, see below"
    return "deleted" if deployment.get("deleted") else "not deleted"


def leftover_lines(item: Any) -> list[str]:
    """A leftover as a person needs it: what, its ARN and state, what it costs, and the command that removes it."""
    if not isinstance(item, dict):  # a report written before leftovers were structured
        return [f"LEFT RUNNING, delete by hand: {item}"]
    if item.get("arn") is None:
        return [
            f"NOT CHECKED ({item.get('reason')}): any {item.get('kind')} of this run may still run; "
            f"{item.get('cost')}.",
            f"    find it with: {item.get('command')}",
        ]
    return [
        f"LEFT RUNNING, delete by hand: {item.get('kind')} {item.get('arn')} (state: {item.get('state')}; "
        f"{item.get('reason')}); {item.get('cost')}.",
        f"    {item.get('command')}",
    ]
