"""DeployModel, PollDeployment and ReleaseDeployment: no-commitment provisioned throughput or an on-demand custom
model deployment, and its removal. Deletion treats 'not found' as already done, so it is safe to repeat."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune import aws, clock, naming
from bedrock_finetune.config import RunConfig
from bedrock_finetune.errors import DeploymentTimedOut
from bedrock_finetune.logic.training import effective_polling, next_wait, tags
from bedrock_finetune.models import DeploymentInfo, DeploymentKind, DeploymentStatusOutput, JobInfo, JobStatusOutput

READY_STATUSES = frozenset({"InService", "Active"})
PENDING_STATUSES = frozenset({"Creating", "Updating"})
KIND_NAMES: dict[DeploymentKind, str] = {
    "provisioned": "provisioned throughput",
    "on-demand": "custom model deployment",
}


def deployment_name(config: RunConfig) -> str:
    return naming.resource_name(config.dataset_name, config.execution_arn, prefix="ft-")


def deploy(config: RunConfig, job: JobInfo, job_status: JobStatusOutput, sha256: str) -> DeploymentInfo:
    mode = config.deployment.mode
    if mode == "none":
        raise ValueError("deployment mode none has no deployment to create")
    model_arn = job_status.model_arn or job.model_name
    name = deployment_name(config)
    token = naming.request_token(config.execution_arn, sha256, f"deploy-{mode}")
    bedrock = aws.client("bedrock")
    created_at = clock.now()
    until = kept_until(config, created_at)
    with aws.transient_errors():
        if mode == "provisioned":
            # No commitmentDuration: a no-commitment throughput can always be deleted, a committed one cannot.
            response = bedrock.create_provisioned_model_throughput(
                modelUnits=config.deployment.model_units,
                provisionedModelName=name,
                modelId=model_arn,
                clientRequestToken=token,
                tags=tags(config, sha256, keep=config.deployment.keep, keep_until=until),
            )
            arn = response["provisionedModelArn"]
        else:
            response = bedrock.create_custom_model_deployment(
                modelDeploymentName=name,
                modelArn=model_arn,
                description=f"bedrock-finetune run {config.run_id}",
                clientRequestToken=token,
                tags=tags(config, sha256, keep=config.deployment.keep),
            )
            arn = response["customModelDeploymentArn"]
    units = config.deployment.model_units if mode == "provisioned" else None
    return DeploymentInfo(
        mode=mode,
        arn=arn,
        name=name,
        model_arn=model_arn,
        model_units=units,
        created_at=created_at.isoformat(),
        kept_until=naming.format_keep_until(until) if until is not None else None,
    )


def kept_until(config: RunConfig, created_at: datetime) -> datetime | None:
    """When a provisioned throughput the run keeps stops being kept (``budget.maxDeploymentHours`` after it was
    created, to the second); None when it is not kept, is kept for good, or is an on-demand deployment (billed per
    token, not per hour)."""
    if config.deployment.mode != "provisioned" or not config.deployment.keep or not config.max_deployment_hours:
        return None
    return (created_at + timedelta(hours=config.max_deployment_hours)).replace(microsecond=0)


def describe(kind: DeploymentKind, arn: str) -> dict[str, Any]:
    bedrock = aws.client("bedrock")
    with aws.transient_errors():
        if kind == "provisioned":
            return dict(bedrock.get_provisioned_model_throughput(provisionedModelId=arn))
        return dict(bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn))


def poll(config: RunConfig, deployment: DeploymentInfo, now: datetime | None = None) -> DeploymentStatusOutput:
    response = describe(deployment.mode, deployment.arn)
    status = str(response.get("status", "Unknown"))
    created = response.get("creationTime") or response.get("createdAt")
    now = now or clock.now()
    elapsed = (now - created).total_seconds() if isinstance(created, datetime) else 0.0
    polling = effective_polling(config.polling)
    if status in PENDING_STATUSES and elapsed > polling.deployment_timeout_seconds:
        raise DeploymentTimedOut(
            f"{deployment.name} still {status} after {int(elapsed)} s (timeout {polling.deployment_timeout_seconds} s)"
        )
    return DeploymentStatusOutput(
        status=status,
        message=str(response.get("failureMessage") or f"{deployment.name} is {status}"),
        elapsed_seconds=int(elapsed),
        wait_seconds=next_wait(elapsed, polling.deployment_initial_seconds, polling.deployment_max_seconds),
    )


def status(kind: DeploymentKind, arn: str) -> str | None:
    """The throughput's or deployment's status, or None when it no longer exists."""
    try:
        return str(describe(kind, arn).get("status", "Unknown"))
    except ClientError as exc:
        if aws.is_not_found(exc):
            return None
        raise


def delete(kind: DeploymentKind, arn: str, wait: aws.BusyWait | None = None) -> bool:
    """Delete the throughput or deployment; False when it was already gone.

    Deleting one that is still Creating or Updating answers ConflictException (botocore models it for both Delete
    operations): its status is polled and the delete retried within ``wait``; still busy after that, the
    TransientAwsError carries the status for the state machine's retry and the report."""
    bedrock = aws.client("bedrock")

    def attempt() -> bool:
        try:
            if kind == "provisioned":
                bedrock.delete_provisioned_model_throughput(provisionedModelId=arn)
            else:
                bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=arn)
        except ClientError as exc:
            if aws.is_not_found(exc):
                return False
            raise
        return True

    return aws.retry_while_busy(
        attempt, lambda: status(kind, arn), PENDING_STATUSES, wait or aws.BusyWait(), f"{KIND_NAMES[kind]} {arn}"
    )
