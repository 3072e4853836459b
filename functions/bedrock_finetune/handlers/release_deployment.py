"""ReleaseDeployment: delete the deployment after a passed smoke test when it is not kept."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.deployment import delete
from bedrock_finetune.models import ReleaseDeploymentInput, ReleaseDeploymentOutput


@step(ReleaseDeploymentInput)
def handler(event: ReleaseDeploymentInput) -> ReleaseDeploymentOutput:
    deleted = delete(event.deployment.mode, event.deployment.arn)
    logger.info("deployment released", extra={"arn": event.deployment.arn, "deleted": deleted})
    return ReleaseDeploymentOutput(arn=event.deployment.arn, deleted=deleted)
