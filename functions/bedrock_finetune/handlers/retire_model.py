"""RetireModel: delete what serves a custom model, then the model (logic/retire.py)."""

from pydantic import ValidationError

from bedrock_finetune.config import StackSettings, describe_validation_error
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.retire import retire
from bedrock_finetune.models import RetireInput, RetireModelInput, RetireOutput


@step(RetireModelInput)
def handler(event: RetireModelInput) -> RetireOutput:
    try:
        request = RetireInput.model_validate(event.input)
    except ValidationError as exc:
        raise ConfigInvalid(f"retire input: {describe_validation_error(exc)}") from exc
    result = retire(request, StackSettings.from_environ())
    logger.info(
        "retired",
        extra={
            "run_id": result.run_id,
            "models": len(result.models),
            "deleted_models": sum(model.deleted for model in result.models),
            "deleted_servers": sum(len(model.deleted_servers) for model in result.models),
        },
    )
    return result
