"""ClaimTraining: claim the run's content and settings, or find the run that already trained (or trains) them."""

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.claims import claim
from bedrock_finetune.models import ClaimTrainingInput, ClaimTrainingOutput


@step(ClaimTrainingInput)
def handler(event: ClaimTrainingInput) -> ClaimTrainingOutput:
    result = claim(event.config, event.staged, StackSettings.from_environ())
    logger.info(
        "training claim",
        extra={
            "fingerprint": result.fingerprint[:12],
            "claimed": result.claimed,
            "forced": result.forced,
            "duplicate_of": result.duplicate_of,
        },
    )
    return result
