"""ResolveConfig: the run configuration from an inbox drop or a console start."""

from bedrock_finetune import aws, metrics
from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic import claims
from bedrock_finetune.logic.resolve_config import resolve
from bedrock_finetune.models import ResolveConfigInput, ResolveConfigOutput


@step(ResolveConfigInput)
def handler(event: ResolveConfigInput) -> ResolveConfigOutput:
    settings = StackSettings.from_environ()
    config = resolve(event.input, event.execution, settings, aws.region())
    # The run holds its place in the training queue from here, in drop order (logic/queue.py).
    registered = claims.register(config, settings)
    metrics.record(
        logger,
        "config resolved",
        {metrics.RUNS_STARTED: 1},
        trigger=config.trigger,
        base_model_id=config.base_model_id,
        mode=config.deployment.mode,
        queue_place_registered=registered,
    )
    return ResolveConfigOutput(config=config)
