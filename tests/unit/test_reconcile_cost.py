"""The reconciler's running cost of provisioned throughput (issue 12, the dashboard's US$ per hour): model units ×
the catalog's no-commitment price of the throughput's base model, with the stack's overrides."""

from __future__ import annotations

import json
import math

from bedrock_finetune import cost
from bedrock_finetune.config import StackSettings
from bedrock_finetune.logic.reconcile import Listed, hourly_usd, price_table

ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"
NOVA_MICRO_BASE = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"


def throughput(units: int, foundation: str = NOVA_MICRO_BASE) -> Listed:
    return Listed("provisioned-throughput", ARN, "InService", units, foundation)


def test_hourly_cost_is_units_times_the_catalog_price_of_the_base_model() -> None:
    per_unit = cost.load_table().region_prices("amazon.nova-micro-v1:0:128k", "us-east-1")
    price = per_unit[cost.PROVISIONED_PER_MODEL_UNIT_HOUR].usd
    assert math.isclose(hourly_usd(throughput(3), cost.load_table()), 3 * price)


def test_price_overrides_apply_and_an_unknown_model_costs_nothing_known() -> None:
    overrides = json.dumps({"amazon.nova-micro-v1:0": {"provisionedPerModelUnitHour": 10}})
    prices = cost.apply_overrides(cost.load_table(), cost.parse_overrides(overrides))
    assert hourly_usd(throughput(2), prices) == 20
    unknown = throughput(2, "arn:aws:bedrock:us-east-1::foundation-model/vendor.unknown-v1:0")
    assert hourly_usd(unknown, prices) == 0.0


def test_wrong_overrides_are_reported_and_count_nothing() -> None:
    problems: list[str] = []
    settings = StackSettings(bucket_name="b", price_overrides='{"amazon.nova-micro-v1:0": {"trainingPer1kTokens": -1}}')
    assert price_table(settings, problems) is None
    assert problems
    assert "running cost was not counted" in problems[0]
