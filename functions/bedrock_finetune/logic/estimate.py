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

from bedrock_finetune import cost
from bedrock_finetune.config import RunConfig, StackSettings
from bedrock_finetune.errors import BudgetExceeded, ConfigInvalid

#: Upper bounds per smoke-test prompt for on-demand inference (a prompt from the dataset; the answer's maxTokens).
SMOKE_INPUT_TOKENS = 512
SMOKE_OUTPUT_TOKENS = 512
EPOCHS = "epochCount"


def variants(config: RunConfig, records: int = 0) -> list[cost.Variant] | None:
    """One Variant per job of the run's sweep (None without a sweep); ``records`` gives image models their images
    seen (records × epochs)."""
    if config.sweep is None:
        return None
    most = cost.epochs_from_hyperparameters(config.hyper_parameters)
    epochs_of_jobs: list[int | None] = []
    for stage in config.sweep.stages:
        if stage.parameter == EPOCHS:
            tried = [int(value) for value in stage.values]
            epochs_of_jobs += tried
            most = max(tried) if most is None else max(most, *tried)
        else:
            epochs_of_jobs += [most] * len(stage.values)
    return [cost.Variant(epochs=epochs, images_seen=records * (epochs or 1)) for epochs in epochs_of_jobs]


def price(
    *,
    model_id: str,
    region: str,
    estimated_tokens: int,
    hyper_parameters: dict[str, str],
    deployment_mode: cost.DeploymentChoice,
    model_units: int,
    smoke_prompts: int,
    records: int = 0,
    jobs: list[cost.Variant] | None = None,
    overrides: cost.PriceOverrides | None = None,
    table: cost.PriceTable | None = None,
) -> tuple[cost.Cost | cost.SweepCost, cost.RunCost]:
    """The training (one job, or every job of ``jobs``) and deployment prices, and the run's total with
    ``smoke_prompts`` smoke-test prompts: what ValidateDataset and ``bedrock-finetune validate`` both print.
    ConfigInvalid when a price is missing for the model and Region."""
    epochs = cost.epochs_from_hyperparameters(hyper_parameters)
    training: cost.Cost | cost.SweepCost
    if jobs is None:
        training = cost.estimate(
            model_id=model_id,
            region=region,
            estimated_tokens=estimated_tokens,
            epochs=epochs,
            deployment_mode=deployment_mode,
            model_units=model_units,
            images_seen=records * (epochs or 1),
            overrides=overrides,
            table=table,
        )
    else:
        training = cost.estimate_sweep(
            model_id=model_id,
            region=region,
            estimated_tokens=estimated_tokens,
            variants=jobs,
            deployment_mode=deployment_mode,
            model_units=model_units,
            overrides=overrides,
            table=table,
        )
    prompts = smoke_prompts if deployment_mode != "none" else 0
    run = cost.run_cost(
        training,
        smoke_input_tokens=prompts * SMOKE_INPUT_TOKENS,
        smoke_output_tokens=prompts * SMOKE_OUTPUT_TOKENS,
    )
    return training, run


def estimate(
    config: RunConfig,
    estimated_tokens: int,
    overrides: cost.PriceOverrides | None,
    *,
    records: int = 0,
    table: cost.PriceTable | None = None,
) -> tuple[cost.Cost | cost.SweepCost, cost.RunCost]:
    """``price`` for the run's configuration (its model, Region, deployment, smoke test and sweep)."""
    return price(
        model_id=config.base_model_id,
        region=config.region,
        estimated_tokens=estimated_tokens,
        hyper_parameters=config.hyper_parameters,
        deployment_mode=config.deployment.mode,
        model_units=config.deployment.model_units,
        smoke_prompts=config.smoke_test.count,
        records=records,
        jobs=variants(config, records),
        overrides=overrides,
        table=table,
    )


def guard(config: RunConfig, run: cost.RunCost) -> None:
    """BudgetExceeded when the run's estimate exceeds its budget (the message names both and the biggest term)."""
    if config.max_usd is None:
        return
    problem = cost.check_budget(cost.Budget(max_usd=config.max_usd), run)
    if problem is not None:
        raise BudgetExceeded(problem)


def priced(
    config: RunConfig,
    estimated_tokens: int,
    settings: StackSettings,
    *,
    records: int = 0,
    table: cost.PriceTable | None = None,
) -> tuple[cost.Cost | cost.SweepCost, cost.RunCost] | None:
    """``estimate``, or None when the model cannot be priced (a price missing for its Region): without a budget the
    run goes on unpriced; with one it is refused, since the budget cannot be checked. Wrong price overrides (the
    stack parameter PriceOverrides) raise ConfigInvalid: every run would be priced wrong. ``table``: the prices
    (default catalog/prices.json; on AWS, with the Price List refresh in place: refresh_prices.current_table)."""
    overrides = cost.parse_overrides(settings.price_overrides or None)
    try:
        return estimate(config, estimated_tokens, overrides, records=records, table=table)
    except ConfigInvalid as exc:
        if config.max_usd is not None:
            raise BudgetExceeded(f"the run has a budget, but its cost cannot be estimated: {exc}") from exc
        return None
