"""Retrain without records, then move the kept deployment to the new model in place.

A custom model cannot be reset: the how-to's way back from bad training data is to train again without the bad
records and retire the old model. Here:

* **PrepareRetrainDataset** rebuilds the earlier run's original training file from its staged, content-addressed data
  (with a validation split, the two parts are interleaved again by the split's seeded choice of lines, so line numbers
  are those of the original file), leaves out the records asked for (by 1-based line, or by the sha256 of a record's
  line without its line ending), and writes the result under ``retrain/<run>/``. ValidateDataset then checks it and
  StageDataset stages it under its own content address: the earlier staged data is never changed;
* **SwapDeployment** runs after the new model passed its smoke test (on a temporary deployment of its own): it moves
  the earlier run's kept deployment to the new model, ``UpdateProvisionedModelThroughput(desiredModelId)`` or
  ``UpdateCustomModelDeployment(modelArn)``, so the ARN applications call does not change, and polls until it serves
  the new model. If the smoke test fails, the run fails before this step and the deployment stays on the old model.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from datetime import datetime
from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune import aws, clock
from bedrock_finetune.config import RetrainPlan, RunConfig, S3Location
from bedrock_finetune.errors import (
    ConfigInvalid,
    DatasetInvalid,
    DeploymentFailed,
    DeploymentTimedOut,
    TransientAwsError,
)
from bedrock_finetune.logic import deployment as deployments
from bedrock_finetune.logic.stage_dataset import choose_validation_lines, records
from bedrock_finetune.logic.training import effective_polling, next_wait
from bedrock_finetune.models import DeploymentKind, ExcludedRecord, JobStatusOutput, RetrainDatasetOutput, SwapStatus

#: Excluded records listed in the step output and the report (all are excluded; the count is always exact).
MAX_LISTED = 1000


def record_hash(line: bytes) -> str:
    """The sha256 of a record's line without its line ending."""
    return hashlib.sha256(line.rstrip(b"\n").rstrip(b"\r")).hexdigest()


def prepare(config: RunConfig) -> RetrainDatasetOutput:
    plan = config.retrain
    if plan is None:
        raise ValueError("the run is not a retrain")
    lines, hashes = set(plan.exclude_lines), set(plan.exclude_sha256)
    excluded: list[ExcludedRecord] = []
    found: set[str] = set()
    kept = total = 0
    out = aws.MultipartWriter(config.bucket, config.source.key)
    try:
        for number, line in enumerate(original_lines(plan), start=1):
            total = number
            digest = record_hash(line)
            if number in lines or digest in hashes:
                found.add(digest)
                excluded.append(ExcludedRecord(line=number, sha256=digest))
                continue
            out.write(line)
            kept += 1
        missing = sorted(hashes - found)
        if missing:
            raise ConfigInvalid(
                f"excludeRecords.sha256: no record of run {plan.from_run}'s training file has the hash "
                f"{', '.join(missing[:5])}{' …' if len(missing) > 5 else ''}"
            )
        if kept == 0:
            raise DatasetInvalid(f"excluding {len(excluded)} record(s) leaves no training record")
    except BaseException:
        out.abort()
        raise
    out.close()
    return RetrainDatasetOutput(
        source=S3Location(bucket=config.bucket, key=config.source.key),
        records_before=total,
        records_after=kept,
        excluded=excluded[:MAX_LISTED],
    )


def original_lines(plan: RetrainPlan) -> Iterator[bytes]:
    """The earlier run's training file, line by line, in its original order (from its staged copies)."""
    train, _ = aws.open_object(plan.staged_train)
    if plan.staged_split_validation is None or plan.split_seed is None:
        yield from records(train)
        return
    held_out, _ = aws.open_object(plan.staged_split_validation)
    chosen = choose_validation_lines(plan.split_seed, plan.original_records, plan.split_validation_records)
    train_lines, held_out_lines = records(train), records(held_out)
    for index in range(plan.original_records):
        line = next(held_out_lines if index in chosen else train_lines, None)
        if line is None:
            raise DatasetInvalid(f"the staged data of run {plan.from_run} has fewer records than its report says")
        yield line


def swap(
    config: RunConfig, job_status: JobStatusOutput, previous: SwapStatus | None, now: datetime | None = None
) -> SwapStatus:
    plan = config.retrain
    if plan is None or plan.deployment_arn is None or plan.deployment_mode is None:
        raise ValueError("the run has no deployment to swap")
    if not job_status.model_arn:
        raise ValueError("the new model's ARN is unknown")
    now = now or clock.now()
    kind, arn, new_model = plan.deployment_mode, plan.deployment_arn, job_status.model_arn
    started = datetime.fromisoformat(previous.started_at) if previous else now
    described = deployments.describe(kind, arn)
    if previous is None and new_model not in (str(described.get("modelArn") or ""), _target(described)):
        _update(kind, arn, new_model)
        described = deployments.describe(kind, arn)
    status = str(described.get("status") or "Unknown")
    update_status = str((described.get("updateDetails") or {}).get("updateStatus") or "")
    if status == "Failed" or update_status == "UpdateFailed":
        raise DeploymentFailed(
            f"{deployments.KIND_NAMES[kind]} {arn} could not move to {new_model}; it stays on "
            f"{described.get('modelArn')} ({described.get('failureMessage') or update_status or status})"
        )
    done = status in deployments.READY_STATUSES and str(described.get("modelArn") or "") == new_model
    elapsed = max(0.0, (now - started).total_seconds())
    polling = effective_polling(config.polling)
    if not done and elapsed > polling.deployment_timeout_seconds:
        raise DeploymentTimedOut(f"{deployments.KIND_NAMES[kind]} {arn} still {status} after {int(elapsed)} s")
    return SwapStatus(
        status="Swapped" if done else "Updating",
        deployment_arn=arn,
        mode=kind,
        from_model_arn=plan.from_model_arn,
        to_model_arn=new_model,
        started_at=started.isoformat(),
        elapsed_seconds=int(elapsed),
        wait_seconds=0
        if done
        else next_wait(elapsed, polling.deployment_initial_seconds, polling.deployment_max_seconds),
    )


def _target(described: dict[str, Any]) -> str:
    """The model a deployment is moving to: a throughput's ``desiredModelArn`` ("differs from the modelArn if
    updating hasn't completed", botocore), a custom model deployment's ``updateDetails.modelArn``."""
    return str(described.get("desiredModelArn") or (described.get("updateDetails") or {}).get("modelArn") or "")


def _update(kind: DeploymentKind, arn: str, model_arn: str) -> None:
    bedrock = aws.client("bedrock")
    try:
        with aws.transient_errors():
            if kind == "provisioned":
                bedrock.update_provisioned_model_throughput(provisionedModelId=arn, desiredModelId=model_arn)
            else:
                bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=arn, modelArn=model_arn)
    except ClientError as exc:
        # Neither Update operation models ConflictException (botocore): a deployment that is not ready answers
        # ValidationException, which is not retried; the state machine catches it into Cleanup, and the kept
        # deployment stays on the old model.
        if aws.error_code(exc) == "ConflictException":
            raise TransientAwsError(f"{deployments.KIND_NAMES[kind]} {arn} is busy: {aws.error_message(exc)}") from exc
        raise
