"""AbortedRunCleanup: an execution aborted by hand or timed out never reaches its Catch; this function, started by
EventBridge's execution status change event, does what Cleanup would have done and sends the notification."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger
from bedrock_finetune.logic.outcome import cleanup_aborted
from bedrock_finetune.models import StatusChangeEvent


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    change = StatusChangeEvent.model_validate(event).detail
    logger.append_keys(run_id=change.name, execution_arn=change.execution_arn)
    result = cleanup_aborted(change, StackSettings.from_environ())
    logger.info("aborted run cleaned up", extra={"status": change.status, "leftovers": len(result.leftovers)})
    return result.model_dump(mode="json", by_alias=True)
