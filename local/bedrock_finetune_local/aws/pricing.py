"""Local AWS Price List Query API: ``pricing`` ``GetProducts``, which moto (5.2.5) does not emulate.

moto answers every ``*.amazonaws.com`` URL it has no backend for with ``404 Not yet implemented``; the local AWS's
before-send handler (faults.py, after IAM and the injected faults) sends ``before-send.pricing.*`` here instead.

What AWS does, and what this does too (AWS Price List Query API Reference, GetProducts; botocore's ``pricing``
service model, protocol ``json``):

* The API has endpoints in us-east-1, eu-central-1 and ap-south-1 only (Billing User Guide, "Using the AWS Price
  List Query API"); a client of any other Region cannot connect: ``EndpointConnectionError``.
* ``ServiceCode`` ``AmazonBedrock`` is the only service this Price List has; another code answers an empty list
  (the filters simply match no product).
* ``Filters``: ``Type`` is one of TERM_MATCH, EQUALS, CONTAINS, ANY_OF, NONE_OF (the model's enum); ``Field`` an
  attribute of the product (``usagetype``, ``regionCode``...). TERM_MATCH and EQUALS match the value exactly, CONTAINS
  a substring, ANY_OF / NONE_OF a comma-separated list. Anything else: ``InvalidParameterException``.
* ``FormatVersion`` ``aws_v1`` (the default); ``MaxResults`` 1..100 (default 100); ``NextToken`` is opaque, and one
  this service did not issue answers ``InvalidNextTokenException``.
* ``PriceList`` holds each product as a JSON *document in a string*, with ``product.attributes`` and
  ``terms.OnDemand.<sku>.<offer>.priceDimensions``.

The products are those of ``catalog/prices.json`` (every model with a ``priceListFamily``, in every Region with a
usagetype prefix), named and priced per unit the way the one recorded reading of the Price List shows them
(prices.json, copy ``price-list-nova2lite-2026-08-02``: ``USE1-Nova2.0Lite-Customization-Training`` per 1K tokens,
``-Customization-Storage`` per model per month, ``-ProvisionedThroughput-NoCommit-ModelUnits`` per hour,
``-input-tokens-custom-model`` per 1K tokens); other families are assumed to follow the same pattern. Plus
products of the same family that are *not* a custom model's price (base-model inference, batch, cache reads), which a
reader must skip. ``LocalBedrockSettings.price_list_prices`` changes a product's price by usagetype (a price cut the
table does not know yet); ``price_list_removed`` takes products out.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from functools import cache
from typing import Any

from botocore.awsrequest import AWSResponse
from botocore.exceptions import EndpointConnectionError
from moto.core.botocore_stubber import MockRawResponse

from bedrock_finetune.cost import (
    ON_DEMAND_PER_1K_INPUT_TOKENS,
    ON_DEMAND_PER_1K_OUTPUT_TOKENS,
    PROVISIONED_PER_MODEL_UNIT_HOUR,
    STORAGE_PER_MONTH,
    TRAINING_PER_1K_TOKENS,
    TRAINING_PER_IMAGE,
    load_table,
)

__all__ = ["ENDPOINT_REGIONS", "answer", "products"]

SERVICE_ID = "pricing"
SERVICE_CODE = "AmazonBedrock"
ENDPOINT_REGIONS = frozenset({"us-east-1", "eu-central-1", "ap-south-1"})
FILTER_TYPES = frozenset({"TERM_MATCH", "EQUALS", "CONTAINS", "ANY_OF", "NONE_OF"})
PUBLICATION_DATE = "2026-11-01T00:00:00Z"
_TOKEN_PREFIX = "local-pricing:"  # noqa: S105 - a page token prefix, not a secret

#: (usagetype suffix, unit, factor from the table's unit to the product's unit) per price field.
_PRODUCTS: dict[str, tuple[str, str, float]] = {
    TRAINING_PER_1K_TOKENS: ("Customization-Training", "1K tokens", 1.0),
    TRAINING_PER_IMAGE: ("Customization-Training", "Image", 1.0),
    STORAGE_PER_MONTH: ("Customization-Storage", "Model/Month", 1.0),
    PROVISIONED_PER_MODEL_UNIT_HOUR: ("ProvisionedThroughput-NoCommit-ModelUnits", "Hour", 1.0),
    ON_DEMAND_PER_1K_INPUT_TOKENS: ("input-tokens-custom-model", "1K tokens", 1.0),
    ON_DEMAND_PER_1K_OUTPUT_TOKENS: ("output-tokens-custom-model", "1K tokens", 1.0),
}
#: Products of a model's family that are not its custom model's prices (a reader must not take them for one):
#: base-model inference, batch, cache reads and committed throughput.
_OTHER_PRODUCTS = (
    ("input-tokens", "1K tokens", 0.000035),
    ("input-tokens-batch-custom-model", "1K tokens", 0.0000175),
    ("cache-read-input-token-count", "1K tokens", 0.00000875),
    ("ProvisionedThroughput-1Month-ModelUnits", "Hour", 1.0),
)


class PricingError(Exception):
    """An error GetProducts answers: its code (the service model's shape name) and message."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def _document(usagetype: str, region: str, unit: str, usd: float, sku: str) -> dict[str, Any]:
    return {
        "product": {
            "productFamily": "Amazon Bedrock",
            "attributes": {
                "servicecode": SERVICE_CODE,
                "regionCode": region,
                "usagetype": usagetype,
                "operation": "Usage",
                "servicename": "Amazon Bedrock",
            },
            "sku": sku,
        },
        "serviceCode": SERVICE_CODE,
        "terms": {
            "OnDemand": {
                f"{sku}.JRTCKXETXF": {
                    "offerTermCode": "JRTCKXETXF",
                    "sku": sku,
                    "effectiveDate": PUBLICATION_DATE,
                    "priceDimensions": {
                        f"{sku}.JRTCKXETXF.6YS6EN2CT7": {
                            "rateCode": f"{sku}.JRTCKXETXF.6YS6EN2CT7",
                            "description": f"{usagetype} per {unit}",
                            "unit": unit,
                            "beginRange": "0",
                            "endRange": "Inf",
                            "pricePerUnit": {"USD": f"{usd:.10f}"},
                        }
                    },
                    "termAttributes": {},
                }
            }
        },
        "version": "20261101000000",
        "publicationDate": PUBLICATION_DATE,
    }


@cache
def _catalog_products() -> tuple[tuple[str, str, str, float], ...]:
    """(usagetype, Region, unit, USD) of every product built from the table."""
    table = load_table()
    rows: list[tuple[str, str, str, float]] = []
    for (model_id, region), prices in sorted(table.entries.items()):
        family = table.price_list_families.get(model_id)
        prefix = table.price_list_region_prefixes.get(region)
        if not family or not prefix:
            continue
        for name, price in prices.items():
            suffix, unit, factor = _PRODUCTS[name]
            rows.append((f"{prefix}-{family}-{suffix}", region, unit, price.usd * factor))
        for suffix, unit, usd in _OTHER_PRODUCTS:
            rows.append((f"{prefix}-{family}-{suffix}", region, unit, usd))
    return tuple(rows)


def products() -> list[dict[str, Any]]:
    """Every product of the local Price List under the current settings (documents, not text)."""
    from bedrock_finetune_local.aws.bedrock import current_settings  # noqa: PLC0415 - import cycle through aws/

    settings = current_settings()
    changed = dict(settings.price_list_prices)
    removed = set(settings.price_list_removed)
    documents = []
    for index, (usagetype, region, unit, usd) in enumerate(_catalog_products()):
        if usagetype in removed:
            continue
        documents.append(_document(usagetype, region, unit, changed.get(usagetype, usd), f"LOCALSKU{index:06d}"))
    return documents


def _matches(attributes: dict[str, Any], item: dict[str, Any]) -> bool:
    kind, field, value = item.get("Type"), item.get("Field"), item.get("Value")
    if kind not in FILTER_TYPES:
        raise PricingError("InvalidParameterException", f"Input validation error: unknown filter type {kind!r}")
    if not isinstance(field, str) or not field or not isinstance(value, str):
        raise PricingError("InvalidParameterException", "Input validation error: a filter needs a Field and a Value")
    # ServiceCode is a documented filter field (GetProducts: "ServiceCode ... and any of the product attributes");
    # products carry it as the "servicecode" attribute.
    actual = attributes.get("servicecode") if field == "ServiceCode" else attributes.get(field)
    if kind in ("TERM_MATCH", "EQUALS"):
        return actual == value
    if kind == "CONTAINS":
        return isinstance(actual, str) and value in actual
    listed = {part.strip() for part in value.split(",")}
    return (actual in listed) if kind == "ANY_OF" else (actual not in listed)


def get_products(params: dict[str, Any]) -> dict[str, Any]:
    """GetProducts' answer to ``params`` (the request's JSON body)."""
    service_code = params.get("ServiceCode")
    if not isinstance(service_code, str) or not service_code:
        raise PricingError("InvalidParameterException", "Input validation error: ServiceCode is required")
    format_version = params.get("FormatVersion", "aws_v1")
    if format_version != "aws_v1":
        raise PricingError("InvalidParameterException", f"Input validation error: unsupported {format_version!r}")
    max_results = params.get("MaxResults", 100)
    if not isinstance(max_results, int) or not 1 <= max_results <= 100:
        raise PricingError("InvalidParameterException", "Input validation error: MaxResults must be 1 to 100")
    start = 0
    token = params.get("NextToken")
    if token is not None:
        try:
            decoded = base64.b64decode(str(token), validate=True).decode()
            if not decoded.startswith(_TOKEN_PREFIX):
                raise ValueError(decoded)
            start = int(decoded.removeprefix(_TOKEN_PREFIX))
        except (ValueError, UnicodeDecodeError) as exc:
            raise PricingError("InvalidNextTokenException", "The next token is invalid") from exc
    filters = params.get("Filters") or []
    matched = [
        document
        for document in (products() if service_code == SERVICE_CODE else [])
        if all(_matches(document["product"]["attributes"], item) for item in filters)
    ]
    page = matched[start : start + max_results]
    answer: dict[str, Any] = {"FormatVersion": "aws_v1", "PriceList": [json.dumps(item) for item in page]}
    if start + max_results < len(matched):
        answer["NextToken"] = base64.b64encode(f"{_TOKEN_PREFIX}{start + max_results}".encode()).decode()
    return answer


def _region_of(url: str) -> str:
    # https://api.pricing.us-east-1.amazonaws.com/
    host = url.split("://", 1)[-1].split("/", 1)[0]
    parts = host.split(".")
    return parts[2] if len(parts) > 3 and parts[:2] == ["api", "pricing"] else ""


def answer(event_name: str, request: Any, error: Any) -> AWSResponse | None:
    """The local Price List's response to a ``before-send.pricing.*`` request (None for other services).
    ``error(code, message)`` builds the service's error response (faults.py, json protocol)."""
    if not event_name.startswith(f"before-send.{SERVICE_ID}."):
        return None
    url = str(request.url)
    if _region_of(url) not in ENDPOINT_REGIONS:
        raise EndpointConnectionError(endpoint_url=url)
    operation = event_name.rsplit(".", 1)[-1]
    if operation != "GetProducts":
        return None  # moto's "Not yet implemented"
    try:
        params = json.loads(request.body or b"{}")
        body = get_products(params if isinstance(params, dict) else {})
    except PricingError as exc:
        return error(exc.code, exc.message)
    except ValueError:
        return error("InvalidParameterException", "Input validation error: the request body is not JSON")
    return AWSResponse(
        url, 200, {"Content-Type": "application/x-amz-json-1.1"}, MockRawResponse(json.dumps(body).encode())
    )


def iter_usagetypes() -> Iterator[str]:
    """Every usagetype of the local Price List (for tests)."""
    return (document["product"]["attributes"]["usagetype"] for document in products())
