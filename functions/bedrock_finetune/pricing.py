"""Refresh a model's prices from the AWS Price List Query API, falling back to the table on any failure.

One paginated ``GetProducts`` call per model and Region (``ServiceCode=AmazonBedrock``, the Region's ``regionCode``,
and a usagetype containing ``<prefix>-<family>-``, both from ``prices.json``) returns the model's Bedrock products;
each product's usagetype and unit say which price it is:

- ``USE1-NovaMicro-Customization-Training`` (per 1K tokens, 1M tokens, tokens, or image) → training;
- ``...-Customization-Storage`` (per month) → storage;
- ``...ProvisionedThroughput...Custom...NoCommit...`` (per hour) → Provisioned Throughput per model unit;
- ``...-input-tokens-custom-model`` / ``...-output-tokens-custom-model`` → on-demand custom model inference.

Batch, flex, priority, cache, cross-Region and global rows are other products and are skipped. The refreshed values
replace the table's (origin ``price-list``); whatever the Price List does not give keeps the table's value. Any
failure (an AWS error, an endpoint that cannot be reached, no products, products that cannot be read, a model with no
Price List family) leaves the table as it is and logs why, with the model, Region and error code only.

moto (5.2.5) does not emulate the Price List (``pricing``): the local AWS answers GetProducts itself
(local/bedrock_finetune_local/aws/pricing.py), and unit tests also drive this with botocore's Stubber or an injected
client; boto3 is imported only when no client is given. RefreshPrices (logic/refresh_prices.py) runs
:func:`refresh_region` on a schedule and stores its document; estimates read it back with :func:`overlay`.
"""

from __future__ import annotations

import json
import logging
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from bedrock_finetune.catalog import get_model
from bedrock_finetune.cost import (
    ON_DEMAND_PER_1K_INPUT_TOKENS,
    ON_DEMAND_PER_1K_OUTPUT_TOKENS,
    PRICE_FIELDS,
    PROVISIONED_PER_MODEL_UNIT_HOUR,
    STORAGE_PER_MONTH,
    TRAINING_PER_1K_TOKENS,
    TRAINING_PER_IMAGE,
    Price,
    PriceTable,
    applicable_fields,
    load_table,
    training_field,
)

logger = logging.getLogger(__name__)

SERVICE_CODE = "AmazonBedrock"
#: The Price List Query API answers in a few Regions only; us-east-1 is one of them.
PRICING_REGION = "us-east-1"
PRICE_LIST_SOURCE = "https://pricing.us-east-1.amazonaws.com"
#: Pages of 100 products read at most (a model has a few dozen products per Region).
MAX_PAGES = 10
_SKIPPED_MARKERS = ("batch", "flex", "priority", "cache", "cross-region", "global", "latency")
_TOKENS_PER_UNIT = {"1k tokens": 1000, "1000 tokens": 1000, "1m tokens": 1_000_000, "1000000 tokens": 1_000_000}


@dataclass(frozen=True)
class RefreshResult:
    """The table with what the Price List gave in place; ``refreshed`` names those prices, ``fallback`` says why the
    others (or all) still come from the table (None when the Price List gave every price the model has)."""

    table: PriceTable
    refreshed: tuple[str, ...]
    fallback: str | None


@dataclass(frozen=True)
class ParsedPrices:
    """Prices read from Price List products, and one line per product that could not be read or conflicted."""

    values: Mapping[str, Price]
    problems: tuple[str, ...]


def refresh_prices(model_id: str, region: str, *, client: Any = None, table: PriceTable | None = None) -> RefreshResult:
    """``table`` (by default the shipped one) with ``model_id``'s prices in ``region`` read from the Price List.

    ``client`` is a boto3 ``pricing`` client (by default one in us-east-1). Never raises for a Price List failure:
    the result keeps the table's prices and says why in ``fallback`` (also logged)."""
    from botocore.exceptions import BotoCoreError, ClientError  # noqa: PLC0415 - botocore only where it is used

    base = table or load_table()
    spec = get_model(model_id)
    family = base.price_list_families.get(spec.id)
    prefix = base.price_list_region_prefixes.get(region)
    if not family or not prefix:
        missing = "usagetype family for the model" if not family else f"usagetype prefix for {region}"
        # Not a failure: the Price List is not where this model's prices are read from.
        return _fallback(base, spec.id, region, f"prices.json has no Price List {missing}", level=logging.INFO)
    usagetype_prefix = f"{prefix}-{family}-"
    try:
        items = _get_products(client or _default_client(), region=region, usagetype_contains=usagetype_prefix)
    except ClientError as exc:
        code = str(exc.response.get("Error", {}).get("Code", "unknown"))
        return _fallback(base, spec.id, region, f"GetProducts failed: {code}")
    except BotoCoreError as exc:
        return _fallback(base, spec.id, region, f"GetProducts failed: {type(exc).__name__}")
    if not items:
        return _fallback(base, spec.id, region, f"the Price List has no {usagetype_prefix}* products in {region}")
    parsed = parse_price_list(items, usagetype_prefix=usagetype_prefix, training=training_field(spec))
    wanted = applicable_fields(spec)
    values = {name: price for name, price in parsed.values.items() if name in wanted}
    if not values:
        problems = f": {'; '.join(parsed.problems[:3])}" if parsed.problems else ""
        return _fallback(base, spec.id, region, f"none of {len(items)} products gave a price{problems}")
    missing_fields = [name for name in wanted if name not in values]
    reason = f"kept the table's {', '.join(missing_fields)} (not in the Price List)" if missing_fields else None
    logger.info(
        "prices refreshed from the Price List",
        extra={"model_id": spec.id, "region": region, "refreshed": sorted(values), "kept": missing_fields},
    )
    return RefreshResult(table=base.with_prices(spec.id, region, values), refreshed=tuple(values), fallback=reason)


def parse_price_list(
    items: Iterable[str | Mapping[str, Any]], *, usagetype_prefix: str, training: str = TRAINING_PER_1K_TOKENS
) -> ParsedPrices:
    """Read GetProducts' ``PriceList`` documents (JSON text or parsed) into prices, keyed like ``prices.json``.

    ``usagetype_prefix`` ("USE1-NovaMicro-") selects the model's products; ``training`` is how its training is priced
    (per 1,000 tokens or per image). Where two products give the same price differently, the higher is kept (an
    estimate that guards a budget errs high)."""
    values: dict[str, Price] = {}
    problems: list[str] = []
    for index, item in enumerate(items):
        try:
            document = json.loads(item) if isinstance(item, str) else item
            attributes = document["product"]["attributes"]
            usagetype = str(attributes["usagetype"])
        except (ValueError, KeyError, TypeError):
            problems.append(f"product {index}: not a Price List product document")
            continue
        name = _classify(usagetype, usagetype_prefix)
        if name is None:
            continue
        try:
            unit, usd, as_of = _on_demand_price(document)
            price_field, per_unit = _normalize(name, unit, usd, training)
        except (ValueError, KeyError, TypeError, StopIteration) as exc:
            problems.append(f"{usagetype}: {exc}")
            continue
        price = Price(
            usd=per_unit,
            as_of=as_of,
            source=f"{PRICE_LIST_SOURCE} (Price List Query API, {SERVICE_CODE}, usagetype {usagetype})",
            confirmed=True,
            origin="price-list",
        )
        earlier = values.get(price_field)
        if earlier is not None and earlier.usd != price.usd:
            problems.append(f"{price_field}: conflicting prices {earlier.usd} and {price.usd}; the higher is kept")
            if earlier.usd > price.usd:
                continue
        values[price_field] = price
    return ParsedPrices(values=values, problems=tuple(problems))


def _classify(usagetype: str, usagetype_prefix: str) -> str | None:
    """Which price a usagetype is ("training", a price field), or None for another product."""
    lowered = usagetype.lower()
    if not lowered.startswith(usagetype_prefix.lower()):
        return None
    rest = lowered[len(usagetype_prefix) :]
    if any(marker in rest for marker in _SKIPPED_MARKERS):
        return None
    if rest.endswith("customization-training"):
        return "training"
    if rest.endswith("customization-storage"):
        return STORAGE_PER_MONTH
    if "provisionedthroughput" in rest and "nocommit" in rest.replace("-", ""):
        # A custom model's Provisioned Throughput is priced as its base model's (Bedrock User Guide, "Provisioned
        # Throughput"): the family's no-commitment row, e.g. USE1-Nova2.0Lite-ProvisionedThroughput-NoCommit-ModelUnits
        # as the Price List was recorded (prices.json, copy price-list-nova2lite-2026-08-02).
        return PROVISIONED_PER_MODEL_UNIT_HOUR
    if rest.endswith("custom-model"):
        if "input-tokens" in rest:
            return ON_DEMAND_PER_1K_INPUT_TOKENS
        if "output-tokens" in rest:
            return ON_DEMAND_PER_1K_OUTPUT_TOKENS
    return None


def _on_demand_price(document: Mapping[str, Any]) -> tuple[str, float, str | None]:
    """The unit, USD price and effective date of a product's on-demand term (its first tier)."""
    terms = document["terms"]["OnDemand"]
    if not terms:
        raise ValueError("no on-demand term")
    term = next(iter(terms.values()))
    dimensions = list(term["priceDimensions"].values())
    if not dimensions:
        raise ValueError("no price dimension")
    dimension = next((d for d in dimensions if str(d.get("beginRange", "0")) == "0"), dimensions[0])
    usd = float(dimension["pricePerUnit"]["USD"])
    if not math.isfinite(usd) or usd <= 0:
        # A zero is a free tier or a placeholder, never what a customization costs: the table's price stands.
        raise ValueError(f"price {usd!r} is not a positive number")
    effective = term.get("effectiveDate") or document.get("publicationDate")
    as_of = str(effective)[:10] if effective else None
    return str(dimension.get("unit", "")), usd, as_of


def _normalize(name: str, unit: str, usd: float, training: str) -> tuple[str, float]:
    """The price field and its price in the table's unit; ValueError for a unit that does not fit."""
    lowered = unit.strip().lower()
    if name == "training" and training == TRAINING_PER_IMAGE:
        if "image" not in lowered:
            raise ValueError(f"unit {unit!r} is not per image")
        return TRAINING_PER_IMAGE, usd
    if name in ("training", ON_DEMAND_PER_1K_INPUT_TOKENS, ON_DEMAND_PER_1K_OUTPUT_TOKENS):
        return (TRAINING_PER_1K_TOKENS if name == "training" else name), _per_1k_tokens(usd, lowered, unit)
    if name == STORAGE_PER_MONTH and "month" in lowered:
        return name, usd
    if name == PROVISIONED_PER_MODEL_UNIT_HOUR and "hour" in lowered:
        return name, usd
    raise ValueError(f"unit {unit!r} does not fit {name}")


def _per_1k_tokens(usd: float, lowered: str, unit: str) -> float:
    if lowered in ("token", "tokens"):
        return usd * 1000
    per = _TOKENS_PER_UNIT.get(lowered)
    if per is None:
        raise ValueError(f"unit {unit!r} is not a number of tokens")
    return usd * 1000 / per


def _get_products(client: Any, *, region: str, usagetype_contains: str) -> list[str | Mapping[str, Any]]:
    items: list[str | Mapping[str, Any]] = []
    request: dict[str, Any] = {
        "ServiceCode": SERVICE_CODE,
        "Filters": [
            {"Type": "TERM_MATCH", "Field": "regionCode", "Value": region},
            {"Type": "CONTAINS", "Field": "usagetype", "Value": usagetype_contains},
        ],
        "FormatVersion": "aws_v1",
        "MaxResults": 100,
    }
    for _ in range(MAX_PAGES):
        response = client.get_products(**request)
        items.extend(response.get("PriceList", []))
        token = response.get("NextToken")
        if not token:
            break
        request["NextToken"] = token
    return items


def _default_client() -> Any:
    import boto3  # noqa: PLC0415 - boto3 only when no client is injected
    from botocore.config import Config  # noqa: PLC0415

    config = Config(retries={"mode": "standard", "max_attempts": 2}, connect_timeout=5, read_timeout=15)
    return boto3.client("pricing", region_name=PRICING_REGION, config=config)


def _fallback(
    table: PriceTable, model_id: str, region: str, reason: str, *, level: int = logging.WARNING
) -> RefreshResult:
    logger.log(
        level,
        "price refresh fell back to the price table",
        extra={"model_id": model_id, "region": region, "reason": reason},
    )
    return RefreshResult(table=table, refreshed=(), fallback=reason)


# --- a Region at a time: what the scheduled refresh writes, and what the estimates read back -------------------------
#: The document's version; a reader ignores one it does not know (and says so).
DOCUMENT_VERSION = 1


def refresh_region(region: str, *, client: Any = None, table: PriceTable | None = None, at: str = "") -> dict[str, Any]:
    """Every model the table prices in ``region``, refreshed from the Price List (one ``refresh_prices`` each), as
    the JSON document RefreshPrices stores: per model the prices the Price List gave (``refreshed``) and, where it
    gave none or not all, why the table's stand (``fallback``). A model that falls back contributes no price: its
    estimates use the table. Never raises for a Price List failure."""
    base = table or load_table()
    models: dict[str, Any] = {}
    pricing_client = client
    for model_id in sorted({model for model, row_region in base.entries if row_region == region}):
        if pricing_client is None and base.price_list_families.get(model_id):
            pricing_client = _default_client()
        result = refresh_prices(model_id, region, client=pricing_client, table=base)
        prices = result.table.region_prices(model_id, region)
        models[model_id] = {
            "priceListFamily": base.price_list_families.get(model_id),
            "refreshed": {
                name: {"usd": prices[name].usd, "asOf": prices[name].as_of, "source": prices[name].source}
                for name in result.refreshed
            },
            "fallback": result.fallback,
        }
    return {"version": DOCUMENT_VERSION, "region": region, "refreshedAt": at, "models": models}


def overlay(table: PriceTable, document: Mapping[str, Any] | None, region: str) -> tuple[PriceTable, str | None]:
    """``table`` with the prices of a RefreshPrices document for ``region`` in place (origin ``price-list``), and
    None; or ``table`` unchanged and why the document was not used (missing, another Region or version, malformed).
    A document is data this stack wrote, but it is read defensively: a bad value never prices a run."""
    if document is None:
        return table, "no Price List refresh yet"
    if document.get("version") != DOCUMENT_VERSION or document.get("region") != region:
        return table, f"the Price List refresh is for {document.get('region')!r}, version {document.get('version')!r}"
    refreshed = table
    try:
        models = document["models"]
        if not isinstance(models, Mapping):
            raise TypeError("models is not an object")
        for model_id, row in models.items():
            values = {}
            for name, value in dict(row.get("refreshed") or {}).items():
                usd = float(value["usd"])
                if name not in PRICE_FIELDS or not math.isfinite(usd) or usd <= 0:
                    raise ValueError(f"{model_id} {name}: {value!r}")
                values[name] = Price(
                    usd=usd,
                    as_of=str(value.get("asOf") or "")[:10] or None,
                    source=str(value.get("source") or PRICE_LIST_SOURCE),
                    confirmed=True,
                    origin="price-list",
                )
            if values and (model_id, region) in table.entries:
                refreshed = refreshed.with_prices(model_id, region, values)
    except (KeyError, TypeError, ValueError, AttributeError) as exc:
        logger.warning("the Price List refresh is malformed; using the price table", extra={"error": str(exc)[:200]})
        return table, "the Price List refresh is malformed"
    return refreshed, None
