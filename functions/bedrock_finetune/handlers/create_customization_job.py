"""CreateCustomizationJob: start the Bedrock model customization job."""

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.training import create_job
from bedrock_finetune.models import CreateCustomizationJobInput, JobInfo


@step(CreateCustomizationJobInput)
def handler(event: CreateCustomizationJobInput) -> JobInfo:
    job = create_job(event.config, event.validation, event.staged, StackSettings.from_environ().bedrock_role_arn)
    logger.info("job created", extra={"job_arn": job.job_arn, "model_name": job.model_name})
    return job
