"""The local AWS Price List Query API (``pricing`` GetProducts, local/bedrock_finetune_local/aws/pricing.py): what it
answers, how it refuses, and that the refresh code reads it back into the table's prices (issue 12, item 5: "the
Price List refresh path is tested on the local AWS, including its fallback")."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, EndpointConnectionError, ParamValidationError

from bedrock_finetune import cost, pricing
from bedrock_finetune_local.aws import Fault, configure, iam, inject_faults
from bedrock_finetune_local.aws import pricing as local_pricing

from .conftest import ACCOUNT, _session, client_as, lambda_role

NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
FILTERS = [
    {"Type": "TERM_MATCH", "Field": "regionCode", "Value": "us-east-1"},
    {"Type": "CONTAINS", "Field": "usagetype", "Value": "USE1-NovaMicro-"},
]
NO_RETRIES = Config(retries={"total_max_attempts": 1})


def price_list(region: str = "us-east-1") -> Any:
    return _session().client("pricing", region_name=region, config=NO_RETRIES)


def usagetypes(answer: dict[str, Any]) -> list[str]:
    return [json.loads(item)["product"]["attributes"]["usagetype"] for item in answer["PriceList"]]


def test_get_products_answers_documents_as_text_filtered_by_region_and_usagetype() -> None:
    answer = price_list().get_products(ServiceCode="AmazonBedrock", Filters=FILTERS, FormatVersion="aws_v1")

    assert answer["FormatVersion"] == "aws_v1"
    assert all(isinstance(item, str) for item in answer["PriceList"])
    names = usagetypes(answer)
    assert "USE1-NovaMicro-Customization-Training" in names
    assert all(name.startswith("USE1-NovaMicro-") for name in names)
    # products of the family that are not the custom model's prices are there too, for a reader to skip
    assert "USE1-NovaMicro-input-tokens-batch-custom-model" in names
    document = json.loads(answer["PriceList"][0])
    (term,) = document["terms"]["OnDemand"].values()
    (dimension,) = term["priceDimensions"].values()
    assert set(dimension) >= {"unit", "pricePerUnit", "beginRange", "endRange"}


def test_pages_follow_next_token_and_a_foreign_token_is_refused() -> None:
    client = price_list()
    everything = usagetypes(client.get_products(ServiceCode="AmazonBedrock", Filters=FILTERS))
    first = client.get_products(ServiceCode="AmazonBedrock", Filters=FILTERS, MaxResults=3)
    assert len(first["PriceList"]) == 3
    assert first.get("NextToken")
    paged = usagetypes(first)
    token = first["NextToken"]
    while token:
        page = client.get_products(ServiceCode="AmazonBedrock", Filters=FILTERS, MaxResults=3, NextToken=token)
        paged += usagetypes(page)
        token = page.get("NextToken")
    assert paged == everything

    with pytest.raises(ClientError) as caught:
        client.get_products(ServiceCode="AmazonBedrock", NextToken="not-a-token")
    assert caught.value.response["Error"]["Code"] == "InvalidNextTokenException"


def test_bad_filters_are_invalid_parameters_and_botocore_checks_max_results() -> None:
    with pytest.raises(ClientError) as caught:
        price_list().get_products(
            ServiceCode="AmazonBedrock", Filters=[{"Type": "STARTS_WITH", "Field": "usagetype", "Value": "USE1"}]
        )
    assert caught.value.response["Error"]["Code"] == "InvalidParameterException"
    with pytest.raises(ParamValidationError):
        price_list().get_products(ServiceCode="AmazonBedrock", MaxResults=0)  # min 1 in the service model


def test_another_service_code_has_no_products_and_any_of_none_of_filter() -> None:
    assert price_list().get_products(ServiceCode="AmazonEC2")["PriceList"] == []
    training = "USE1-NovaMicro-Customization-Training,USE1-NovaMicro-Customization-Storage"
    any_of = price_list().get_products(
        ServiceCode="AmazonBedrock", Filters=[{"Type": "ANY_OF", "Field": "usagetype", "Value": training}]
    )
    assert sorted(usagetypes(any_of)) == sorted(training.split(","))
    none_of = price_list().get_products(
        ServiceCode="AmazonBedrock",
        Filters=[*FILTERS[:1], {"Type": "NONE_OF", "Field": "usagetype", "Value": training}],
    )
    assert not set(usagetypes(none_of)) & set(training.split(","))


def test_the_api_answers_only_in_its_three_regions() -> None:
    # Billing User Guide, "Using the AWS Price List Query API": endpoints in us-east-1, eu-central-1, ap-south-1.
    assert price_list("eu-central-1").get_products(ServiceCode="AmazonBedrock", Filters=FILTERS)["PriceList"]
    with pytest.raises(EndpointConnectionError):
        price_list("eu-west-1").get_products(ServiceCode="AmazonBedrock", Filters=FILTERS)


def test_a_role_without_pricing_get_products_is_denied() -> None:
    role = lambda_role("no-pricing", {"Effect": "Allow", "Action": "s3:GetObject", "Resource": "*"})
    with iam.enforce(), pytest.raises(ClientError) as caught:
        client_as(role, "pricing").get_products(ServiceCode="AmazonBedrock", Filters=FILTERS)
    assert caught.value.response["Error"]["Code"] == "AccessDeniedException"
    assert f"arn:aws:sts::{ACCOUNT}:assumed-role/no-pricing/" in caught.value.response["Error"]["Message"]


def test_refresh_reads_the_table_back_from_the_local_price_list() -> None:
    # The local Price List is built from the table: every price the refresh reads is the table's, now confirmed
    result = pricing.refresh_prices(NOVA_MICRO, "us-east-1", client=price_list())
    table = cost.load_table().region_prices(NOVA_MICRO, "us-east-1")
    refreshed = result.table.region_prices(NOVA_MICRO, "us-east-1")
    assert result.fallback is None
    assert set(result.refreshed) == set(table)
    for name in table:
        assert refreshed[name].usd == pytest.approx(table[name].usd, rel=1e-9), name
        assert refreshed[name].origin == "price-list"
        assert refreshed[name].confirmed


def test_a_price_cut_in_the_price_list_reaches_the_refreshed_table() -> None:
    configure(price_list_prices={"USE1-NovaMicro-Customization-Training": 0.0004})
    result = pricing.refresh_prices(NOVA_MICRO, "us-east-1", client=price_list())
    assert result.table.region_prices(NOVA_MICRO, "us-east-1")[cost.TRAINING_PER_1K_TOKENS].usd == 0.0004


def test_a_product_taken_out_keeps_the_tables_price_and_says_so() -> None:
    configure(price_list_removed=("USE1-NovaMicro-Customization-Storage",))
    result = pricing.refresh_prices(NOVA_MICRO, "us-east-1", client=price_list())
    assert cost.STORAGE_PER_MONTH not in result.refreshed
    assert result.fallback is not None
    assert "storagePerMonth" in result.fallback


@pytest.mark.parametrize("code", ["ThrottlingException", "AccessDeniedException", "InternalErrorException"])
def test_every_price_list_error_falls_back_to_the_table(code: str) -> None:
    with inject_faults([Fault.parse(f"pricing:GetProducts={code}")]) as log:
        document = pricing.refresh_region("us-east-1", client=price_list(), at="2026-11-30T00:00:00Z")
    assert log.summary()
    nova = document["models"][NOVA_MICRO]
    assert nova["refreshed"] == {}
    assert nova["fallback"] == f"GetProducts failed: {code}"
    table, unused = pricing.overlay(cost.load_table(), document, "us-east-1")
    assert unused is None
    assert table.region_prices(NOVA_MICRO, "us-east-1") == cost.load_table().region_prices(NOVA_MICRO, "us-east-1")


def test_the_local_price_list_prices_exactly_the_tables_models_with_a_family_in_each_region() -> None:
    # Every (usagetype prefix and family) with products is a (Region, model) the table prices and maps, and back
    table = cost.load_table()
    expected = {
        f"{table.price_list_region_prefixes[region]}-{table.price_list_families[model]}-"
        for model, region in table.entries
        if table.price_list_families.get(model) and table.price_list_region_prefixes.get(region)
    }
    training = {name.removesuffix("Customization-Training") for name in local_pricing.iter_usagetypes()
                if name.endswith("-Customization-Training")}  # fmt: skip
    assert training == expected
