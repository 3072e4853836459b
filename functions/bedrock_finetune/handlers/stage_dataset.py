"""StageDataset: copy the validated object version to its immutable, content-addressed location."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.stage_dataset import stage
from bedrock_finetune.models import StageDatasetInput, StageDatasetOutput


@step(StageDatasetInput)
def handler(event: StageDatasetInput) -> StageDatasetOutput:
    result = stage(event.config, event.validation)
    logger.info(
        "dataset staged",
        extra={"sha256": result.sha256, "train": result.train_records, "validation": result.validation_records},
    )
    return result
