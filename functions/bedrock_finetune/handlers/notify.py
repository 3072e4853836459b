"""Notify: publish the run's outcome (success or failure) to the notification topic."""

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.outcome import failure_report, notify, parse_state
from bedrock_finetune.models import NotifyInput, NotifyOutput


@step(NotifyInput)
def handler(event: NotifyInput) -> NotifyOutput:
    report = event.report
    if report is None:
        if event.execution is None:
            raise ValueError("Notify needs a report, or the state and the execution")
        report = failure_report(parse_state(event.state or {}), event.execution)
    result = notify(report, StackSettings.from_environ())
    logger.info("notification sent", extra={"outcome": event.outcome, "message_id": result.message_id})
    return result
