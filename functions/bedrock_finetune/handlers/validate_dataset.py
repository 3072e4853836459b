"""ValidateDataset: stream the dataset from S3 through the base model's validator."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.validate_dataset import validate
from bedrock_finetune.models import ValidateDatasetInput, ValidateDatasetOutput


@step(ValidateDatasetInput)
def handler(event: ValidateDatasetInput) -> ValidateDatasetOutput:
    result = validate(event.config)
    logger.info(
        "dataset valid",
        extra={"records": sum(item.records for item in result.files), "warnings": result.warning_counts},
    )
    return result
