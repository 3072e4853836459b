"""Finalize: move the dataset to processed/ and write the run report."""

from bedrock_finetune import metrics
from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.outcome import finalize, parse_state
from bedrock_finetune.models import ReportOutput, WholeStateInput


@step(WholeStateInput)
def handler(event: WholeStateInput) -> ReportOutput:
    result = finalize(parse_state(event.state), event.execution, StackSettings.from_environ())
    metrics.record(logger, "run finalized", {metrics.RUNS_SUCCEEDED: 1}, report_uri=result.report_uri)
    return result
