"""PollJob: the job's status, the next wait, and on completion its losses and metric CSVs."""

from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.training import poll_job
from bedrock_finetune.models import JobStatusOutput, PollJobInput


@step(PollJobInput)
def handler(event: PollJobInput) -> JobStatusOutput:
    status = poll_job(event.config, event.job)
    logger.info(
        "job status",
        extra={
            "job_arn": event.job.job_arn,
            "status": status.status,
            "elapsed_seconds": status.elapsed_seconds,
            "next_wait_seconds": status.wait_seconds,
            "details": status.status_details,
        },
    )
    return status
