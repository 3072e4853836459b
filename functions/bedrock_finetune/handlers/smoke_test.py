"""SmokeTest: converse with the deployed model; empty answers fail the run."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.smoke_test import run
from bedrock_finetune.models import SmokeTestInput, SmokeTestOutput


@step(SmokeTestInput)
def handler(event: SmokeTestInput) -> SmokeTestOutput:
    result = run(event.config, event.staged, event.deployment)
    logger.info(
        "smoke test",
        extra={"prompts": result.prompts, "answered": result.answered, "median_latency_ms": result.median_latency_ms},
    )
    return result
