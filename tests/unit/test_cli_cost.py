"""``bedrock-finetune validate`` prices the run (issue 12): the printed estimate follows from the JSON's
``billableTokens`` and the catalog's prices."""

from __future__ import annotations

import json
import math

import pytest
from conftest import NOVA_MICRO, REPO

from bedrock_finetune import cost
from bedrock_finetune_cli.main import main

SAMPLE = str(REPO / "events" / "datasets" / "support-chat.jsonl")


def validate(capsys: pytest.CaptureFixture[str], *extra: str) -> tuple[int, str]:
    code = main(["validate", SAMPLE, "--base-model", NOVA_MICRO, *extra])
    return code, capsys.readouterr().out


def test_the_printed_estimate_follows_from_the_json_billable_tokens_and_prices(
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Given the sample validated with --json and without
    code, out = validate(capsys, "--json")
    assert code == 0
    document = json.loads(out)
    _, text = validate(capsys)

    # Then billableTokens = estimated tokens × epochs, and trainingUsd = billableTokens / 1000 × price
    priced = document["cost"]
    tokens, epochs = document["stats"]["tokens"]["total"], int(document["hyperparameters"]["epochCount"])
    assert priced["billableTokens"] == tokens * epochs
    assert math.isclose(priced["trainingUsd"], priced["billableTokens"] / 1000 * priced["pricePer1kTrainingTokens"])
    table = cost.load_table().region_prices(NOVA_MICRO, "us-east-1")
    assert priced["pricePer1kTrainingTokens"] == table[cost.TRAINING_PER_1K_TOKENS].usd
    assert priced["storageUsdPerMonth"] == table[cost.STORAGE_PER_MONTH].usd
    assert priced["pricesAsOf"]
    assert priced["source"] == "catalog"
    # And the text says the same numbers, with the prices' date
    assert (
        f"Training:   {cost.format_usd(priced['trainingUsd'])} ({priced['billableTokens']:,} billable tokens = "
        f"{tokens:,} × {epochs} epochs at {cost.format_price(priced['pricePer1kTrainingTokens'])} per 1,000 tokens)"
    ) in text
    assert f"Storage:    {cost.format_usd(priced['storageUsdPerMonth'])} per month" in text
    assert f"Prices as of {priced['pricesAsOf']}" in text
    # And the run's estimate is training plus the smoke test
    run = document["runEstimate"]
    assert math.isclose(run["totalUsd"], sum(term["usd"] for term in run["terms"]))


def test_provisioned_deployment_is_priced_per_hour_and_overrides_change_the_numbers(
    capsys: pytest.CaptureFixture[str],
) -> None:
    overrides = json.dumps({"amazon.nova-micro-v1:0": {"trainingPer1kTokens": 0.0005}})
    code, out = validate(
        capsys, "--json", "--deployment", "provisioned", "--model-units", "2", "--price-overrides", overrides
    )
    assert code == 0
    priced = json.loads(out)["cost"]
    assert priced["deployment"]["mode"] == "provisioned"
    per_unit = cost.load_table().region_prices(NOVA_MICRO, "us-east-1")[cost.PROVISIONED_PER_MODEL_UNIT_HOUR].usd
    assert math.isclose(priced["deployment"]["usdPerHour"], 2 * per_unit)
    assert priced["pricePer1kTrainingTokens"] == 0.0005
    assert "override" in priced["source"]


def test_wrong_price_overrides_are_a_usage_error_naming_the_key(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["validate", SAMPLE, "--base-model", NOVA_MICRO, "--price-overrides", '{"amazon.nova-micro-v1:0": {"x": 1}}']
    )
    assert code == 2
    assert "--price-overrides" in capsys.readouterr().err


def test_an_invalid_dataset_gets_no_estimate(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(
        ["validate", str(REPO / "events" / "datasets" / "support-chat-broken.jsonl"), "--base-model", NOVA_MICRO]
    )
    assert code == 1
    assert "Cost estimate" not in capsys.readouterr().out
