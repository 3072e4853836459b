"""SweepStage (PlanSweep and RecordSweepStage): plan the sweep's next stage of variants, or record the stage just
trained, pick its best value and, after the last stage, the winner (logic/sweep.py)."""

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.sweep import advance
from bedrock_finetune.models import SweepStageInput, SweepState


@step(SweepStageInput)
def handler(event: SweepStageInput) -> SweepState:
    state = advance(event.config, event.sweep, event.results, StackSettings.from_environ())
    if state.stages:
        done = state.stages[-1]
        logger.info(
            "sweep stage recorded",
            extra={
                "stage": done.index + 1,
                "parameter": done.parameter,
                "variants": len(done.variants),
                "completed": sum(v.status == "Completed" for v in done.variants),
                "best_variant": done.best_variant,
                "loss_used": state.loss_used,
            },
        )
    if state.next is not None:
        logger.info(
            "sweep stage planned",
            extra={
                "stage": state.next.index + 1,
                "parameter": state.next.parameter,
                "variants": len(state.next.variants),
            },
        )
    if state.winner is not None:
        logger.info(
            "sweep winner",
            extra={
                "variant": state.winner.variant,
                "model_arn": state.winner.model_arn,
                "deleted_models": len(state.deleted_models),
                "undeleted_models": len(state.undeleted_models),
            },
        )
    return state
