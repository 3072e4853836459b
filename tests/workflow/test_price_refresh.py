"""Prices from the AWS Price List (issue 12, item 1): RefreshPrices reads this Region's Bedrock prices with
``pricing:GetProducts`` on its schedule into ``prices/price-list.json``; ValidateDataset's estimate and budget use them
in place of catalog/prices.json, the stack's PriceOverrides on top; whatever the Price List cannot give falls back to
the table. Run on the local AWS: its Price List (aws/pricing.py), IAM enforced, the schedule fired once before the
drop as its first run after the deploy would be."""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any

from bedrock_finetune import cost, naming
from bedrock_finetune_local import runner
from bedrock_finetune_local.clock import CLOCK

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
TRAINING = "USE1-NovaMicro-Customization-Training"
NO_DEPLOYMENT = {"deployment": {"mode": "none"}}
TABLE_PRICE = cost.load_table().region_prices(NOVA_MICRO, "us-east-1")[cost.TRAINING_PER_1K_TOKENS].usd
CUT_PRICE = TABLE_PRICE / 4


def run(config: dict[str, Any] | None = None, **kwargs: Any) -> runner.RunResult:
    return runner.run(runner.RunOptions(dataset=VALID, via="console", config=config or NO_DEPLOYMENT, **kwargs))


def estimate_of(result: runner.RunResult) -> dict[str, Any]:
    assert result.artifacts_dir is not None
    validation = json.loads((Path(result.artifacts_dir) / "validation.json").read_text())
    return dict(validation["cost"])


def test_a_price_cut_in_the_price_list_is_what_the_run_is_estimated_with() -> None:
    # Given a Price List whose Nova Micro training price is a quarter of the table's
    result = run(price_list_prices={TRAINING: CUT_PRICE})

    # Then the refresh read it, and stored what it read
    assert result.status == "SUCCEEDED", result.error
    refresh = result.price_refresh or {}
    assert refresh.get("accessDenied") == [], refresh
    assert NOVA_MICRO in refresh["refreshed"]
    assert refresh["priceListUri"].endswith("/prices/price-list.json")
    # (every model the Price List prices gave all its prices: nothing fell back, PriceRefreshFallbacks is 0; the
    # models it does not price are counted apart)
    assert refresh["fallbacks"] == {}
    assert "amazon.titan-text-express-v1:0:8k" in refresh["notInPriceList"]
    # And ValidateDataset priced the run with it
    estimate = estimate_of(result)
    assert estimate["pricePer1kTrainingTokens"] == CUT_PRICE
    assert math.isclose(estimate["trainingUsd"], estimate["billableTokens"] / 1000 * CUT_PRICE)
    assert estimate["source"] == "price-list"


def test_the_budget_guard_uses_the_refreshed_price() -> None:
    # Given a budget between the estimate at the Price List's price and the estimate at the table's
    baseline = estimate_of(run(price_list_prices={TRAINING: CUT_PRICE}))
    budget = baseline["trainingUsd"] * 2  # the table's price is four times the cut one
    assert baseline["billableTokens"] / 1000 * TABLE_PRICE > budget

    # When the run has that budget: with the cut price it goes ahead; at the table's price it is refused
    cheaper = run({**NO_DEPLOYMENT, "budget": {"maxUsd": budget}}, price_list_prices={TRAINING: CUT_PRICE})
    refused = run({**NO_DEPLOYMENT, "budget": {"maxUsd": budget}}, stack_parameters={"PriceRefreshSchedule": "off"})

    assert cheaper.status == "SUCCEEDED", cheaper.error
    assert refused.status == "FAILED"
    assert refused.error is not None
    assert refused.error["error"] == "BudgetExceeded"
    assert refused.jobs_created == 0


def test_when_the_price_list_fails_the_table_prices_the_run_and_the_refresh_says_why() -> None:
    # Given a Price List that throttles every call (botocore's two attempts included)
    result = run(
        price_refresh_faults=["pricing:GetProducts=ThrottlingException"], price_list_prices={TRAINING: CUT_PRICE}
    )

    # Then the run goes on, priced with the table, and the refresh names the error per model
    assert result.status == "SUCCEEDED", result.error
    refresh = result.price_refresh or {}
    assert refresh["refreshed"] == []
    assert refresh["fallbacks"][NOVA_MICRO] == "GetProducts failed: ThrottlingException"
    estimate = estimate_of(result)
    assert estimate["pricePer1kTrainingTokens"] == TABLE_PRICE
    assert estimate["source"] == "catalog"


def test_with_the_schedule_off_nothing_refreshes_and_the_table_prices_the_run() -> None:
    result = run(stack_parameters={"PriceRefreshSchedule": "off"}, price_list_prices={TRAINING: CUT_PRICE})

    assert result.status == "SUCCEEDED", result.error
    assert result.price_refresh is None  # the schedule is DISABLED: Scheduler never invokes it
    assert estimate_of(result)["pricePer1kTrainingTokens"] == TABLE_PRICE
    assert result.access_denied == []  # (with the refresh off, no document is read at all)


def test_a_stack_price_override_wins_over_the_price_list() -> None:
    overrides = json.dumps({"amazon.nova-micro-v1:0": {"trainingPer1kTokens": 0.0001}})
    result = run(stack_parameters={"PriceOverrides": overrides}, price_list_prices={TRAINING: CUT_PRICE})

    assert result.status == "SUCCEEDED", result.error
    estimate = estimate_of(result)
    assert estimate["pricePer1kTrainingTokens"] == 0.0001
    assert "override" in estimate["source"]


def test_the_reconcilers_running_cost_uses_the_refreshed_price(tmp_path: Path) -> None:
    # Given a Price List whose Nova Micro throughput rate differs from the table's, refreshed by the schedule
    rate = "USE1-NovaMicro-ProvisionedThroughput-NoCommit-ModelUnits"
    options = runner.RunOptions(dataset=VALID, price_list_prices={rate: 12.5})
    with runner.local_aws_session(options, tmp_path / "lambda.log") as deployed:
        refresh = runner.fire_schedule(deployed, "RefreshPricesFunction", 0)
        assert refresh is not None
        assert NOVA_MICRO in refresh["refreshed"]
        # and a kept throughput of two model units of this stack
        tags = naming.run_tags(
            run="r", execution_arn="arn:aws:states:us-east-1:123456789012:execution:x:r", sha256="0" * 64,
            source_key="inbox/x.jsonl", stack=options.stack_name, keep=True,
        )  # fmt: skip
        runner.admin_client("bedrock").create_provisioned_model_throughput(
            modelUnits=2, provisionedModelName="kept", modelId="amazon.nova-micro-v1:0", tags=tags
        )
        CLOCK.advance(600)

        # When the reconciler sweeps
        sweep = runner.fire_reconciler(deployed, 0)

    # Then the running cost is 2 units at the Price List's rate, read as the reconciler's own role
    assert sweep is not None
    assert sweep["accessDenied"] == []
    assert sweep["provisionedUsdPerHour"] == 2 * 12.5
