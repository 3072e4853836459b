"""SweepStage's decisions (logic/sweep.py): which variant is best, what a failed variant does, when a sweep fails."""

from __future__ import annotations

import pytest

from bedrock_finetune.errors import SweepStageFailed
from bedrock_finetune.logic import sweep
from bedrock_finetune.models import (
    JobInfo,
    JobMetrics,
    JobStatusOutput,
    SweepNextStage,
    SweepVariantPlan,
    VariantOutcome,
)

from .conftest import Account
from .test_claim_training import run_of


def stage(account: Account, values: list[str]) -> SweepNextStage:
    config, _ = run_of(account, "inbox/a.jsonl", "a")
    variants = [
        SweepVariantPlan(
            variant=sweep.variant_id(0, index),
            value=value,
            hyper_parameters={**config.hyper_parameters, "learningRate": value},
            config=config.model_copy(update={"variant": sweep.variant_id(0, index)}),
        )
        for index, value in enumerate(values)
    ]
    return SweepNextStage(index=0, parameter="learningRate", variants=variants)


def outcome(variant: str, status: str, training: float | None, validation: float | None) -> VariantOutcome:
    return VariantOutcome(
        variant=variant,
        job=JobInfo(job_arn=f"arn:job/{variant}", job_name=variant, model_name=variant, output_s3_uri="s3://b/o/"),
        job_status=JobStatusOutput(
            status=status,
            message=f"job {variant} is {status}",
            elapsed_seconds=1,
            wait_seconds=1,
            model_arn=f"arn:model/{variant}" if status == "Completed" else None,
            metrics=JobMetrics(training_loss=training, validation_loss=validation) if status == "Completed" else None,
        ),
    )


def test_the_best_variant_is_the_lowest_validation_loss_even_when_its_training_loss_is_not(account: Account) -> None:
    planned = stage(account, ["1e-06", "1e-05", "0.0001"])
    results = [
        outcome("s1v1", "Completed", 0.9, 1.2),
        outcome("s1v2", "Completed", 0.7, 0.8),
        outcome("s1v3", "Completed", 0.2, 1.5),  # overfits: lowest training loss, worst validation loss
    ]
    recorded = sweep.record(planned, results)
    assert (recorded.best, recorded.best_variant) == ("1e-05", "s1v2")


def test_without_validation_losses_the_training_loss_decides(account: Account) -> None:
    planned = stage(account, ["1e-06", "1e-05"])
    recorded = sweep.record(planned, [outcome("s1v1", "Completed", 0.5, None), outcome("s1v2", "Completed", 0.6, None)])
    assert recorded.best == "1e-06"


def test_a_tie_goes_to_the_value_listed_first(account: Account) -> None:
    planned = stage(account, ["1e-05", "1e-06"])
    recorded = sweep.record(planned, [outcome("s1v1", "Completed", 0.5, 0.7), outcome("s1v2", "Completed", 0.4, 0.7)])
    assert recorded.best == "1e-05"


def test_a_failed_variant_is_reported_and_skipped(account: Account) -> None:
    planned = stage(account, ["1e-06", "1e-05"])
    recorded = sweep.record(planned, [outcome("s1v1", "Failed", None, None), outcome("s1v2", "Completed", 0.9, 1.1)])
    assert recorded.best == "1e-05"
    failed = recorded.variants[0]
    assert (failed.status, failed.model_arn, failed.validation_loss) == ("Failed", None, None)
    assert failed.message == "job s1v1 is Failed"


def test_a_stage_whose_every_variant_failed_fails_the_sweep_naming_each(account: Account) -> None:
    planned = stage(account, ["1e-06", "1e-05"])
    with pytest.raises(
        SweepStageFailed, match=r"stage 1 \(learningRate\).*s1v1 \(1e-06\): Failed.*s1v2 \(1e-05\): Stopped"
    ):
        sweep.record(planned, [outcome("s1v1", "Failed", None, None), outcome("s1v2", "Stopped", None, None)])
