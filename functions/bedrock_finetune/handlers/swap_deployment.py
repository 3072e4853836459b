"""SwapDeployment: move the earlier run's kept deployment to the new model in place, and follow it until it serves
the new model (logic/retrain.py)."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.retrain import swap
from bedrock_finetune.models import SwapDeploymentInput, SwapStatus


@step(SwapDeploymentInput)
def handler(event: SwapDeploymentInput) -> SwapStatus:
    result = swap(event.config, event.job_status, event.swap)
    logger.info(
        "deployment swap",
        extra={
            "deployment_arn": result.deployment_arn,
            "status": result.status,
            "elapsed_seconds": result.elapsed_seconds,
            "next_wait_seconds": result.wait_seconds,
        },
    )
    return result
