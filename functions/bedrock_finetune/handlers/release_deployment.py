"""ReleaseDeployment: delete the deployment after a passed smoke test when it is not kept."""

from bedrock_finetune import aws
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.deployment import delete
from bedrock_finetune.models import ReleaseDeploymentInput, ReleaseDeploymentOutput

# The function times out after 60 s: a deployment still busy after this wait is left to the state machine's retry.
RELEASE_WAIT_SECONDS = 30.0


@step(ReleaseDeploymentInput)
def handler(event: ReleaseDeploymentInput) -> ReleaseDeploymentOutput:
    deleted = delete(
        event.deployment.mode,
        event.deployment.arn,
        aws.BusyWait(initial_seconds=5, max_seconds=15, budget_seconds=RELEASE_WAIT_SECONDS),
    )
    logger.info("deployment released", extra={"arn": event.deployment.arn, "deleted": deleted})
    return ReleaseDeploymentOutput(arn=event.deployment.arn, deleted=deleted)
