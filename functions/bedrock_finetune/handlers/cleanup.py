"""Cleanup: stop the job, delete this run's throughput and deployments, quarantine the dataset with a report.

It returns normally with ``complete: false`` and the leftovers when something could not be removed, so that the
report (ARNs, states, costs, commands) reaches NotifyFailure; it fails only to be retried (TransientAwsError before
the state machine's last retry)."""

from bedrock_finetune import metrics
from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.outcome import cleanup, parse_state
from bedrock_finetune.models import CleanupOutput, WholeStateInput


@step(WholeStateInput)
def handler(event: WholeStateInput) -> CleanupOutput:
    result = cleanup(parse_state(event.state), event.execution, StackSettings.from_environ(), attempt=event.attempt)
    extra = {"actions": len(result.actions), "leftovers": len(result.leftovers), "report_uri": result.report_uri}
    counted = metrics.document({metrics.RUNS_FAILED: 1, metrics.CLEANUP_LEFTOVERS: len(result.leftovers)})
    if result.complete:
        logger.info("cleanup done", extra={**extra, **counted})
    else:
        logger.error(
            "cleanup incomplete",
            extra={**extra, **counted, "left": [f"{item.kind} {item.arn} {item.state}" for item in result.leftovers]},
        )
    return result
