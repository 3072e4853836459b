"""Cleanup: stop the job, delete this run's throughput and deployments, quarantine the dataset with a report."""

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.outcome import cleanup, parse_state
from bedrock_finetune.models import CleanupOutput, WholeStateInput


@step(WholeStateInput)
def handler(event: WholeStateInput) -> CleanupOutput:
    result = cleanup(parse_state(event.state), event.execution, StackSettings.from_environ())
    logger.info("cleanup done", extra={"actions": len(result.actions), "report_uri": result.report_uri})
    return result
