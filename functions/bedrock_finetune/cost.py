"""What a run costs: training, custom-model storage and deployment, from the price table ``catalog/prices.json``.

Prices are data: ``prices.json`` holds, per base model and Region, the price of training (per 1,000 tokens, or per
image seen for image models), of storing a custom model (per month), of no-commitment Provisioned Throughput (per
model unit per hour) and of on-demand custom model inference (per 1,000 input and output tokens, where the catalog
offers on-demand deployment). Every value says where it comes from and when, and whether it was confirmed.

Precedence, highest first: the stack's price overrides (:func:`parse_overrides`), then prices refreshed from the AWS
Price List (``pricing.py``), then the table. A :class:`Cost` names the origins it used in ``source``.

Arithmetic (Bedrock bills "tokens in the training data corpus × epochs"):

- ``billableTokens = estimatedTokens × epochs``; ``trainingUsd = billableTokens / 1000 × pricePer1kTrainingTokens``;
- image models: ``trainingUsd = billableImages × pricePerTrainingImage`` (images seen, given by the caller);
- provisioned deployment: ``usdPerHour = modelUnits × price per model-unit hour``;
- a sweep is the sum of its variants (:func:`estimate_sweep`); a run adds the smoke test's deployment
  (:func:`run_cost`).

Rounding: nothing is rounded in the JSON (exact binary floats, so sums and comparisons stay exact to the last
bit); only text for people rounds (:func:`format_usd`: cents, or two significant digits below a cent) and the budget
message shows as many decimals as it needs to tell the estimate from the budget.

Pure: the standard library and pydantic only (no boto3), so the CLI and every Lambda import it cheaply; the table is
read on first use and cached.
"""

from __future__ import annotations

import difflib
import functools
import json
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal
from importlib import resources
from types import MappingProxyType
from typing import Annotated, Any, Literal, TypeGuard

from pydantic import BaseModel, ConfigDict, Field, SerializerFunctionWrapHandler, model_serializer
from pydantic.alias_generators import to_camel

from bedrock_finetune.catalog import ModelSpec, all_models, get_model
from bedrock_finetune.errors import ConfigInvalid, UnknownModelError

# --- the price fields (names as in prices.json and in overrides) -----------------------------------------------------
TRAINING_PER_1K_TOKENS = "trainingPer1kTokens"
TRAINING_PER_IMAGE = "trainingPerImage"
STORAGE_PER_MONTH = "storagePerMonth"
PROVISIONED_PER_MODEL_UNIT_HOUR = "provisionedPerModelUnitHour"
ON_DEMAND_PER_1K_INPUT_TOKENS = "onDemandPer1kInputTokens"
ON_DEMAND_PER_1K_OUTPUT_TOKENS = "onDemandPer1kOutputTokens"
PRICE_FIELDS: tuple[str, ...] = (
    TRAINING_PER_1K_TOKENS,
    TRAINING_PER_IMAGE,
    STORAGE_PER_MONTH,
    PROVISIONED_PER_MODEL_UNIT_HOUR,
    ON_DEMAND_PER_1K_INPUT_TOKENS,
    ON_DEMAND_PER_1K_OUTPUT_TOKENS,
)

Origin = Literal["override", "price-list", "catalog"]
#: The order origins are named in a cost's ``source`` ("override+catalog").
ORIGINS: tuple[Origin, ...] = ("override", "price-list", "catalog")
DeploymentChoice = Literal["auto", "provisioned", "on-demand", "none"]

OVERRIDES_NAME = "PriceOverrides"
OVERRIDE_SOURCE = f"stack parameter {OVERRIDES_NAME}"
#: A smoke test on Provisioned Throughput is charged at least this many hours (it is billed per hour).
MIN_SMOKE_TEST_HOURS = 1
_REGION = re.compile(r"^[a-z]{2}(-gov)?-[a-z]+-\d$")
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


# --- the table --------------------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Price:
    """One price in US dollars. ``as_of`` is an ISO date (None for an override); ``source`` the AWS page (or the
    stack parameter) it comes from; ``confirmed`` False when the table could not confirm it (``note`` says why)."""

    usd: float
    as_of: str | None
    source: str
    confirmed: bool
    origin: Origin
    note: str = ""


@dataclass(frozen=True)
class PriceTable:
    """Prices per (base model id, Region), plus what the Price List refresh needs to find a model's products."""

    prices_as_of: str
    entries: Mapping[tuple[str, str], Mapping[str, Price]]
    price_list_families: Mapping[str, str] = field(default_factory=dict)
    price_list_region_prefixes: Mapping[str, str] = field(default_factory=dict)

    def region_prices(self, model_id: str, region: str) -> Mapping[str, Price]:
        """The prices of one model in one Region; ConfigInvalid naming the Regions that have prices otherwise."""
        entry = self.entries.get((model_id, region))
        if entry is None:
            regions = sorted(r for m, r in self.entries if m == model_id)
            where = f"prices exist for {', '.join(regions)}" if regions else "the price table has no row for it"
            raise ConfigInvalid(f"no prices for {model_id} in {region}: {where}")
        return entry

    def with_prices(self, model_id: str, region: str, values: Mapping[str, Price]) -> PriceTable:
        """A copy with ``values`` replacing (or adding) prices of one model in one Region."""
        entries = dict(self.entries)
        entries[(model_id, region)] = MappingProxyType({**entries.get((model_id, region), {}), **values})
        return PriceTable(
            prices_as_of=self.prices_as_of,
            entries=MappingProxyType(entries),
            price_list_families=self.price_list_families,
            price_list_region_prefixes=self.price_list_region_prefixes,
        )


@functools.cache
def load_table() -> PriceTable:
    """``catalog/prices.json``, read once."""
    text = resources.files("bedrock_finetune.catalog").joinpath("prices.json").read_text(encoding="utf-8")
    return parse_table(json.loads(text))


def parse_table(raw: Mapping[str, Any]) -> PriceTable:
    """The table from its JSON form; ValueError naming the first malformed value (a packaging bug, not user input)."""
    prices_as_of = _iso_date(raw.get("pricesAsOf"), "pricesAsOf")
    entries: dict[tuple[str, str], Mapping[str, Price]] = {}
    families: dict[str, str] = {}
    for model_id, row in raw["models"].items():
        if row.get("priceListFamily"):
            families[model_id] = str(row["priceListFamily"])
        for region, values in row["regions"].items():
            parsed = {}
            for name, value in values.items():
                where = f"models[{model_id!r}].regions[{region!r}].{name}"
                if name not in PRICE_FIELDS:
                    raise ValueError(f"prices.json: {where} is not a price field ({', '.join(PRICE_FIELDS)})")
                parsed[name] = _table_price(value, where)
            entries[(model_id, region)] = MappingProxyType(parsed)
    return PriceTable(
        prices_as_of=prices_as_of,
        entries=MappingProxyType(entries),
        price_list_families=MappingProxyType(families),
        price_list_region_prefixes=MappingProxyType(dict(raw.get("priceListRegionPrefixes", {}))),
    )


def _table_price(value: Mapping[str, Any], where: str) -> Price:
    usd = value.get("usd")
    if not _is_amount(usd):
        raise ValueError(f"prices.json: {where}.usd must be a non-negative number, got {usd!r}")
    source = value.get("source")
    if not isinstance(source, str) or not source.startswith("https://"):
        raise ValueError(f"prices.json: {where}.source must be the https address of an AWS page")
    confirmed = value.get("confirmed")
    if not isinstance(confirmed, bool):
        raise ValueError(f"prices.json: {where}.confirmed must be true or false")
    note = str(value.get("note", ""))
    if not confirmed and not note:
        raise ValueError(f"prices.json: {where} is not confirmed, so it needs a note saying what it rests on")
    return Price(
        usd=float(usd),
        as_of=_iso_date(value.get("asOf"), f"{where}.asOf"),
        source=source,
        confirmed=confirmed,
        origin="catalog",
        note=note,
    )


def _iso_date(value: Any, where: str) -> str:
    if not isinstance(value, str) or not _ISO_DATE.match(value):
        raise ValueError(f"prices.json: {where} must be an ISO date (YYYY-MM-DD), got {value!r}")
    date.fromisoformat(value)
    return value


def _is_amount(value: Any) -> TypeGuard[int | float]:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value) and value >= 0


def training_field(spec: ModelSpec) -> str:
    """How a model's training is priced: per image seen for image-caption datasets, else per 1,000 tokens."""
    formats = {customization.dataset_format for customization in spec.customizations.values()}
    return TRAINING_PER_IMAGE if "image-caption" in formats else TRAINING_PER_1K_TOKENS


def applicable_fields(spec: ModelSpec) -> tuple[str, ...]:
    """The price fields a model has: its training unit, storage, and one or two per deployment mode it offers."""
    fields = [training_field(spec), STORAGE_PER_MONTH]
    if "provisioned" in spec.deployment_modes:
        fields.append(PROVISIONED_PER_MODEL_UNIT_HOUR)
    if "on-demand" in spec.deployment_modes:
        fields += [ON_DEMAND_PER_1K_INPUT_TOKENS, ON_DEMAND_PER_1K_OUTPUT_TOKENS]
    return tuple(fields)


# --- overrides (a stack parameter) ------------------------------------------------------------------------------------
@dataclass(frozen=True)
class PriceOverrides:
    """Validated overrides: prices per (base model id, Region); Region None means every Region of the model."""

    entries: Mapping[tuple[str, str | None], Mapping[str, float]] = field(default_factory=dict)

    def __bool__(self) -> bool:
        return bool(self.entries)


def parse_overrides(raw: str | Mapping[str, Any] | None, *, name: str = OVERRIDES_NAME) -> PriceOverrides:
    """Parse the overrides JSON (a stack parameter). Shape, by base model id (or its id without the context suffix,
    ``amazon.nova-micro-v1:0``), prices for every Region and/or per Region, the Region's winning::

        {"amazon.nova-micro-v1:0": {"trainingPer1kTokens": 0.0008},
         "amazon.titan-text-express-v1:0:8k": {"storagePerMonth": 2.0, "us-west-2": {"trainingPer1kTokens": 0.009}}}

    ConfigInvalid names the bad key (its path in the JSON) and what would be accepted."""
    raw = _json_value(raw, name)
    if raw is None:
        return PriceOverrides()
    if not isinstance(raw, Mapping):
        raise ConfigInvalid(f"{name}: must be a JSON object keyed by base model id, got {_kind(raw)}")
    entries: dict[tuple[str, str | None], dict[str, float]] = {}
    keys_by_model: dict[str, str] = {}
    for key, entry in raw.items():
        spec = model_for(str(key), name)
        if spec.id in keys_by_model:
            raise ConfigInvalid(f"{name}: keys {keys_by_model[spec.id]!r} and {key!r} name the same model {spec.id}")
        keys_by_model[spec.id] = str(key)
        path = f"{name}[{key!r}]"
        if not isinstance(entry, Mapping):
            raise ConfigInvalid(f"{path}: must be an object of prices or of Regions, got {_kind(entry)}")
        for inner, value in entry.items():
            if inner in PRICE_FIELDS:
                entries.setdefault((spec.id, None), {})[inner] = _override_amount(spec, inner, value, path)
            elif _REGION.match(str(inner)):
                entries[(spec.id, inner)] = _region_overrides(spec, inner, value, f"{path}[{inner!r}]")
            else:
                raise ConfigInvalid(
                    f"{path}: unknown key {inner!r}{_hint(str(inner), PRICE_FIELDS)}; expected a price "
                    f"({', '.join(PRICE_FIELDS)}) or a Region such as {spec.regions[0]}"
                )
    return PriceOverrides(MappingProxyType({key: MappingProxyType(value) for key, value in entries.items()}))


def _json_value(raw: str | Mapping[str, Any] | None, name: str) -> Any:
    """``raw`` parsed when it is JSON text (None when empty); ConfigInvalid names ``name`` and the syntax error."""
    if raw is None or (isinstance(raw, str) and not raw.strip()):
        return None
    if not isinstance(raw, str):
        return raw
    try:
        return json.loads(raw)
    except json.JSONDecodeError as exc:
        raise ConfigInvalid(f"{name}: not JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from exc


def model_for(key: str, name: str) -> ModelSpec:
    """The model a key names: a catalog id or ARN, or the id without its context suffix when only one model has it
    (a foundation-model id, as a throughput's ``foundationModelArn`` names it)."""
    try:
        return get_model(key)
    except UnknownModelError as exc:
        matches = [spec for spec in all_models() if spec.base_inference_id == key.strip()]
        if len(matches) == 1:
            return matches[0]
        raise ConfigInvalid(f"{name}: key {key!r} is not a base model id: {exc}") from exc


def _region_overrides(spec: ModelSpec, region: str, value: Any, path: str) -> dict[str, float]:
    if region not in spec.regions:
        raise ConfigInvalid(
            f"{path}: {spec.name} is not customized in {region}; its Regions: {', '.join(spec.regions)}"
        )
    if not isinstance(value, Mapping):
        raise ConfigInvalid(f"{path}: must be an object of prices, got {_kind(value)}")
    prices = {}
    for inner, amount in value.items():
        if inner not in PRICE_FIELDS:
            raise ConfigInvalid(
                f"{path}: unknown price {inner!r}{_hint(str(inner), PRICE_FIELDS)}; "
                f"expected one of {', '.join(PRICE_FIELDS)}"
            )
        prices[inner] = _override_amount(spec, inner, amount, path)
    return prices


def _override_amount(spec: ModelSpec, price_field: str, value: Any, path: str) -> float:
    where = f"{path}[{price_field!r}]"
    if price_field not in applicable_fields(spec):
        if price_field in (TRAINING_PER_1K_TOKENS, TRAINING_PER_IMAGE):
            unit = "per image seen" if training_field(spec) == TRAINING_PER_IMAGE else "per 1,000 tokens"
            raise ConfigInvalid(f"{where}: {spec.name} training is priced {unit}; use {training_field(spec)}")
        raise ConfigInvalid(
            f"{where}: {spec.name} has no such price; its deployment modes: "
            f"{', '.join(spec.deployment_modes)}; its prices: {', '.join(applicable_fields(spec))}"
        )
    if not _is_amount(value):
        raise ConfigInvalid(f"{where}: must be a non-negative number of US dollars, got {value!r}")
    return float(value)


def apply_overrides(table: PriceTable, overrides: PriceOverrides | None) -> PriceTable:
    """The table with the overrides in place (model-wide first, then per Region, which wins)."""
    if not overrides:
        return table
    ordered = sorted(overrides.entries.items(), key=lambda item: item[0][1] is not None)
    for (model_id, region), values in ordered:
        if region is not None:
            regions = [region]
        else:
            regions = [r for m, r in table.entries if m == model_id] or list(get_model(model_id).regions)
        for target in regions:
            prices = {
                name: Price(usd=usd, as_of=None, source=OVERRIDE_SOURCE, confirmed=True, origin="override")
                for name, usd in values.items()
            }
            table = table.with_prices(model_id, target, prices)
    return table


# --- the estimate (what validation.json, the CLI and the budget check carry) -----------------------------------------
class _Wire(BaseModel):
    """camelCase on the wire; fields excluded from the JSON carry context for text and messages only."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        serialize_by_alias=True,
        extra="forbid",
        frozen=True,
        defer_build=True,
    )


class ProvisionedDeploymentCost(_Wire):
    mode: Literal["provisioned"] = "provisioned"
    usd_per_hour: float
    model_units: int


class OnDemandDeploymentCost(_Wire):
    mode: Literal["on-demand"] = "on-demand"
    usd_per_1k_input_tokens: float = Field(alias="usdPer1kInputTokens")
    usd_per_1k_output_tokens: float = Field(alias="usdPer1kOutputTokens")


class NoDeploymentCost(_Wire):
    mode: Literal["none"] = "none"


DeploymentCost = Annotated[
    ProvisionedDeploymentCost | OnDemandDeploymentCost | NoDeploymentCost, Field(discriminator="mode")
]
#: Keys left out of the JSON when None: only image models are priced per image seen.
_IMAGE_KEYS = ("pricePerTrainingImage", "billableImages", "price_per_training_image", "billable_images")


class _Estimate(_Wire):
    training_usd: float
    storage_usd_per_month: float
    deployment: DeploymentCost
    price_per_1k_training_tokens: float | None = Field(alias="pricePer1kTrainingTokens")
    billable_tokens: int | None
    prices_as_of: str | None
    source: str
    price_per_training_image: float | None = None
    billable_images: int | None = None
    model_id: str = Field(default="", exclude=True)
    region: str = Field(default="", exclude=True)
    #: Price fields used that the table could not confirm (for the CLI's text; not in the JSON).
    unconfirmed: tuple[str, ...] = Field(default=(), exclude=True)

    @model_serializer(mode="wrap")
    def _drop_image_keys(self, handler: SerializerFunctionWrapHandler) -> dict[str, Any]:
        data: dict[str, Any] = handler(self)
        for key in _IMAGE_KEYS:
            if key in data and data[key] is None:
                del data[key]
        return data


class Cost(_Estimate):
    """The estimate of one training job and the deployment of its model. JSON (camelCase)::

        {"trainingUsd", "storageUsdPerMonth", "deployment": {"mode", "usdPerHour", "modelUnits"}
         | {"mode", "usdPer1kInputTokens", "usdPer1kOutputTokens"} | {"mode": "none"},
         "pricePer1kTrainingTokens", "billableTokens", "pricesAsOf", "source"}

    Image models have ``pricePer1kTrainingTokens`` and ``billableTokens`` null and add ``pricePerTrainingImage`` and
    ``billableImages``. ``pricesAsOf`` is the oldest date of the table and Price List prices used (overrides carry no
    date); ``source`` joins the origins used: ``override``, ``price-list``, ``catalog`` (``"override+catalog"``).
    """

    epochs: int | None = Field(default=None, exclude=True)
    estimated_tokens: int | None = Field(default=None, exclude=True)


class SweepCost(_Estimate):
    """A sweep: the sum of its variants' training (and storage, if every variant's model is kept), one deployment
    (only the winner is deployed). ``variants`` are the per-variant costs, in order."""

    variants: tuple[Cost, ...]


@dataclass(frozen=True)
class Variant:
    """One training job of a sweep: its epochs, and its tokens (or images seen) when they differ from the run's."""

    epochs: int | None
    estimated_tokens: int | None = None
    images_seen: int | None = None


def estimate(
    *,
    model_id: str,
    region: str,
    estimated_tokens: int,
    epochs: int | None,
    deployment_mode: DeploymentChoice = "auto",
    model_units: int = 1,
    images_seen: int | None = None,
    overrides: PriceOverrides | None = None,
    table: PriceTable | None = None,
) -> Cost:
    """The cost of one training job on ``model_id`` in ``region`` and of deploying its model.

    ``estimated_tokens`` is the training file's token estimate (the validation report's train ``estimatedTokens``),
    ``epochs`` the resolved epochCount (None for image models). Image models need ``images_seen`` (images seen in
    training: stepCount × batchSize, or records × epochs). ``deployment_mode`` "auto" takes the model's preferred
    mode. ConfigInvalid when a price is missing, the mode is not offered or an input is out of range.
    """
    spec = get_model(model_id)
    prices = apply_overrides(table or load_table(), overrides).region_prices(spec.id, region)
    used: dict[str, Price] = {}
    unit = training_field(spec)
    train_price = _price(prices, unit, spec, region, used)
    _check_count(estimated_tokens, "estimated_tokens", minimum=0)
    if unit == TRAINING_PER_IMAGE:
        if images_seen is None:
            raise ConfigInvalid(f"{spec.name} training is priced per image seen: give images_seen")
        _check_count(images_seen, "images_seen", minimum=0)
        training_usd = images_seen * train_price
        billable_tokens, price_per_1k, price_per_image = None, None, train_price
    else:
        if epochs is None:
            raise ConfigInvalid(f"{spec.name}: the number of epochs is unknown ('Auto'?), so training cannot be priced")
        _check_count(epochs, "epochs", minimum=1)
        billable_tokens = estimated_tokens * epochs
        training_usd = billable_tokens / 1000 * train_price
        price_per_1k, price_per_image, images_seen = train_price, None, None
    storage = _price(prices, STORAGE_PER_MONTH, spec, region, used)
    deployment = _deployment(spec, region, prices, deployment_mode, model_units, used)
    return Cost(
        training_usd=training_usd,
        storage_usd_per_month=storage,
        deployment=deployment,
        price_per_1k_training_tokens=price_per_1k,
        billable_tokens=billable_tokens,
        prices_as_of=_oldest(used.values()),
        source=_source(used.values()),
        price_per_training_image=price_per_image,
        billable_images=images_seen,
        model_id=spec.id,
        region=region,
        unconfirmed=tuple(name for name, price in used.items() if not price.confirmed),
        epochs=epochs if unit == TRAINING_PER_1K_TOKENS else None,
        estimated_tokens=estimated_tokens,
    )


def estimate_sweep(
    *,
    model_id: str,
    region: str,
    estimated_tokens: int,
    variants: Sequence[Variant],
    deployment_mode: DeploymentChoice = "auto",
    model_units: int = 1,
    overrides: PriceOverrides | None = None,
    table: PriceTable | None = None,
) -> SweepCost:
    """The sum of the variants' estimates (each as :func:`estimate` gives it). Storage is summed too: it is what a
    month costs if every variant's model is kept (``keepAll``); by default the losers are deleted once the winner is
    known. The deployment is one (the winner's), not a sum."""
    if not variants:
        raise ConfigInvalid("a sweep needs at least one variant")
    priced = apply_overrides(table or load_table(), overrides)
    costs = tuple(
        estimate(
            model_id=model_id,
            region=region,
            estimated_tokens=variant.estimated_tokens if variant.estimated_tokens is not None else estimated_tokens,
            epochs=variant.epochs,
            deployment_mode=deployment_mode,
            model_units=model_units,
            images_seen=variant.images_seen,
            table=priced,
        )
        for variant in variants
    )
    first = costs[0]
    billable_tokens = [cost.billable_tokens for cost in costs]
    billable_images = [cost.billable_images for cost in costs]
    return SweepCost(
        training_usd=math.fsum(cost.training_usd for cost in costs),
        storage_usd_per_month=math.fsum(cost.storage_usd_per_month for cost in costs),
        deployment=first.deployment,
        price_per_1k_training_tokens=first.price_per_1k_training_tokens,
        billable_tokens=_sum_or_none(billable_tokens),
        prices_as_of=first.prices_as_of,
        source=first.source,
        price_per_training_image=first.price_per_training_image,
        billable_images=_sum_or_none(billable_images),
        model_id=first.model_id,
        region=first.region,
        unconfirmed=first.unconfirmed,
        variants=costs,
    )


def epochs_from_hyperparameters(resolved: Mapping[str, str]) -> int | None:
    """The epoch count of a resolved hyperparameter map (``{"epochCount": "2"}``), None when absent or 'Auto'."""
    value = resolved.get("epochCount")
    return int(value) if value is not None and value.strip().lstrip("+-").isdigit() else None


def _price(prices: Mapping[str, Price], name: str, spec: ModelSpec, region: str, used: dict[str, Price]) -> float:
    price = prices.get(name)
    if price is None:
        raise ConfigInvalid(
            f"no {name} price for {spec.id} in {region}; set it in the {OVERRIDES_NAME} stack parameter"
        )
    used[name] = price
    return price.usd


def _deployment(
    spec: ModelSpec,
    region: str,
    prices: Mapping[str, Price],
    mode: DeploymentChoice,
    model_units: int,
    used: dict[str, Price],
) -> ProvisionedDeploymentCost | OnDemandDeploymentCost | NoDeploymentCost:
    chosen = spec.deployment_modes[0] if mode == "auto" else mode
    if chosen == "none":
        return NoDeploymentCost()
    if chosen not in spec.deployment_modes:
        raise ConfigInvalid(
            f"{spec.name} cannot be deployed {chosen}; its deployment modes: {', '.join(spec.deployment_modes)}"
        )
    if chosen == "provisioned":
        _check_count(model_units, "model_units", minimum=1)
        per_unit = _price(prices, PROVISIONED_PER_MODEL_UNIT_HOUR, spec, region, used)
        return ProvisionedDeploymentCost(usd_per_hour=model_units * per_unit, model_units=model_units)
    return OnDemandDeploymentCost(
        usd_per_1k_input_tokens=_price(prices, ON_DEMAND_PER_1K_INPUT_TOKENS, spec, region, used),
        usd_per_1k_output_tokens=_price(prices, ON_DEMAND_PER_1K_OUTPUT_TOKENS, spec, region, used),
    )


def _check_count(value: Any, name: str, *, minimum: int) -> None:
    if not isinstance(value, int) or isinstance(value, bool) or value < minimum:
        raise ConfigInvalid(f"{name} must be an integer of at least {minimum}, got {value!r}")


def _oldest(prices: Iterable[Price]) -> str | None:
    dates = [price.as_of for price in prices if price.as_of]
    return min(dates) if dates else None


def _source(prices: Iterable[Price]) -> str:
    origins = {price.origin for price in prices}
    return "+".join(origin for origin in ORIGINS if origin in origins)


def _sum_or_none(values: Sequence[int | None]) -> int | None:
    counts = [value for value in values if value is not None]
    return sum(counts) if len(counts) == len(values) else None


# --- a run: training of every variant plus the smoke test's deployment; the budget ------------------------------------
class CostTerm(_Wire):
    """One addend of a run's cost; ``detail`` says how it was computed, for people."""

    name: str
    usd: float
    detail: str


class RunCost(_Wire):
    """What a run is estimated to cost before it starts: training (every variant) plus the smoke test's deployment
    (Provisioned Throughput is billed per hour: at least one hour × model units; on demand: the smoke test's tokens).
    Storage is a monthly charge and not part of it."""

    total_usd: float
    terms: tuple[CostTerm, ...]
    prices_as_of: str | None
    source: str

    @property
    def biggest_term(self) -> CostTerm:
        return max(self.terms, key=lambda term: term.usd)


class Budget(_Wire):
    """``{"maxUsd": 10}``: the most a run may be estimated to cost."""

    max_usd: float


def run_cost(
    training: Cost | SweepCost,
    *,
    smoke_test_hours: float = MIN_SMOKE_TEST_HOURS,
    smoke_input_tokens: int = 0,
    smoke_output_tokens: int = 0,
) -> RunCost:
    """The run's estimate from its training estimate. ``smoke_test_hours`` is how long a provisioned deployment lives
    for the smoke test (rounded up to whole hours, at least one); the token counts are the smoke test's on-demand
    input and output (its prompts, and its maxTokens per answer as the output's upper bound)."""
    terms = [CostTerm(name="training", usd=training.training_usd, detail=_training_detail(training))]
    deployment = training.deployment
    if isinstance(deployment, ProvisionedDeploymentCost):
        if not math.isfinite(smoke_test_hours) or smoke_test_hours < 0:
            raise ConfigInvalid(f"smoke_test_hours must be a non-negative number, got {smoke_test_hours!r}")
        hours = max(MIN_SMOKE_TEST_HOURS, math.ceil(smoke_test_hours))
        per_unit = deployment.usd_per_hour / deployment.model_units
        units = _plural(deployment.model_units, "model unit")
        detail = f"{hours} h × {units} × {format_price(per_unit)} per model-unit hour"
        terms.append(CostTerm(name="smoke-test deployment", usd=hours * deployment.usd_per_hour, detail=detail))
    elif isinstance(deployment, OnDemandDeploymentCost):
        _check_count(smoke_input_tokens, "smoke_input_tokens", minimum=0)
        _check_count(smoke_output_tokens, "smoke_output_tokens", minimum=0)
        usd = (
            smoke_input_tokens / 1000 * deployment.usd_per_1k_input_tokens
            + smoke_output_tokens / 1000 * deployment.usd_per_1k_output_tokens
        )
        detail = (
            f"{smoke_input_tokens:,} input tokens × {format_price(deployment.usd_per_1k_input_tokens)} + "
            f"{smoke_output_tokens:,} output tokens × {format_price(deployment.usd_per_1k_output_tokens)} per 1,000"
        )
        terms.append(CostTerm(name="smoke-test inference", usd=usd, detail=detail))
    return RunCost(
        total_usd=math.fsum(term.usd for term in terms),
        terms=tuple(terms),
        prices_as_of=training.prices_as_of,
        source=training.source,
    )


def parse_budget(raw: str | Mapping[str, Any] | None, *, name: str = "budget") -> Budget | None:
    """``{"maxUsd": N}`` (or its JSON text) → Budget; None for no budget. ConfigInvalid names the bad key or value."""
    raw = _json_value(raw, name)
    if raw is None:
        return None
    if not isinstance(raw, Mapping):
        raise ConfigInvalid(f'{name}: must be an object such as {{"maxUsd": 10}}, got {_kind(raw)}')
    for key in raw:
        if key != "maxUsd":
            raise ConfigInvalid(f"{name}: unknown key {key!r}{_hint(str(key), ('maxUsd',))}; the only key is maxUsd")
    if "maxUsd" not in raw:
        raise ConfigInvalid(f'{name}.maxUsd: missing (for example {{"maxUsd": 10}})')
    value = raw["maxUsd"]
    if not _is_amount(value) or value == 0:
        raise ConfigInvalid(f"{name}.maxUsd: must be a positive number of US dollars, got {value!r}")
    return Budget(max_usd=float(value))


def check_budget(budget: Budget | Mapping[str, Any] | None, run: RunCost) -> str | None:
    """None when the run's estimate is within the budget (equal is within); else a message naming the estimate, the
    budget and the biggest term, e.g. "estimated cost $12.34 exceeds the budget $10.00; the biggest term is training
    (3 variants × 2,000,000 billable tokens × $0.008 per 1,000 tokens = $48.00)"."""
    if budget is not None and not isinstance(budget, Budget):
        budget = parse_budget(budget)
    if budget is None or run.total_usd <= budget.max_usd:
        return None
    estimate_text, budget_text = _distinct_usd(run.total_usd, budget.max_usd)
    term = run.biggest_term
    return (
        f"estimated cost {estimate_text} exceeds the budget {budget_text}; the biggest term is {term.name} "
        f"({term.detail} = {format_usd(term.usd)})"
    )


def _training_detail(training: Cost | SweepCost) -> str:
    variants = training.variants if isinstance(training, SweepCost) else (training,)
    if training.price_per_training_image is not None:
        quantity = [variant.billable_images for variant in variants]
        unit, price = "images seen", f"{format_price(training.price_per_training_image)} per image"
    else:
        quantity = [variant.billable_tokens for variant in variants]
        unit, price = "billable tokens", f"{format_price(training.price_per_1k_training_tokens or 0)} per 1,000 tokens"
    counts = [count or 0 for count in quantity]
    if len(variants) == 1:
        return f"1 variant: {counts[0]:,} {unit} × {price}"
    if len(set(counts)) == 1:
        return f"{len(variants)} variants × {counts[0]:,} {unit} × {price}"
    return f"{len(variants)} variants, {sum(counts):,} {unit} in all × {price}"


# --- text for people ------------------------------------------------------------------------------------------------
def format_usd(amount: float) -> str:
    """Dollars for display: cents from one cent up ("$12.34"), two significant digits below ("$0.0012")."""
    if amount != 0 and abs(amount) < 0.01:
        decimals = 1 - math.floor(math.log10(abs(amount)))
        if abs(round(amount, decimals)) < 0.01:
            return f"${amount:.{decimals}f}"
    return f"${amount:,.2f}"


def format_price(amount: float) -> str:
    """A unit price as the table writes it, never rounded ("$0.000035", "$60.50")."""
    text = format(Decimal(repr(float(amount))), "f")
    whole, _, decimals = text.partition(".")
    decimals = decimals.rstrip("0").ljust(2, "0")
    return f"${int(whole):,}.{decimals}"


def _distinct_usd(first: float, second: float) -> tuple[str, str]:
    """Both amounts at cents, or with as many more decimals as it takes to tell them apart."""
    for decimals in range(2, 10):
        one, two = f"${first:,.{decimals}f}", f"${second:,.{decimals}f}"
        if one != two:
            return one, two
    return f"${first!r}", f"${second!r}"


def render(training: Cost | SweepCost, run: RunCost | None = None) -> str:
    """A few lines for the CLI: training, monthly storage, deployment, the smoke test and the prices' date."""
    lines = [f"Training:   {format_usd(training.training_usd)} ({_training_text(training)})"]
    if isinstance(training, SweepCost) and len(training.variants) > 1:
        kept = f"if all {len(training.variants)} custom models are kept"
        lines.append(f"Storage:    {format_usd(training.storage_usd_per_month)} per month {kept}")
    else:
        lines.append(f"Storage:    {format_usd(training.storage_usd_per_month)} per month for the custom model")
    lines.append(f"Deployment: {_deployment_text(training.deployment)}")
    if run is not None:
        for term in run.terms[1:]:
            lines.append(f"Smoke test: {format_usd(term.usd)} ({term.detail})")
        lines.append(f"Run total:  {format_usd(run.total_usd)} (training and smoke test; storage is monthly)")
    dated = f"as of {training.prices_as_of}" if training.prices_as_of else "set by overrides"
    lines.append(f"Prices {dated} (source: {training.source}).")
    if training.unconfirmed:
        lines.append(
            f"Not confirmed: {', '.join(training.unconfirmed)}; correct them with the {OVERRIDES_NAME} stack parameter."
        )
    return "\n".join(lines)


def _training_text(training: Cost | SweepCost) -> str:
    if isinstance(training, SweepCost) and len(training.variants) > 1:
        return _training_detail(training)
    if training.price_per_training_image is not None:
        return f"{training.billable_images or 0:,} images seen × {format_price(training.price_per_training_image)}"
    tokens = f"{training.billable_tokens or 0:,} billable tokens"
    if isinstance(training, Cost) and training.epochs and training.estimated_tokens is not None:
        tokens += f" = {training.estimated_tokens:,} × {_plural(training.epochs, 'epoch')}"
    return f"{tokens} at {format_price(training.price_per_1k_training_tokens or 0)} per 1,000 tokens"


def _deployment_text(deployment: ProvisionedDeploymentCost | OnDemandDeploymentCost | NoDeploymentCost) -> str:
    if isinstance(deployment, ProvisionedDeploymentCost):
        units = _plural(deployment.model_units, "model unit")
        return (
            f"{format_usd(deployment.usd_per_hour)} per hour (Provisioned Throughput, {units}, no commitment; "
            "billed every hour until deleted)"
        )
    if isinstance(deployment, OnDemandDeploymentCost):
        return (
            f"on demand, {format_price(deployment.usd_per_1k_input_tokens)} per 1,000 input tokens and "
            f"{format_price(deployment.usd_per_1k_output_tokens)} per 1,000 output tokens"
        )
    return "none"


def _plural(count: int, noun: str) -> str:
    return f"{count:,} {noun}" + ("" if count == 1 else "s")


def _kind(value: Any) -> str:
    return "null" if value is None else type(value).__name__


def _hint(value: str, known: Sequence[str]) -> str:
    close = difflib.get_close_matches(value, list(known), n=1, cutoff=0.6)
    return f" (did you mean {close[0]!r}?)" if close else ""
