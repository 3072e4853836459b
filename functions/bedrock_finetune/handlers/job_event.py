"""JobEvent: Bedrock's "Model Customization Job State Change" event (EventBridge) wakes the execution waiting for
the job (logic/job_events.py)."""

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger
from bedrock_finetune.logic.job_events import relay


@logger.inject_lambda_context(log_event=False, clear_state=True)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    detail = event.get("detail")
    result = relay(detail if isinstance(detail, dict) else {}, StackSettings.from_environ())
    logger.append_keys(run_id=result.run_id or "none")
    logger.info(
        "job state change",
        extra={"job_name": result.job_name, "job_status": result.job_status, "outcome": result.outcome},
    )
    return result.model_dump(mode="json", by_alias=True)
