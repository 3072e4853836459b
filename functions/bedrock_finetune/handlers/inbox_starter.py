"""InboxStarter: start the workflow for an inbox drop under a name unique to the object version (see
logic/inbox_start.py). Invoked by the inbox EventBridge rule; a duplicate delivery starts nothing."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger
from bedrock_finetune.logic.inbox_start import start


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    logger.append_keys(event_id=event.get("id"))
    result = start(event, StackSettings.from_environ())
    logger.append_keys(run_id=result.name, execution_arn=result.execution_arn)
    if result.started:
        logger.info("execution started (or already running: StartExecution is idempotent)")
    else:
        logger.info("duplicate delivery: the execution exists already (ExecutionAlreadyExists), nothing started")
    return result.model_dump(mode="json", by_alias=True)
