"""PollDeployment: the status of the throughput or deployment, and the next wait."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.deployment import poll
from bedrock_finetune.models import DeploymentStatusOutput, PollDeploymentInput


@step(PollDeploymentInput)
def handler(event: PollDeploymentInput) -> DeploymentStatusOutput:
    status = poll(event.config, event.deployment)
    logger.info(
        "deployment status",
        extra={"arn": event.deployment.arn, "status": status.status, "elapsed_seconds": status.elapsed_seconds},
    )
    return status
