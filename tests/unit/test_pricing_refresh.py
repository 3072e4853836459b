"""Refreshing prices from the AWS Price List Query API, and falling back to the table on every kind of failure.

moto 5.2.5 has no ``pricing`` emulation, so the Price List is botocore's Stubber on a real ``pricing`` client (no
request leaves the process), or a fake client for errors that happen before an answer (endpoint unreachable)."""

from __future__ import annotations

import json
import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.exceptions import EndpointConnectionError
from botocore.stub import Stubber
from conftest import CLAUDE, NOVA_MICRO

from bedrock_finetune.cost import (
    ON_DEMAND_PER_1K_INPUT_TOKENS,
    ON_DEMAND_PER_1K_OUTPUT_TOKENS,
    PROVISIONED_PER_MODEL_UNIT_HOUR,
    STORAGE_PER_MONTH,
    TRAINING_PER_1K_TOKENS,
    TRAINING_PER_IMAGE,
    estimate,
    load_table,
)
from bedrock_finetune.pricing import parse_price_list, refresh_prices

NOVA_CANVAS = "amazon.nova-canvas-v1:0"


def product(usagetype: str, unit: str, usd: str, *, effective: str = "2026-10-01T00:00:00Z") -> str:
    """One GetProducts PriceList item, as the API sends it (a JSON document as text)."""
    return json.dumps(
        {
            "product": {
                "productFamily": "Amazon Bedrock",
                "attributes": {"usagetype": usagetype, "regionCode": "us-east-1", "servicecode": "AmazonBedrock"},
                "sku": "SKU",
            },
            "serviceCode": "AmazonBedrock",
            "terms": {
                "OnDemand": {
                    "SKU.JRTCKXETXF": {
                        "effectiveDate": effective,
                        "priceDimensions": {
                            "SKU.JRTCKXETXF.6YS6EN2CT7": {
                                "unit": unit,
                                "beginRange": "0",
                                "endRange": "Inf",
                                "pricePerUnit": {"USD": usd},
                            }
                        },
                    }
                }
            },
            "publicationDate": "2026-10-02T00:00:00Z",
        }
    )


NOVA_MICRO_PRODUCTS = [
    product("USE1-NovaMicro-Customization-Training", "1K tokens", "0.0009"),
    product("USE1-NovaMicro-Customization-Storage", "Model/month", "2.0000000000"),
    product("USE1-NovaMicro-input-tokens-custom-model", "1M tokens", "0.0400000000"),
    product("USE1-NovaMicro-output-tokens-custom-model", "1K tokens", "0.0001500000"),
    # other products of the same family that are not the custom model's prices
    product("USE1-NovaMicro-input-tokens", "1K tokens", "0.000035"),
    product("USE1-NovaMicro-input-tokens-batch-custom-model", "1K tokens", "0.00001"),
    product("USE1-NovaMicro-cache-read-input-token-count", "1K tokens", "0.00000875"),
]


def expected_request(next_token: str | None = None) -> dict[str, Any]:
    request: dict[str, Any] = {
        "ServiceCode": "AmazonBedrock",
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": "USE1-NovaMicro-"},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    if next_token:
        request["NextToken"] = next_token
    return request


@pytest.fixture
def pricing() -> Iterator[tuple[Any, Stubber]]:
    """A ``pricing`` client in us-east-1 whose answers are stubbed (fake credentials; nothing is sent)."""
    client = boto3.client("pricing", region_name="us-east-1", aws_access_key_id="x", aws_secret_access_key="x")
    with Stubber(client) as stubber:
        yield client, stubber
        stubber.assert_no_pending_responses()


def test_prices_are_refreshed_from_the_price_list(pricing: tuple[Any, Stubber]) -> None:
    # Given the Price List answering Nova Micro's products over two pages
    client, stubber = pricing
    page_one = {"FormatVersion": "aws_v1", "PriceList": NOVA_MICRO_PRODUCTS[:3], "NextToken": "page-2"}
    stubber.add_response("get_products", page_one, expected_request())
    stubber.add_response(
        "get_products", {"FormatVersion": "aws_v1", "PriceList": NOVA_MICRO_PRODUCTS[3:]}, expected_request("page-2")
    )

    # When refreshed
    result = refresh_prices(NOVA_MICRO, "us-east-1", client=client)

    # Then training, storage and on-demand prices come from the Price List, in the table's units, dated
    prices = result.table.region_prices(NOVA_MICRO, "us-east-1")
    assert prices[TRAINING_PER_1K_TOKENS].usd == 0.0009
    assert prices[STORAGE_PER_MONTH].usd == 2.0
    assert prices[ON_DEMAND_PER_1K_INPUT_TOKENS].usd == pytest.approx(0.00004)  # 0.04 per 1M tokens
    assert prices[ON_DEMAND_PER_1K_OUTPUT_TOKENS].usd == 0.00015
    assert {price.origin for name, price in prices.items() if name != PROVISIONED_PER_MODEL_UNIT_HOUR} == {"price-list"}
    assert prices[TRAINING_PER_1K_TOKENS].as_of == "2026-10-01"
    assert "USE1-NovaMicro-Customization-Training" in prices[TRAINING_PER_1K_TOKENS].source
    # And what the Price List did not give (Provisioned Throughput) keeps the table's price, and says so
    assert (
        prices[PROVISIONED_PER_MODEL_UNIT_HOUR]
        == load_table().region_prices(NOVA_MICRO, "us-east-1")[PROVISIONED_PER_MODEL_UNIT_HOUR]
    )
    assert set(result.refreshed) == {
        TRAINING_PER_1K_TOKENS,
        STORAGE_PER_MONTH,
        ON_DEMAND_PER_1K_INPUT_TOKENS,
        ON_DEMAND_PER_1K_OUTPUT_TOKENS,
    }
    assert result.fallback == "kept the table's provisionedPerModelUnitHour (not in the Price List)"
    # And the shipped table is untouched
    assert load_table().region_prices(NOVA_MICRO, "us-east-1")[TRAINING_PER_1K_TOKENS].origin == "catalog"


def test_an_estimate_on_the_refreshed_table_names_the_price_list(pricing: tuple[Any, Stubber]) -> None:
    # Given a refreshed table for Nova Micro
    client, stubber = pricing
    stubber.add_response("get_products", {"PriceList": NOVA_MICRO_PRODUCTS}, expected_request())
    table = refresh_prices(NOVA_MICRO, "us-east-1", client=client).table

    # When estimated on demand / Then the refreshed training price is used and the source says where it came from
    cost = estimate(model_id=NOVA_MICRO, region="us-east-1", estimated_tokens=1_000_000, epochs=2, table=table)
    assert cost.training_usd == pytest.approx(1.8)
    assert cost.source == "price-list"
    assert cost.prices_as_of == "2026-10-01"

    # And on Provisioned Throughput, the table's hourly price joins in
    provisioned = estimate(
        model_id=NOVA_MICRO,
        region="us-east-1",
        estimated_tokens=1,
        epochs=1,
        deployment_mode="provisioned",
        table=table,
    )
    assert provisioned.source == "price-list+catalog"


def test_a_throttled_price_list_falls_back_to_the_table_and_logs_why(
    pricing: tuple[Any, Stubber], caplog: pytest.LogCaptureFixture
) -> None:
    # Given the Price List answering ThrottlingException
    client, stubber = pricing
    stubber.add_client_error("get_products", service_error_code="ThrottlingException", http_status_code=400)

    # When refreshed
    with caplog.at_level(logging.WARNING, logger="bedrock_finetune.pricing"):
        result = refresh_prices(NOVA_MICRO, "us-east-1", client=client)

    # Then the table is the shipped one, and the log names model, Region and the error code
    assert result.table is load_table()
    assert result.refreshed == ()
    assert result.fallback == "GetProducts failed: ThrottlingException"
    (record,) = [record for record in caplog.records if record.name == "bedrock_finetune.pricing"]
    assert record.levelno == logging.WARNING
    assert (record.model_id, record.region, record.reason) == (  # type: ignore[attr-defined]
        NOVA_MICRO,
        "us-east-1",
        "GetProducts failed: ThrottlingException",
    )


def test_an_unreachable_endpoint_falls_back_to_the_table() -> None:
    # Given a client whose endpoint cannot be reached
    class Unreachable:
        def get_products(self, **_: Any) -> dict[str, Any]:
            raise EndpointConnectionError(endpoint_url="https://api.pricing.us-east-1.amazonaws.com")

    # When refreshed / Then the table is kept and the reason is the error's name
    result = refresh_prices(NOVA_MICRO, "us-east-1", client=Unreachable())
    assert result.table is load_table()
    assert result.fallback == "GetProducts failed: EndpointConnectionError"


def test_an_empty_answer_falls_back_to_the_table(pricing: tuple[Any, Stubber]) -> None:
    # Given the Price List with no product for the model
    client, stubber = pricing
    stubber.add_response("get_products", {"FormatVersion": "aws_v1", "PriceList": []}, expected_request())

    # When refreshed / Then nothing changes and the reason says what was looked for
    result = refresh_prices(NOVA_MICRO, "us-east-1", client=client)
    assert result.table is load_table()
    assert result.fallback == "the Price List has no USE1-NovaMicro-* products in us-east-1"


def test_unparseable_products_fall_back_to_the_table(pricing: tuple[Any, Stubber]) -> None:
    # Given products that are not documents, lack terms, or use a unit that is not tokens
    client, stubber = pricing
    broken = [
        "{not json",
        json.dumps({"product": {"attributes": {"usagetype": "USE1-NovaMicro-Customization-Training"}}}),
        product("USE1-NovaMicro-Customization-Training", "Requests", "0.001"),
        product("USE1-NovaMicro-Customization-Storage", "hour", "1.95"),
    ]
    stubber.add_response("get_products", {"PriceList": broken}, expected_request())

    # When refreshed / Then the table is kept and the reason counts the products and names the first problems
    result = refresh_prices(NOVA_MICRO, "us-east-1", client=client)
    assert result.table is load_table()
    assert result.fallback is not None
    assert result.fallback.startswith("none of 4 products gave a price: product 0: not a Price List product document;")
    assert "unit 'Requests' is not a number of tokens" in result.fallback


def test_a_model_without_a_price_list_family_is_not_looked_up(pricing: tuple[Any, Stubber]) -> None:
    # Given Claude 3 Haiku, whose Price List usagetype family the table does not know (and no stubbed answer)
    client, _ = pricing

    # When refreshed / Then no call is made (the stub would fail it) and the table is kept
    result = refresh_prices(CLAUDE, "us-west-2", client=client)
    assert result.table is load_table()
    assert result.fallback == "prices.json has no Price List usagetype family for the model"


def test_an_image_model_reads_its_price_per_image() -> None:
    # Given Nova Canvas products: training per image, and a no-commitment custom Provisioned Throughput rate
    items = [
        product("USE1-NovaCanvas-Customization-Training", "Images", "0.006"),
        product("USE1-NovaCanvas-ProvisionedThroughput-Custom-NoCommit-ModelUnits", "Hours", "61.00"),
        product("USE1-NovaCanvas-ProvisionedThroughput-Custom-1Month-ModelUnits", "Hours", "55.00"),
    ]

    # When parsed / Then training is per image and the hourly rate is the no-commitment one
    parsed = parse_price_list(items, usagetype_prefix="USE1-NovaCanvas-", training=TRAINING_PER_IMAGE)
    assert {name: price.usd for name, price in parsed.values.items()} == {
        TRAINING_PER_IMAGE: 0.006,
        PROVISIONED_PER_MODEL_UNIT_HOUR: 61.0,
    }
    assert parsed.problems == ()
    assert NOVA_CANVAS in load_table().price_list_families


def test_conflicting_products_keep_the_higher_price() -> None:
    # Given two training products for the same model with different prices
    items = [
        product("USE1-NovaMicro-Customization-Training", "1K tokens", "0.001"),
        product("USE1-NovaMicro-Customization-Training", "tokens", "0.000002"),
    ]

    # When parsed / Then the higher (0.002 per 1,000 tokens) is kept and the conflict is reported
    parsed = parse_price_list(items, usagetype_prefix="USE1-NovaMicro-")
    assert parsed.values[TRAINING_PER_1K_TOKENS].usd == pytest.approx(0.002)
    assert parsed.problems == ("trainingPer1kTokens: conflicting prices 0.001 and 0.002; the higher is kept",)


# --- the stored document and the overlay the estimates read (RefreshPrices) ----------------------------------------
def refreshed_document(usd: object = 0.0004, region: str = "us-east-1") -> dict[str, Any]:
    return {
        "version": 1,
        "region": region,
        "refreshedAt": "2026-11-30T00:00:00Z",
        "models": {
            NOVA_MICRO: {
                "refreshed": {TRAINING_PER_1K_TOKENS: {"usd": usd, "asOf": "2026-11-01", "source": "price list"}},
                "fallback": "kept the table's storagePerMonth (not in the Price List)",
            }
        },
    }


def test_the_overlay_puts_the_price_lists_prices_in_place_and_keeps_the_rest() -> None:
    from bedrock_finetune.pricing import overlay

    table, unused = overlay(load_table(), refreshed_document(), "us-east-1")
    assert unused is None
    prices = table.region_prices(NOVA_MICRO, "us-east-1")
    assert prices[TRAINING_PER_1K_TOKENS].usd == 0.0004
    assert prices[TRAINING_PER_1K_TOKENS].origin == "price-list"
    assert prices[STORAGE_PER_MONTH] == load_table().region_prices(NOVA_MICRO, "us-east-1")[STORAGE_PER_MONTH]
    # and the estimate names the Price List among its origins
    priced = estimate(model_id=NOVA_MICRO, region="us-east-1", estimated_tokens=1000, epochs=2, table=table)
    assert priced.training_usd == pytest.approx(2 * 0.0004)
    assert "price-list" in priced.source


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        (None, "no Price List refresh yet"),
        (refreshed_document(region="us-west-2"), "'us-west-2'"),
        ({**refreshed_document(), "version": 99}, "version 99"),
        (refreshed_document(usd=-1), "malformed"),
        (refreshed_document(usd="cheap"), "malformed"),
        (refreshed_document(usd=float("nan")), "malformed"),
        ({**refreshed_document(), "models": []}, "malformed"),
    ],
)
def test_a_missing_foreign_or_malformed_document_leaves_the_table(document: Any, reason: str) -> None:
    from bedrock_finetune.pricing import overlay

    table, unused = overlay(load_table(), document, "us-east-1")
    assert table is load_table()
    assert unused is not None
    assert reason in unused


@pytest.mark.parametrize(
    ("age_hours", "schedule", "stale"),
    [
        (1, "rate(1 day)", False),
        (71, "rate(1 day)", False),
        (73, "rate(1 day)", True),  # three daily refreshes missed: the refreshes stopped
        (100, "rate(2 days)", False),
        (145, "rate(2 days)", True),
        (73, "cron(0 6 * * ? *)", True),  # a cron schedule counts as daily
    ],
)
def test_a_price_list_document_older_than_three_intervals_is_not_used(
    age_hours: int, schedule: str, stale: bool
) -> None:
    from datetime import timedelta

    from bedrock_finetune import clock
    from bedrock_finetune.logic.refresh_prices import _stale

    document = {**refreshed_document(), "refreshedAt": (clock.now() - timedelta(hours=age_hours)).isoformat()}
    reason = _stale(document, schedule)
    assert (reason is not None) is stale
    if stale:
        assert f"{age_hours} hours old" in str(reason)


def test_with_the_refresh_off_the_document_is_not_even_read() -> None:
    from bedrock_finetune.config import StackSettings
    from bedrock_finetune.logic.refresh_prices import current_table

    # (no AWS at all: a read would fail)
    assert current_table(StackSettings(bucket_name="no-such-bucket", price_refresh_schedule="off"), "us-east-1") is (
        load_table()
    )
