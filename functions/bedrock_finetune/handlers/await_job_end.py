"""AwaitJobEnd: register the waiting Task's token for the job's state change event; resume at once if it ended."""

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.job_events import await_job_end
from bedrock_finetune.models import AwaitJobEndInput, AwaitJobEndOutput


@step(AwaitJobEndInput)
def handler(event: AwaitJobEndInput) -> AwaitJobEndOutput:
    result = await_job_end(event, StackSettings.from_environ())
    logger.info(
        "waiting for the job's end" if not result.resumed else "job already ended",
        extra={"job_arn": event.job.job_arn, "status": result.status, "resumed": result.resumed},
    )
    return result
