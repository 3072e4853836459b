"""What every handler shares: parse the input model, tag the logger with the run's ids, call one logic function,
return the output model as JSON. Exceptions propagate unchanged: their class names are the state machine's contract.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Tracer
from aws_lambda_powertools.utilities.typing import LambdaContext
from botocore.exceptions import ClientError
from pydantic import BaseModel, ValidationError

from bedrock_finetune import aws
from bedrock_finetune.config import describe_validation_error
from bedrock_finetune.errors import ConfigInvalid, WorkflowError

logger = Logger()
#: X-Ray through Powertools: each handler is a subsegment of the execution's trace, with its boto3 calls (the
#: state machine has tracing on, template.yaml). Off outside Lambda and in local runs (POWERTOOLS_TRACE_DISABLED).
tracer = Tracer()

In = TypeVar("In", bound=BaseModel)
Handler = Callable[[dict[str, Any], LambdaContext], dict[str, Any]]


def _ids(parsed: BaseModel) -> dict[str, str]:
    config = getattr(parsed, "config", None)
    if config is not None:
        return {"run_id": config.run_id, "execution_arn": config.execution_arn}
    execution = getattr(parsed, "execution", None)
    if execution is not None:
        return {"run_id": execution.name, "execution_arn": execution.id}
    return {}


def _named_denials(logic: Callable[[In], BaseModel], parsed: In) -> BaseModel:
    """Run ``logic``; a denial that reaches the handler as botocore's generic ClientError (S3 has no modelled
    exception class for AccessDenied, and a HEAD's 403 carries no code at all) becomes the named AccessDenied, so the
    execution's error says what was denied. Modelled exceptions (Bedrock's AccessDeniedException) keep their name."""
    try:
        return logic(parsed)
    except ClientError as exc:
        if type(exc) is ClientError and aws.is_access_denied(exc):
            raise aws.access_denied(exc) from exc
        raise


def step(input_model: type[In]) -> Callable[[Callable[[In], BaseModel]], Handler]:
    def decorate(logic: Callable[[In], BaseModel]) -> Handler:
        @functools.wraps(logic)
        @logger.inject_lambda_context(log_event=False, clear_state=True)
        @tracer.capture_lambda_handler(capture_response=False)
        def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
            try:
                parsed = input_model.model_validate(event)
            except ValidationError as exc:
                raise ConfigInvalid(f"{logic.__module__} input: {describe_validation_error(exc)}") from exc
            logger.append_keys(**_ids(parsed))
            try:
                result = _named_denials(logic, parsed)
            except WorkflowError as exc:
                logger.warning("step failed", extra={"error": type(exc).__name__})
                raise
            except Exception as exc:
                logger.exception("step failed unexpectedly", extra={"error": type(exc).__name__})
                raise
            logger.info("step done")
            return result.model_dump(mode="json", by_alias=True)

        return handler

    return decorate
