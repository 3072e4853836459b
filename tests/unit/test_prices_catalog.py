"""The price table: every catalog model has, in every Region it is customized in, the prices its customization and
deployment modes need, each with an AWS page, a date and a confirmation flag (and a note when unconfirmed)."""

from __future__ import annotations

import json
import math
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from conftest import REPO

from bedrock_finetune.catalog import ModelSpec, all_models
from bedrock_finetune.cost import (
    ON_DEMAND_PER_1K_INPUT_TOKENS,
    ON_DEMAND_PER_1K_OUTPUT_TOKENS,
    PRICE_FIELDS,
    PROVISIONED_PER_MODEL_UNIT_HOUR,
    STORAGE_PER_MONTH,
    TRAINING_PER_1K_TOKENS,
    TRAINING_PER_IMAGE,
    applicable_fields,
    load_table,
    parse_table,
    training_field,
)

PRICES = REPO / "functions" / "bedrock_finetune" / "catalog" / "prices.json"
AWS_PAGES = ("https://aws.amazon.com/", "https://docs.aws.amazon.com/", "https://pricing.us-east-1.amazonaws.com/")
MODEL_REGIONS = [
    pytest.param(spec, region, id=f"{spec.id}-{region}") for spec in all_models() for region in spec.regions
]


def raw_table(path: Path = PRICES) -> dict[str, Any]:
    return dict(json.loads(path.read_text(encoding="utf-8")))


def raw_values(spec: ModelSpec, region: str) -> dict[str, Any]:
    return dict(raw_table()["models"][spec.id]["regions"][region])


@pytest.mark.parametrize(("spec", "region"), MODEL_REGIONS)
def test_every_catalog_model_has_the_prices_it_needs_in_every_region(spec: ModelSpec, region: str) -> None:
    # Given a catalog model and a Region it is customized in / When its row is read from prices.json
    values = raw_values(spec, region)

    # Then it has exactly its training unit, storage, and the prices of each deployment mode the catalog offers
    expected = {training_field(spec), STORAGE_PER_MONTH}
    if "provisioned" in spec.deployment_modes:
        expected.add(PROVISIONED_PER_MODEL_UNIT_HOUR)
    if "on-demand" in spec.deployment_modes:
        expected |= {ON_DEMAND_PER_1K_INPUT_TOKENS, ON_DEMAND_PER_1K_OUTPUT_TOKENS}
    assert set(values) == expected
    assert set(applicable_fields(spec)) == expected


@pytest.mark.parametrize(("spec", "region"), MODEL_REGIONS)
def test_every_value_carries_an_aws_page_a_date_and_whether_it_was_confirmed(spec: ModelSpec, region: str) -> None:
    # Given the table's review date / When each value of the row is read
    reviewed = date.fromisoformat(raw_table()["pricesAsOf"])
    for name, value in raw_values(spec, region).items():
        # Then the price is a non-negative number, from an AWS page, dated no later than the review
        assert isinstance(value["usd"], int | float), name
        assert math.isfinite(value["usd"]), name
        assert value["usd"] >= 0, name
        assert value["source"].startswith(AWS_PAGES), name
        assert date.fromisoformat(value["asOf"]) <= reviewed, name
        assert isinstance(value["confirmed"], bool), name
        # And a value the table could not confirm says what it rests on
        if not value["confirmed"]:
            assert len(value.get("note", "")) > 20, name
        # And where the page was read is one of the named copies
        if "seenIn" in value:
            assert value["seenIn"] in raw_table()["copies"], name


def test_the_table_has_no_row_the_catalog_does_not_know() -> None:
    # Given the catalog's models and Regions / When the table's rows are listed
    known = {(spec.id, region) for spec in all_models() for region in spec.regions}
    rows = {(model, region) for model, row in raw_table()["models"].items() for region in row["regions"]}

    # Then each row is a catalog model in one of its Regions, and each Price List family is for a catalog model
    assert rows == known
    families = {model for model, row in raw_table()["models"].items() if "priceListFamily" in row}
    assert families <= {spec.id for spec in all_models()}


def test_confirmed_prices_are_the_ones_read_from_the_pages() -> None:
    # Given the values read from copies of the AWS pricing page (Titan 2025-02-28, Cohere 2024-03-13)
    table = load_table()
    expected = {
        ("amazon.titan-text-express-v1:0:8k", TRAINING_PER_1K_TOKENS): 0.008,
        ("amazon.titan-text-express-v1:0:8k", PROVISIONED_PER_MODEL_UNIT_HOUR): 20.50,
        ("amazon.titan-text-lite-v1:0:4k", TRAINING_PER_1K_TOKENS): 0.0004,
        ("amazon.titan-text-lite-v1:0:4k", PROVISIONED_PER_MODEL_UNIT_HOUR): 7.10,
        ("amazon.titan-image-generator-v2:0", TRAINING_PER_IMAGE): 0.005,
        ("amazon.titan-embed-image-v1:0", TRAINING_PER_IMAGE): 0.0002,
        ("amazon.titan-embed-image-v1:0", PROVISIONED_PER_MODEL_UNIT_HOUR): 9.38,
        ("cohere.command-text-v14:7:4k", TRAINING_PER_1K_TOKENS): 0.004,
        ("cohere.command-light-text-v14:7:4k", PROVISIONED_PER_MODEL_UNIT_HOUR): 8.56,
        ("amazon.nova-micro-v1:0:128k", ON_DEMAND_PER_1K_INPUT_TOKENS): 0.000035,
        ("amazon.nova-pro-v1:0:300k", ON_DEMAND_PER_1K_OUTPUT_TOKENS): 0.0032,
    }
    for (model, name), usd in expected.items():
        # When the US East price is read / Then it is the page's figure, marked confirmed
        price = table.region_prices(model, "us-east-1")[name]
        assert (price.usd, price.confirmed) == (usd, True), (model, name)


def test_the_table_is_read_once_and_every_field_name_is_known() -> None:
    # Given the table loaded twice / Then it is the same object (cached), and every field is a known price field
    assert load_table() is load_table()
    assert {name for values in load_table().entries.values() for name in values} <= set(PRICE_FIELDS)
    assert load_table().prices_as_of == raw_table()["pricesAsOf"]


@pytest.mark.parametrize(
    ("path", "bad", "message"),
    [
        (("usd",), -1, "usd must be a non-negative number"),
        (("usd",), "0.008", "usd must be a non-negative number"),
        (("source",), "aws.amazon.com/bedrock/pricing/", "source must be the https address"),
        (("asOf",), "28/02/2025", "asOf must be an ISO date"),
        (("confirmed",), "yes", "confirmed must be true or false"),
    ],
)
def test_a_malformed_value_is_named(path: tuple[str, ...], bad: Any, message: str) -> None:
    # Given the table with one broken value
    raw = raw_table()
    raw["models"]["amazon.titan-text-lite-v1:0:4k"]["regions"]["us-east-1"][TRAINING_PER_1K_TOKENS][path[0]] = bad

    # When parsed / Then ValueError names the value and the rule
    with pytest.raises(ValueError, match=message) as raised:
        parse_table(raw)
    assert "amazon.titan-text-lite-v1:0:4k" in str(raised.value)
    assert TRAINING_PER_1K_TOKENS in str(raised.value)


def test_an_unconfirmed_value_without_a_note_is_refused() -> None:
    # Given an unconfirmed value whose note was removed
    raw = raw_table()
    value = raw["models"]["amazon.nova-micro-v1:0:128k"]["regions"]["us-east-1"][TRAINING_PER_1K_TOKENS]
    assert value["confirmed"] is False
    del value["note"]

    # When parsed / Then the table refuses it
    with pytest.raises(ValueError, match="needs a note"):
        parse_table(raw)
