"""What a run will cost, decided where the run is decided: ValidateDataset prices the validated dataset (cost.py
and catalog/prices.json), writes the estimate into validation.json, and refuses a run whose estimate exceeds its
budget before anything is created.

* One job: ``billableTokens = estimatedTokens × epochs``, times the model's price per 1,000 training tokens.
* A sweep: the sum of its variants (one job per value of every stage). A stage that does not vary the epochs trains
  with the run's epochs, or, after a stage that varied them, with the most epochs tried (the winner is not known
  yet: the estimate stays an upper bound).
* The run: training plus the smoke test's deployment (Provisioned Throughput is billed per hour: at least one hour
  × model units; on demand: the smoke test's tokens, ``SMOKE_INPUT_TOKENS`` and ``SMOKE_OUTPUT_TOKENS`` per prompt).
"""

from __future__ import annotations

from typing import Any

from bedrock_finetune import cost
from bedrock_finetune.config import RunConfig, StackSettings
from bedrock_finetune.errors import BudgetExceeded, ConfigInvalid

#: Upper bounds per smoke-test prompt for on-demand inference (a prompt from the dataset; the answer's maxTokens).
SMOKE_INPUT_TOKENS = 512
SMOKE_OUTPUT_TOKENS = 512
EPOCHS = "epochCount"


def variants(config: RunConfig) -> list[cost.Variant] | None:
    """One Variant per job of the run's sweep (None without a sweep)."""
    if config.sweep is None:
        return None
    base = cost.epochs_from_hyperparameters(config.hyper_parameters)
    most = base
    jobs: list[cost.Variant] = []
    for stage in config.sweep.stages:
        if stage.parameter == EPOCHS:
            tried = [int(value) for value in stage.values]
            jobs += [cost.Variant(epochs=epochs) for epochs in tried]
            most = max(tried) if most is None else max(most, *tried)
        else:
            jobs += [cost.Variant(epochs=most) for _ in stage.values]
    return jobs


def estimate(
    config: RunConfig, estimated_tokens: int, overrides: cost.PriceOverrides | None, *, records: int = 0
) -> tuple[cost.Cost | cost.SweepCost, cost.RunCost]:
    """The training (every variant) and deployment prices, and the run's total. ConfigInvalid when a price is
    missing for the model and Region."""
    mode = config.deployment.mode
    units = config.deployment.model_units
    epochs = cost.epochs_from_hyperparameters(config.hyper_parameters)
    images = records * (epochs or 1)
    jobs = variants(config)
    training: cost.Cost | cost.SweepCost
    if jobs is None:
        training = cost.estimate(
            model_id=config.base_model_id,
            region=config.region,
            estimated_tokens=estimated_tokens,
            epochs=epochs,
            deployment_mode=mode,
            model_units=units,
            images_seen=images,
            overrides=overrides,
        )
    else:
        jobs = [cost.Variant(epochs=job.epochs, images_seen=records * (job.epochs or 1)) for job in jobs]
        training = cost.estimate_sweep(
            model_id=config.base_model_id,
            region=config.region,
            estimated_tokens=estimated_tokens,
            variants=jobs,
            deployment_mode=mode,
            model_units=units,
            overrides=overrides,
        )
    prompts = config.smoke_test.count if mode != "none" else 0
    run = cost.run_cost(
        training,
        smoke_input_tokens=prompts * SMOKE_INPUT_TOKENS,
        smoke_output_tokens=prompts * SMOKE_OUTPUT_TOKENS,
    )
    return training, run


def guard(config: RunConfig, run: cost.RunCost) -> None:
    """BudgetExceeded when the run's estimate exceeds its budget (the message names both and the biggest term)."""
    if config.max_usd is None:
        return
    problem = cost.check_budget(cost.Budget(max_usd=config.max_usd), run)
    if problem is not None:
        raise BudgetExceeded(problem)


def as_json(training: cost.Cost | cost.SweepCost, run: cost.RunCost) -> tuple[dict[str, Any], dict[str, Any]]:
    return training.model_dump(mode="json"), run.model_dump(mode="json")


def priced(
    config: RunConfig, estimated_tokens: int, settings: StackSettings, *, records: int = 0
) -> tuple[cost.Cost | cost.SweepCost, cost.RunCost] | None:
    """``estimate``, or None when the model cannot be priced (a price missing for its Region): without a budget the
    run goes on unpriced; with one it is refused, since the budget cannot be checked. Wrong price overrides (the
    stack parameter PriceOverrides) raise ConfigInvalid: every run would be priced wrong."""
    overrides = cost.parse_overrides(settings.price_overrides or None)
    try:
        return estimate(config, estimated_tokens, overrides, records=records)
    except ConfigInvalid as exc:
        if config.max_usd is not None:
            raise BudgetExceeded(f"the run has a budget, but its cost cannot be estimated: {exc}") from exc
        return None
