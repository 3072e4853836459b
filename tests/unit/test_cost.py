"""Cost estimates: the arithmetic per model family, the JSON shape, overrides, sweeps, the budget check and the text."""

from __future__ import annotations

import json
import math
import subprocess
import sys
from typing import Any

import pytest
from conftest import CLAUDE, COHERE, LLAMA_31_8B, NOVA_MICRO, REPO, TITAN_EMBEDDINGS, TITAN_EXPRESS, TITAN_LITE

from bedrock_finetune.cost import (
    ON_DEMAND_PER_1K_INPUT_TOKENS,
    ON_DEMAND_PER_1K_OUTPUT_TOKENS,
    PROVISIONED_PER_MODEL_UNIT_HOUR,
    STORAGE_PER_MONTH,
    TRAINING_PER_1K_TOKENS,
    TRAINING_PER_IMAGE,
    Cost,
    PriceOverrides,
    SweepCost,
    Variant,
    check_budget,
    epochs_from_hyperparameters,
    estimate,
    estimate_sweep,
    format_price,
    format_usd,
    load_table,
    parse_budget,
    parse_overrides,
    render,
    run_cost,
)
from bedrock_finetune.errors import ConfigInvalid

NOVA_PRO = "amazon.nova-pro-v1:0:300k"
TITAN_IMAGE_V2 = "amazon.titan-image-generator-v2:0"
LLAMA_33_70B = "meta.llama3-3-70b-instruct-v1:0:128k"
COST_KEYS = {
    "trainingUsd",
    "storageUsdPerMonth",
    "deployment",
    "pricePer1kTrainingTokens",
    "billableTokens",
    "pricesAsOf",
    "source",
}


def price(model: str, region: str, name: str) -> float:
    return load_table().region_prices(model, region)[name].usd


# --- arithmetic per family --------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("model", "region"),
    [
        pytest.param(NOVA_MICRO, "us-east-1", id="nova-micro"),
        pytest.param(NOVA_PRO, "us-east-1", id="nova-pro"),
        pytest.param(TITAN_EXPRESS, "us-west-2", id="titan-express"),
        pytest.param(TITAN_LITE, "us-east-1", id="titan-lite"),
        pytest.param(LLAMA_31_8B, "us-west-2", id="llama-3.1-8b"),
        pytest.param(LLAMA_33_70B, "us-west-2", id="llama-3.3-70b"),
        pytest.param(CLAUDE, "us-west-2", id="claude-3-haiku"),
        pytest.param(COHERE, "us-east-1", id="cohere-command"),
    ],
)
def test_training_is_billable_tokens_times_the_price_per_thousand(model: str, region: str) -> None:
    # Given a token-priced model, 1,234,567 estimated training tokens and 3 epochs
    per_1k = price(model, region, TRAINING_PER_1K_TOKENS)

    # When estimated with provisioned deployment on 2 model units
    cost = estimate(
        model_id=model,
        region=region,
        estimated_tokens=1_234_567,
        epochs=3,
        deployment_mode="provisioned",
        model_units=2,
    )

    # Then billable tokens are tokens × epochs, training is billable / 1000 × price, storage and PT come from the table
    assert cost.billable_tokens == 3_703_701
    assert cost.training_usd == pytest.approx(3_703.701 * per_1k, rel=1e-12)
    assert cost.price_per_1k_training_tokens == per_1k
    assert cost.storage_usd_per_month == price(model, region, STORAGE_PER_MONTH)
    assert cost.deployment.mode == "provisioned"
    assert cost.deployment.usd_per_hour == pytest.approx(2 * price(model, region, PROVISIONED_PER_MODEL_UNIT_HOUR))
    assert cost.deployment.model_units == 2


@pytest.mark.parametrize(
    ("model", "tokens", "epochs", "expected_usd"),
    [
        pytest.param(TITAN_EXPRESS, 500_000, 2, 8.00, id="titan-express-0.008"),
        pytest.param(TITAN_LITE, 2_500_000, 4, 4.00, id="titan-lite-0.0004"),
        pytest.param(COHERE, 1_000_000, 1, 4.00, id="cohere-command-0.004"),
    ],
)
def test_confirmed_prices_give_the_pages_arithmetic(model: str, tokens: int, epochs: int, expected_usd: float) -> None:
    # Given a model whose training price was read from the pricing page / When estimated
    cost = estimate(model_id=model, region="us-east-1", estimated_tokens=tokens, epochs=epochs)

    # Then the dollars are what the page's price gives by hand
    assert cost.training_usd == pytest.approx(expected_usd, rel=1e-12)


def test_nova_on_demand_deployment_is_priced_per_thousand_tokens() -> None:
    # Given Nova Micro, whose preferred deployment is on demand / When estimated with the mode left to the catalog
    cost = estimate(model_id=NOVA_MICRO, region="us-east-1", estimated_tokens=10_000, epochs=2)

    # Then the deployment carries the per-1,000-token prices, and no hourly charge
    assert cost.model_dump(mode="json")["deployment"] == {
        "mode": "on-demand",
        "usdPer1kInputTokens": price(NOVA_MICRO, "us-east-1", ON_DEMAND_PER_1K_INPUT_TOKENS),
        "usdPer1kOutputTokens": price(NOVA_MICRO, "us-east-1", ON_DEMAND_PER_1K_OUTPUT_TOKENS),
    }


@pytest.mark.parametrize(("model", "region"), [(TITAN_IMAGE_V2, "us-west-2"), (TITAN_EMBEDDINGS, "us-east-1")])
def test_image_models_are_priced_per_image_seen(model: str, region: str) -> None:
    # Given an image model and 4,000 images seen in training / When estimated
    cost = estimate(model_id=model, region=region, estimated_tokens=5_000, epochs=None, images_seen=4_000)

    # Then training is images × the price per image, and the JSON says so instead of tokens
    assert cost.training_usd == pytest.approx(4_000 * price(model, region, TRAINING_PER_IMAGE), rel=1e-12)
    data = cost.model_dump(mode="json")
    assert data["billableImages"] == 4_000
    assert data["pricePerTrainingImage"] == price(model, region, TRAINING_PER_IMAGE)
    assert data["billableTokens"] is None
    assert data["pricePer1kTrainingTokens"] is None


def test_an_image_model_without_images_seen_is_refused() -> None:
    # Given Titan Image Generator and no count of images / When estimated / Then ConfigInvalid asks for it
    with pytest.raises(ConfigInvalid, match="priced per image seen: give images_seen"):
        estimate(model_id=TITAN_IMAGE_V2, region="us-east-1", estimated_tokens=100, epochs=None)


# --- the JSON ---------------------------------------------------------------------------------------------------------
def test_the_json_shape_is_exactly_the_contract() -> None:
    # Given a provisioned estimate for Titan Text Express
    cost = estimate(
        model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=1_000, epochs=1, deployment_mode="provisioned"
    )

    # When serialized / Then the keys are exactly the contract's, camelCase, and the deployment's too
    data = cost.model_dump(mode="json")
    assert set(data) == COST_KEYS
    assert set(data["deployment"]) == {"mode", "usdPerHour", "modelUnits"}
    assert data["source"] == "catalog"
    assert data["pricesAsOf"] == "2025-02-28"

    # And it parses back to the same JSON
    assert Cost.model_validate(json.loads(json.dumps(data))).model_dump(mode="json") == data


def test_amounts_are_exact_in_the_json_and_rounded_only_in_text() -> None:
    # Given 1,234,567 tokens at Titan Text Express's $0.008 per 1,000 / When estimated
    cost = estimate(model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=1_234_567, epochs=1)

    # Then the JSON keeps every digit, and the text shows cents
    assert json.loads(cost.model_dump_json())["trainingUsd"] == 1_234.567 * 0.008
    assert "$9.88 " in render(cost)


def test_no_deployment_is_a_mode_of_its_own() -> None:
    # Given deployment mode none / When estimated / Then the deployment says so and nothing else
    cost = estimate(model_id=CLAUDE, region="us-west-2", estimated_tokens=1_000, epochs=2, deployment_mode="none")
    assert cost.model_dump(mode="json")["deployment"] == {"mode": "none"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"model_id": CLAUDE, "region": "us-west-2", "deployment_mode": "on-demand"}, "cannot be deployed on-demand"),
        ({"model_id": CLAUDE, "region": "us-east-1"}, "no prices for .* in us-east-1: prices exist for us-west-2"),
        ({"model_id": TITAN_EXPRESS, "region": "us-east-1", "epochs": 0}, "epochs must be an integer of at least 1"),
        ({"model_id": TITAN_EXPRESS, "region": "us-east-1", "epochs": None}, "number of epochs is unknown"),
        ({"model_id": TITAN_EXPRESS, "region": "us-east-1", "estimated_tokens": -1}, "estimated_tokens must be"),
        ({"model_id": TITAN_EXPRESS, "region": "us-east-1", "model_units": 0}, "model_units must be"),
        ({"model_id": "amazon.titan-text-express-v1", "region": "us-east-1"}, "unknown base model id"),
    ],
)
def test_impossible_estimates_are_refused_with_a_reason(kwargs: dict[str, Any], message: str) -> None:
    # Given an estimate the catalog or the table cannot price / When estimated / Then ConfigInvalid says why
    arguments: dict[str, Any] = {"estimated_tokens": 1_000, "epochs": 2, **kwargs}
    with pytest.raises(ConfigInvalid, match=message):
        estimate(**arguments)


# --- overrides --------------------------------------------------------------------------------------------------------
def test_a_model_wide_override_applies_in_every_region_and_is_named_as_the_source() -> None:
    # Given the brief's override, keyed by the id without its context suffix, as the stack parameter's JSON text
    overrides = parse_overrides('{"amazon.nova-micro-v1:0": {"trainingPer1kTokens": 0.0008}}')

    # When Nova Micro is estimated with it
    cost = estimate(model_id=NOVA_MICRO, region="us-east-1", estimated_tokens=1_000_000, epochs=1, overrides=overrides)

    # Then the overridden price is used and named, the other prices still come from the table
    assert cost.price_per_1k_training_tokens == 0.0008
    assert cost.training_usd == pytest.approx(0.8)
    assert cost.source == "override+catalog"
    assert TRAINING_PER_1K_TOKENS not in cost.unconfirmed


def test_a_region_override_wins_over_the_model_wide_one() -> None:
    # Given a model-wide training price and a different one for us-west-2
    overrides = parse_overrides(
        {TITAN_EXPRESS: {"trainingPer1kTokens": 0.01, "us-west-2": {"trainingPer1kTokens": 0.02}}}
    )

    # When estimated in both Regions / Then us-west-2 uses its own price and us-east-1 the model-wide one
    east = estimate(model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=1_000, epochs=1, overrides=overrides)
    west = estimate(model_id=TITAN_EXPRESS, region="us-west-2", estimated_tokens=1_000, epochs=1, overrides=overrides)
    assert (east.price_per_1k_training_tokens, west.price_per_1k_training_tokens) == (0.01, 0.02)


def test_when_every_price_used_is_overridden_the_source_is_the_override_alone() -> None:
    # Given every price Cohere Command needs overridden
    overrides = parse_overrides(
        {COHERE: {"trainingPer1kTokens": 0.005, "storagePerMonth": 2, "provisionedPerModelUnitHour": 50}}
    )

    # When estimated / Then the source is the override and no catalog date is claimed
    cost = estimate(model_id=COHERE, region="us-west-2", estimated_tokens=1_000, epochs=1, overrides=overrides)
    assert (cost.source, cost.prices_as_of) == ("override", None)


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ("{not json", r"PriceOverrides: not JSON \(Expecting property name"),
        ("[]", "PriceOverrides: must be a JSON object keyed by base model id, got list"),
        ('{"amazon.nova-micro": {"trainingPer1kTokens": 1}}', r"key 'amazon.nova-micro' is not a base model id.*"),
        ('{"amazon.nova-micro-v1:0": 0.001}', r"PriceOverrides\['amazon.nova-micro-v1:0'\]: must be an object"),
        (
            '{"amazon.nova-micro-v1:0": {"trainingPer1KTokens": 1}}',
            r"unknown key 'trainingPer1KTokens' \(did you mean 'trainingPer1kTokens'\?\)",
        ),
        ('{"amazon.nova-micro-v1:0": {"trainingPer1kTokens": -1}}', r"\['trainingPer1kTokens'\]: must be a non-neg"),
        ('{"amazon.nova-micro-v1:0": {"trainingPer1kTokens": true}}', "must be a non-negative number"),
        ('{"amazon.nova-micro-v1:0": {"trainingPer1kTokens": "0.1"}}', "must be a non-negative number"),
        ('{"amazon.nova-micro-v1:0": {"us-west-2": {"storagePerMonth": 1}}}', "is not customized in us-west-2"),
        ('{"amazon.nova-micro-v1:0": {"us-east-1": {"storage": 1}}}', r"\['us-east-1'\]: unknown price 'storage'"),
        ('{"amazon.titan-image-generator-v2:0": {"trainingPer1kTokens": 1}}', "use trainingPerImage"),
        ('{"anthropic.claude-3-haiku-20240307-v1:0:200k": {"onDemandPer1kInputTokens": 1}}', "deployment modes"),
        (
            '{"amazon.nova-micro-v1:0": {"storagePerMonth": 1}, "amazon.nova-micro-v1:0:128k": {"storagePerMonth": 2}}',
            "name the same model",
        ),
    ],
)
def test_bad_overrides_are_rejected_naming_the_key(raw: str, message: str) -> None:
    # Given a malformed PriceOverrides parameter / When parsed / Then ConfigInvalid names the bad key and the rule
    with pytest.raises(ConfigInvalid, match=message):
        parse_overrides(raw)


@pytest.mark.parametrize("empty", [None, "", "  ", "{}"])
def test_no_overrides_change_nothing(empty: str | None) -> None:
    # Given an empty parameter / When parsed and used / Then there is nothing to apply
    overrides = parse_overrides(empty)
    assert not overrides
    assert estimate(model_id=COHERE, region="us-east-1", estimated_tokens=1, epochs=1, overrides=overrides).source == (
        "catalog"
    )


# --- sweeps -----------------------------------------------------------------------------------------------------------
def test_a_sweep_is_the_sum_of_its_variants() -> None:
    # Given a sweep of epochCount 1, 2 and 3 over a 400,000-token dataset, the last variant on a smaller split
    variants = [Variant(epochs=1), Variant(epochs=2), Variant(epochs=3, estimated_tokens=300_000)]

    # When estimated as a sweep and each variant alone
    sweep = estimate_sweep(
        model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=400_000, variants=variants, model_units=1
    )
    alone = [
        estimate(
            model_id=TITAN_EXPRESS,
            region="us-east-1",
            estimated_tokens=variant.estimated_tokens or 400_000,
            epochs=variant.epochs,
        )
        for variant in variants
    ]

    # Then training, billable tokens and storage are the sums of the variants', and the variants are listed in order
    assert sweep.training_usd == math.fsum(cost.training_usd for cost in alone)
    assert sweep.billable_tokens == 400_000 + 800_000 + 900_000
    assert sweep.storage_usd_per_month == math.fsum(cost.storage_usd_per_month for cost in alone)
    assert [cost.model_dump() for cost in sweep.variants] == [cost.model_dump() for cost in alone]
    # And only one model is deployed
    assert sweep.deployment == alone[0].deployment
    assert set(sweep.model_dump(mode="json")) == COST_KEYS | {"variants"}


def test_a_sweep_with_overrides_prices_every_variant_with_them() -> None:
    # Given an override and two variants / When estimated as a sweep
    overrides = parse_overrides({TITAN_LITE: {"trainingPer1kTokens": 0.001}})
    sweep = estimate_sweep(
        model_id=TITAN_LITE,
        region="us-east-1",
        estimated_tokens=1_000_000,
        variants=[Variant(epochs=1), Variant(epochs=1)],
        overrides=overrides,
    )

    # Then each variant used the override
    assert sweep.training_usd == pytest.approx(2.0)
    assert {cost.source for cost in sweep.variants} == {"override+catalog"}


def test_a_sweep_needs_a_variant() -> None:
    with pytest.raises(ConfigInvalid, match="at least one variant"):
        estimate_sweep(model_id=TITAN_LITE, region="us-east-1", estimated_tokens=1, variants=[])


# --- the run and the budget -------------------------------------------------------------------------------------------
def test_the_run_adds_at_least_one_provisioned_hour_for_the_smoke_test() -> None:
    # Given Titan Text Express on 2 model units
    cost = estimate(model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=100, epochs=1, model_units=2)

    # When the run is estimated for a 20-minute and a 90-minute smoke test
    short, long = run_cost(cost, smoke_test_hours=1 / 3), run_cost(cost, smoke_test_hours=1.5)

    # Then the deployment is charged 1 and 2 whole hours of both units
    assert short.terms[1].usd == pytest.approx(2 * 20.50)
    assert long.terms[1].usd == pytest.approx(2 * 2 * 20.50)
    assert short.total_usd == pytest.approx(cost.training_usd + 41.0)


def test_an_on_demand_smoke_test_costs_its_tokens() -> None:
    # Given Nova Micro on demand / When the run's smoke test reads 3,000 and writes 768 tokens
    cost = estimate(model_id=NOVA_MICRO, region="us-east-1", estimated_tokens=100, epochs=1)
    run = run_cost(cost, smoke_input_tokens=3_000, smoke_output_tokens=768)

    # Then the smoke test costs those tokens at the on-demand prices
    expected = 3 * price(NOVA_MICRO, "us-east-1", ON_DEMAND_PER_1K_INPUT_TOKENS) + 0.768 * price(
        NOVA_MICRO, "us-east-1", ON_DEMAND_PER_1K_OUTPUT_TOKENS
    )
    assert run.terms[1].name == "smoke-test inference"
    assert run.terms[1].usd == pytest.approx(expected)


def test_an_exceeded_budget_names_the_estimate_the_budget_and_the_biggest_term() -> None:
    # Given a 3-variant sweep costing $48.00 of training and a $20.50 smoke-test hour, and a $10 budget
    sweep = estimate_sweep(
        model_id=TITAN_EXPRESS,
        region="us-east-1",
        estimated_tokens=1_000_000,
        variants=[Variant(epochs=2)] * 3,
    )
    run = run_cost(sweep)

    # When checked / Then the message names the estimate, the budget and training as the biggest term, with its sum
    message = check_budget({"maxUsd": 10}, run)
    assert message == (
        "estimated cost $68.50 exceeds the budget $10.00; the biggest term is training "
        "(3 variants × 2,000,000 billable tokens × $0.008 per 1,000 tokens = $48.00)"
    )


def test_when_deployment_is_the_biggest_term_the_message_says_so() -> None:
    # Given a tiny training job on Cohere Command (provisioned at $49.50 an hour) and a $20 budget
    cost = estimate(model_id=COHERE, region="us-east-1", estimated_tokens=10_000, epochs=1)

    # When checked / Then the smoke-test deployment is the biggest term
    message = check_budget(parse_budget('{"maxUsd": 20}'), run_cost(cost))
    assert message is not None
    assert message.startswith("estimated cost $49.54 exceeds the budget $20.00; the biggest term is smoke-test deploy")
    assert "(1 h × 1 model unit × $49.50 per model-unit hour = $49.50)" in message


def test_a_run_within_or_at_the_budget_passes() -> None:
    # Given a run estimated at exactly $8.00 of training and no deployment
    cost = estimate(
        model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=1_000_000, epochs=1, deployment_mode="none"
    )
    run = run_cost(cost)

    # When checked against $8 and $100, and without a budget / Then there is nothing to say
    assert run.total_usd == 8.0
    assert check_budget({"maxUsd": 8}, run) is None
    assert check_budget({"maxUsd": 100}, run) is None
    assert check_budget(None, run) is None


def test_the_message_shows_enough_decimals_to_tell_estimate_from_budget() -> None:
    # Given a run estimated at $10.004 and a $10 budget
    cost = estimate(
        model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=1_250_500, epochs=1, deployment_mode="none"
    )

    # When checked / Then the amounts are not both shown as $10.00
    message = check_budget({"maxUsd": 10}, run_cost(cost))
    assert message is not None
    assert message.startswith("estimated cost $10.004 exceeds the budget $10.000;")


@pytest.mark.parametrize(
    ("raw", "message"),
    [
        ('{"maxUsd": 0}', r"budget.maxUsd: must be a positive number of US dollars, got 0"),
        ('{"maxUsd": "10"}', "must be a positive number"),
        ('{"maxUSD": 10}', r"unknown key 'maxUSD' \(did you mean 'maxUsd'\?\)"),
        ("{}", "budget.maxUsd: missing"),
        ("10", "must be an object"),
        ("{", "budget: not JSON"),
    ],
)
def test_bad_budgets_are_rejected(raw: str, message: str) -> None:
    with pytest.raises(ConfigInvalid, match=message):
        parse_budget(raw)


# --- text ------------------------------------------------------------------------------------------------------------
def test_the_cli_text_has_training_storage_deployment_and_the_prices_date() -> None:
    # Given a Titan Text Express estimate and its run / When rendered
    cost = estimate(model_id=TITAN_EXPRESS, region="us-east-1", estimated_tokens=1_000_000, epochs=2)
    text = render(cost, run_cost(cost))

    # Then each line a person needs is there, with the table's date
    assert "Training:   $16.00 (2,000,000 billable tokens = 1,000,000 × 2 epochs at $0.008 per 1,000 tokens)" in text
    assert "Storage:    $1.95 per month for the custom model" in text
    assert "Deployment: $20.50 per hour (Provisioned Throughput, 1 model unit" in text
    assert "Smoke test: $20.50" in text
    assert "Run total:  $36.50" in text
    assert "Prices as of 2025-02-28 (source: catalog)." in text
    assert "Not confirmed" not in text


def test_the_cli_text_flags_unconfirmed_prices_and_on_demand_rates() -> None:
    # Given a Nova Micro estimate (training and storage prices unconfirmed) / When rendered
    text = render(estimate(model_id=NOVA_MICRO, region="us-east-1", estimated_tokens=1_000, epochs=1))

    # Then on-demand prices are shown exactly, and the unconfirmed prices are named with how to correct them
    assert "on demand, $0.000035 per 1,000 input tokens and $0.00014 per 1,000 output tokens" in text
    assert "Not confirmed: trainingPer1kTokens, storagePerMonth; correct them with the PriceOverrides" in text


def test_a_sweep_text_counts_its_variants() -> None:
    sweep = estimate_sweep(
        model_id=TITAN_LITE, region="us-east-1", estimated_tokens=1_000, variants=[Variant(1), Variant(2)]
    )
    text = render(sweep)
    assert isinstance(sweep, SweepCost)
    assert "2 variants, 3,000 billable tokens in all" in text
    assert "per month if all 2 custom models are kept" in text


@pytest.mark.parametrize(
    ("amount", "text"),
    [(12.345, "$12.35"), (1234.5, "$1,234.50"), (0.0012345, "$0.0012"), (0, "$0.00"), (0.00999, "$0.01")],
)
def test_dollars_are_rounded_for_people(amount: float, text: str) -> None:
    assert format_usd(amount) == text


@pytest.mark.parametrize(("amount", "text"), [(0.000035, "$0.000035"), (60.5, "$60.50"), (1e-05, "$0.00001")])
def test_unit_prices_are_shown_as_written(amount: float, text: str) -> None:
    assert format_price(amount) == text


@pytest.mark.parametrize(
    ("resolved", "epochs"), [({"epochCount": "2"}, 2), ({"epochCount": "Auto"}, None), ({"stepCount": "500"}, None)]
)
def test_epochs_come_from_the_resolved_hyperparameters(resolved: dict[str, str], epochs: int | None) -> None:
    assert epochs_from_hyperparameters(resolved) == epochs


def test_overrides_object_is_reusable_and_immutable() -> None:
    overrides = parse_overrides({NOVA_MICRO: {"storagePerMonth": 3}})
    assert isinstance(overrides, PriceOverrides)
    with pytest.raises(TypeError):
        overrides.entries[(NOVA_MICRO, None)]["storagePerMonth"] = 4  # type: ignore[index]


def test_importing_cost_loads_neither_boto3_nor_the_table() -> None:
    # Given a fresh interpreter / When cost is imported
    probe = (
        "import sys, bedrock_finetune.cost as cost; "
        "aws = sorted(n for n in sys.modules if n.split('.')[0] in ('boto3', 'botocore')); "
        "print(aws, cost.load_table.cache_info())"
    )
    done = subprocess.run([sys.executable, "-c", probe], cwd=REPO, capture_output=True, text=True, check=True)

    # Then boto3 is not loaded and the table is not read yet
    assert done.stdout.startswith("[] CacheInfo(hits=0, misses=0")
