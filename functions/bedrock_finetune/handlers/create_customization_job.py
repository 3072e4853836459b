"""CreateCustomizationJob: take the run's place in the training queue; first in line and with a free job slot, start
the Bedrock model customization job, else answer Queued with how long to wait (logic/queue.py)."""

from bedrock_finetune import metrics
from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.queue import start_training
from bedrock_finetune.models import CreateCustomizationJobInput, TrainingStartOutput


@step(CreateCustomizationJobInput)
def handler(event: CreateCustomizationJobInput) -> TrainingStartOutput:
    result = start_training(event.config, event.validation, event.staged, StackSettings.from_environ())
    queue = result.queue
    extra = {"position": queue.position, "waited_seconds": queue.waited_seconds, "reason": queue.reason}
    if result.job is not None:
        logger.info("job created", extra={**extra, "job_arn": result.job.job_arn, "model_name": result.job.model_name})
    else:
        # A run starts waiting on its first Queued answer (nothing waited yet): counted once per run.
        waiting: dict[str, float] = {metrics.RUNS_WAITING_FOR_CAPACITY: 1} if queue.waited_seconds == 0 else {}
        metrics.record(logger, "waiting for a training job slot", waiting, **extra, wait_seconds=queue.wait_seconds)
    return result
