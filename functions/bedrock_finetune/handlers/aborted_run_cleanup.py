"""AbortedRunCleanup, the recovery path: an execution that ends FAILED, ABORTED or TIMED_OUT without its own Cleanup
(aborted by hand, timed out, or failed with an error no Catch can take: ``States.Runtime``,
``States.DataLimitExceeded``) is cleaned up by this function, started by EventBridge's "Step Functions Execution
Status Change" event. It does nothing when the run's own Cleanup already completed, and undoes nothing once Finalize
settled the outcome."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_finetune import metrics
from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger
from bedrock_finetune.logic.outcome import cleanup_aborted
from bedrock_finetune.models import StatusChangeEvent


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = StatusChangeEvent.model_validate(event).detail
    logger.append_keys(run_id=change.name, execution_arn=change.execution_arn)
    result = cleanup_aborted(change, StackSettings.from_environ())
    if result.skipped:
        logger.info("nothing to recover", extra={"status": change.status, "reason": result.skipped})
    else:
        metrics.record(
            logger,
            "ended run cleaned up",
            {metrics.RUNS_FAILED: 1, metrics.CLEANUP_LEFTOVERS: len(result.leftovers)},
            status=change.status,
            leftovers=len(result.leftovers),
        )
    return result.model_dump(mode="json", by_alias=True)
