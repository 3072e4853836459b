"""DeployModel: no-commitment provisioned throughput or an on-demand custom model deployment."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.deployment import deploy
from bedrock_finetune.models import DeploymentInfo, DeployModelInput


@step(DeployModelInput)
def handler(event: DeployModelInput) -> DeploymentInfo:
    deployment = deploy(event.config, event.job, event.job_status, event.staged.sha256)
    logger.info("deployment created", extra={"mode": deployment.mode, "arn": deployment.arn})
    return deployment
