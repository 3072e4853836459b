"""Know the cost before paying (issue 12): ValidateDataset prices the run, refuses one over its budget before
anything is created, and the report states the estimate and what the run really cost."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune import cost
from bedrock_finetune_local import runner

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
NO_DEPLOYMENT = {"deployment": {"mode": "none"}}


def run(config: dict[str, Any] | None = None, **kwargs: Any) -> runner.RunResult:
    return runner.run(runner.RunOptions(dataset=VALID, via="console", config=config, **kwargs))


def validation_document(result: runner.RunResult) -> dict[str, Any]:
    """The run's reports/<run>/validation.json, as the runner copied it out of the local bucket."""
    assert result.artifacts_dir is not None
    return dict(json.loads((Path(result.artifacts_dir) / "validation.json").read_text()))


@pytest.fixture(scope="module")
def within_budget() -> runner.RunResult:
    return run({"budget": {"maxUsd": 100}})


def test_a_run_within_its_budget_succeeds_and_its_report_shows_the_estimate_and_the_actual_cost(
    within_budget: runner.RunResult,
) -> None:
    result = within_budget
    assert result.status == "SUCCEEDED", result.error
    report = result.report or {}
    priced = report["cost"]
    estimate, actual = priced["estimate"], priced["actual"]
    # The estimate follows from the validated tokens, the epochs and the catalog's price
    tokens = report["validation"]["estimatedTokens"]
    epochs = int(report["hyperParameters"]["epochCount"])
    assert estimate["billableTokens"] == tokens * epochs
    assert math.isclose(
        estimate["trainingUsd"], estimate["billableTokens"] / 1000 * estimate["pricePer1kTrainingTokens"]
    )
    assert estimate["pricesAsOf"]
    assert 0 < estimate["runUsd"] <= 100
    # Bedrock reports no billed tokens: the actual training is the estimate, said as such
    assert actual["billableTokens"] == estimate["billableTokens"]
    assert actual["billableTokensSource"].startswith("estimate")
    assert actual["totalUsd"] >= actual["trainingUsd"] > 0
    assert any(line.startswith("Estimated cost: $") for line in result.notification_messages[0].splitlines())


def test_validation_json_carries_the_same_estimate_as_the_report(within_budget: runner.RunResult) -> None:
    document = validation_document(within_budget)
    report_estimate = (within_budget.report or {})["cost"]["estimate"]
    assert document["cost"]["billableTokens"] == report_estimate["billableTokens"]
    assert document["cost"]["trainingUsd"] == report_estimate["trainingUsd"]
    assert document["runEstimate"]["totalUsd"] == report_estimate["runUsd"]
    assert set(document["cost"]) >= {
        "trainingUsd",
        "storageUsdPerMonth",
        "deployment",
        "pricePer1kTrainingTokens",
        "billableTokens",
        "pricesAsOf",
        "source",
    }


def test_a_run_over_its_budget_fails_in_validate_dataset_before_anything_is_created() -> None:
    # Given a budget of one cent (the sample's training alone is about two)
    result = run({"budget": {"maxUsd": 0.01}})

    # Then the run FAILED in ValidateDataset with BudgetExceeded naming the estimate, the budget and the biggest term
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "BudgetExceeded"
    cause = result.error["cause"]
    assert "exceeds the budget $0.01" in cause
    assert "the biggest term is training" in cause
    assert result.states[:3] == ["ResolveConfig", "RetrainRequested", "ValidateDataset"]
    assert "CreateCustomizationJob" not in result.states
    # And the local Bedrock saw no create: no job, no model, no deployment
    assert result.jobs_created == 0
    assert all(items == [] for items in result.resources.values())


def test_a_sweep_is_estimated_as_the_sum_of_its_variants_and_the_guard_uses_that_sum(
    within_budget: runner.RunResult,
) -> None:
    # Given the single job's training estimate, and a budget between it and a three-variant sweep's
    single = (within_budget.report or {})["cost"]["estimate"]
    budget = single["runUsd"] + single["trainingUsd"] * 1.5
    sweep = {"vary": [{"parameter": "learningRate", "values": ["0.00001", "0.00002", "0.00004"]}]}

    # When the sweep runs with that budget
    result = run({"budget": {"maxUsd": budget}, "sweep": sweep, **NO_DEPLOYMENT})

    # Then it is refused: three variants cost three times the training
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "BudgetExceeded"
    assert "3 variants" in result.error["cause"]
    assert result.jobs_created == 0


def test_the_sweep_estimate_equals_the_sum_of_the_variant_estimates() -> None:
    variants = [cost.Variant(epochs=epochs) for epochs in (1, 2, 3)]
    total = cost.estimate_sweep(
        model_id="amazon.nova-micro-v1:0:128k", region="us-east-1", estimated_tokens=12_345, variants=variants
    )
    each = [
        cost.estimate(model_id="amazon.nova-micro-v1:0:128k", region="us-east-1", estimated_tokens=12_345, epochs=e)
        for e in (1, 2, 3)
    ]
    assert math.isclose(total.training_usd, sum(item.training_usd for item in each))
    assert total.billable_tokens == sum(item.billable_tokens or 0 for item in each) == 12_345 * 6


def test_a_kept_provisioned_throughput_states_its_hourly_cost_next_to_the_command_that_deletes_it() -> None:
    # Given a run that keeps its provisioned throughput
    result = run({"deployment": {"mode": "provisioned", "keep": True}})

    # Then the report and the notification give its hourly cost and the command that deletes it
    assert result.status == "SUCCEEDED", result.error
    report = result.report or {}
    per_hour = report["cost"]["keptDeploymentUsdPerHour"]
    assert per_hour == report["cost"]["estimate"]["deployment"]["usdPerHour"] > 0
    arn = report["deployment"]["arn"]
    line = next(line for line in result.notification_messages[0].splitlines() if "per hour until deleted" in line)
    assert f"${per_hour:.2f} per hour" in line
    assert f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {arn}" in line
    # And the hours it ran for the smoke test are counted in the actual cost (billed per hour started)
    actual = report["cost"]["actual"]
    assert actual["deploymentHours"] > 0
    assert actual["deploymentUsd"] == math.ceil(actual["deploymentHours"]) * per_hour
