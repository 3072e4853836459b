"""A hyperparameter sweep, one parameter at a time, as the fine-tuning how-to advises: start from the run's values,
change one hyperparameter, keep the value with the lowest validation loss, go on with the next.

The state machine drives it (PlanSweep → TrainSweepVariants, a Map over the stage's variants → RecordSweepStage →
again or UseSweepWinner); this module decides what each stage trains and which variant won:

* stage *k* trains one job per value of its parameter; every other hyperparameter is the run's value, or the best
  value of an earlier stage. Each variant is the run's configuration with its own ``variant`` id (``s<k>v<i>``), so
  its job, model, output prefix, request token and queue place are its own; the queue runs them in parallel up to
  Bedrock's job quota;
* "best" is the lowest final validation loss of the variants whose job completed; when any of them has none (the
  model takes no validation data) every variant is compared on its final training loss instead, and the report says
  which (``lossUsed``); a tie goes to the value listed first;
* a variant whose job failed or stopped is reported and skipped; a stage whose every variant failed fails the run
  (SweepStageFailed, caught into Cleanup);
* once the last stage is decided, the custom models of the other variants are deleted unless ``keepAll``; their
  metrics stay in the report. A model that cannot be deleted is named in the report (it costs storage), never
  silently kept.
"""

from __future__ import annotations

from botocore.exceptions import ClientError

from bedrock_finetune import aws
from bedrock_finetune.config import RunConfig, StackSettings
from bedrock_finetune.errors import SweepStageFailed, TransientAwsError
from bedrock_finetune.logic import queue, training
from bedrock_finetune.models import (
    SweepNextStage,
    SweepStageResult,
    SweepState,
    SweepVariantPlan,
    SweepVariantResult,
    SweepWinner,
    VariantOutcome,
)


def variant_id(stage: int, index: int) -> str:
    return f"s{stage + 1}v{index + 1}"


def advance(
    config: RunConfig, sweep: SweepState | None, results: list[VariantOutcome], settings: StackSettings
) -> SweepState:
    """The first stage to train (``sweep`` None), or the stage just trained recorded with the next one planned (or
    the winner chosen)."""
    if config.sweep is None:
        raise ValueError("the run has no sweep")
    if sweep is None:
        return SweepState(next=_plan(config, 0, dict(config.hyper_parameters), settings))
    if sweep.next is None:
        return sweep
    recorded = record(sweep.next, results)
    stages = [*sweep.stages, recorded]
    loss_used = _loss_used(stages)
    if recorded.index + 1 < len(config.sweep.stages):
        best = _variant(recorded, recorded.best_variant)
        return SweepState(
            loss_used=loss_used,
            stages=stages,
            next=_plan(config, recorded.index + 1, best.hyper_parameters, settings),
        )
    return _finish(config, stages, results, loss_used)


def record(stage: SweepNextStage, results: list[VariantOutcome]) -> SweepStageResult:
    """Each planned variant with its job's outcome and final losses; the best one (SweepStageFailed when none
    completed)."""
    outcomes = {outcome.variant: outcome for outcome in results}
    variants = [_result(planned, outcomes.get(planned.variant)) for planned in stage.variants]
    completed = [variant for variant in variants if variant.status == "Completed" and _loss(variant) is not None]
    if not completed:
        failures = "; ".join(f"{v.variant} ({v.value}): {v.status} {v.message or ''}".strip() for v in variants)
        raise SweepStageFailed(
            f"every variant of sweep stage {stage.index + 1} ({stage.parameter}) failed: {failures}"[:2000]
        )
    use_validation = all(variant.validation_loss is not None for variant in completed)
    best = min(completed, key=lambda v: (_loss(v, validation=use_validation), variants.index(v)))
    return SweepStageResult(
        index=stage.index, parameter=stage.parameter, variants=variants, best=best.value, best_variant=best.variant
    )


def _plan(config: RunConfig, index: int, base: dict[str, str], settings: StackSettings) -> SweepNextStage:
    assert config.sweep is not None
    stage = config.sweep.stages[index]
    variants = []
    for position, value in enumerate(stage.values):
        hyper_parameters = {**base, stage.parameter: value}
        variant = variant_id(index, position)
        variants.append(
            SweepVariantPlan(
                variant=variant,
                value=value,
                hyper_parameters=hyper_parameters,
                config=config.model_copy(
                    update={"variant": variant, "hyper_parameters": hyper_parameters, "sweep": None}
                ),
            )
        )
    if index + 1 == len(config.sweep.stages) and settings.training_table_name:
        # The run's own place in the queue (held since ResolveConfig) goes once the last stage is planned: the
        # variants now hold places of their own, at the run's drop time, and a later drop need not wait for the
        # whole sweep to end.
        queue.leave(settings.training_table_name, queue.queue_key(config), config.execution_arn)
    return SweepNextStage(index=index, parameter=stage.parameter, variants=variants)


def _result(planned: SweepVariantPlan, outcome: VariantOutcome | None) -> SweepVariantResult:
    if outcome is None:
        return SweepVariantResult(
            variant=planned.variant,
            value=planned.value,
            hyper_parameters=planned.hyper_parameters,
            status="Unknown",
            message="no result from its iteration",
        )
    status = outcome.job_status
    metrics = status.metrics
    training = validation = None
    if metrics is not None:
        training = metrics.training_loss
        if training is None and metrics.training_csv is not None:
            training = metrics.training_csv.final_loss
        validation = metrics.validation_loss
        if validation is None and metrics.validation_csv is not None:
            validation = metrics.validation_csv.final_loss
    return SweepVariantResult(
        variant=planned.variant,
        value=planned.value,
        hyper_parameters=planned.hyper_parameters,
        status=status.status,
        training_loss=training,
        validation_loss=validation,
        model_arn=status.model_arn,
        job_arn=outcome.job.job_arn,
        message=None if status.status == "Completed" else status.message,
    )


def _loss(variant: SweepVariantResult, *, validation: bool = True) -> float | None:
    if validation and variant.validation_loss is not None:
        return variant.validation_loss
    return variant.training_loss


def _loss_used(stages: list[SweepStageResult]) -> str:
    completed = [v for stage in stages for v in stage.variants if v.status == "Completed"]
    return "validation" if all(v.validation_loss is not None for v in completed) else "training"


def _variant(stage: SweepStageResult, variant: str) -> SweepVariantResult:
    return next(v for v in stage.variants if v.variant == variant)


def _finish(
    config: RunConfig, stages: list[SweepStageResult], results: list[VariantOutcome], loss_used: str
) -> SweepState:
    assert config.sweep is not None
    last = stages[-1]
    best = _variant(last, last.best_variant)
    outcome = next(outcome for outcome in results if outcome.variant == best.variant)
    winner = SweepWinner(
        variant=best.variant,
        hyper_parameters=best.hyper_parameters,
        training_loss=best.training_loss,
        validation_loss=best.validation_loss,
        model_arn=best.model_arn,
        job=outcome.job,
        job_status=outcome.job_status,
    )
    others = [
        variant.model_arn
        for stage in stages
        for variant in stage.variants
        if variant.model_arn and variant.model_arn != best.model_arn
    ]
    deleted: list[str] = []
    undeleted: list[str] = []
    if not config.sweep.keep_all:
        for arn in others:
            problem = _delete_model(arn)
            if problem is None:
                deleted.append(arn)
            else:
                undeleted.append(f"{arn}: {problem}")
    return SweepState(
        loss_used="validation" if loss_used == "validation" else "training",
        stages=stages,
        winner=winner,
        deleted_models=deleted,
        kept_models=others if config.sweep.keep_all else [],
        undeleted_models=undeleted,
    )


def _delete_model(arn: str) -> str | None:
    """Delete a losing variant's custom model; None when done (or already gone), else why not."""
    try:
        training.delete_custom_model(arn)
    except ClientError as exc:
        return f"{aws.error_code(exc)}: {aws.error_message(exc)}"[:300]
    except TransientAwsError as exc:
        return str(exc)[:300]
    return None
