"""The reconciler's running cost of provisioned throughput (issue 12, the dashboard's US$ per hour): model units ×
the catalog's no-commitment price of the throughput's base model, with the stack's overrides."""

from __future__ import annotations

import json
import math

from bedrock_finetune import cost
from bedrock_finetune.config import StackSettings
from bedrock_finetune.logic.reconcile import Listed, hourly_usd

ARN = "arn:aws:bedrock:us-east-1:123456789012:provisioned-model/abc"
NOVA_MICRO_BASE = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"


def throughput(units: int, foundation: str = NOVA_MICRO_BASE) -> Listed:
    return Listed("provisioned-throughput", ARN, "InService", units, foundation)


def test_hourly_cost_is_units_times_the_catalog_price_of_the_base_model() -> None:
    per_unit = cost.load_table().region_prices("amazon.nova-micro-v1:0:128k", "us-east-1")
    price = per_unit[cost.PROVISIONED_PER_MODEL_UNIT_HOUR].usd
    assert math.isclose(hourly_usd(throughput(3), StackSettings(bucket_name="b")), 3 * price)


def test_price_overrides_apply_and_an_unknown_model_costs_nothing_known() -> None:
    overrides = json.dumps({"amazon.nova-micro-v1:0": {"provisionedPerModelUnitHour": 10}})
    settings = StackSettings(bucket_name="b", price_overrides=overrides)
    assert hourly_usd(throughput(2), settings) == 20
    unknown = throughput(2, "arn:aws:bedrock:us-east-1::foundation-model/vendor.unknown-v1:0")
    assert hourly_usd(unknown, settings) == 0.0
