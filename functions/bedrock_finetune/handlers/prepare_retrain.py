"""PrepareRetrainDataset: the earlier run's training file without the excluded records, as the retrain's source
(logic/retrain.py)."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.retrain import prepare
from bedrock_finetune.models import PrepareRetrainInput, RetrainDatasetOutput


@step(PrepareRetrainInput)
def handler(event: PrepareRetrainInput) -> RetrainDatasetOutput:
    result = prepare(event.config)
    logger.info(
        "retrain dataset prepared",
        extra={
            "from_run": event.config.retrain.from_run if event.config.retrain else None,
            "records_before": result.records_before,
            "records_after": result.records_after,
            "excluded": result.records_before - result.records_after,
        },
    )
    return result
