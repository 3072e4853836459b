"""RefreshPrices, the scheduled Price List refresh: read every model the price table prices in this stack's Region
from the AWS Price List Query API (``pricing:GetProducts``, answered in us-east-1) and store what it gave at
``s3://<bucket>/prices/price-list.json``. ValidateDataset and the reconciler price with the table, overlaid with that
document (logic/estimate.current_table), and the stack parameter PriceOverrides on top.

Falling back to the table is per model and never an error here: a Price List that is unreachable, refuses the call
(AccessDeniedException: an SCP, a missing permission), throttles, or has no products for a model leaves that model's
table prices in force, and the document says why. Only a document that cannot be stored fails the invocation (the
schedule retries it; the previous document stays). Nothing here reads or writes dataset content.
"""

from __future__ import annotations

import json
import logging
from datetime import datetime

from bedrock_finetune import aws, clock, cost, metrics, naming, pricing
from bedrock_finetune.config import StackSettings
from bedrock_finetune.models import RefreshPricesOutput

logger = logging.getLogger(__name__)


def refresh(settings: StackSettings) -> RefreshPricesOutput:
    region = aws.region()
    refreshed_at = clock.now().strftime("%Y-%m-%dT%H:%M:%SZ")
    document = pricing.refresh_region(
        region, client=aws.client("pricing", pricing.PRICING_REGION), table=cost.load_table(), at=refreshed_at
    )
    aws.put_json(settings.bucket_name, naming.PRICE_LIST_KEY, json.dumps(document, indent=2, sort_keys=True))
    models = document["models"]
    return RefreshPricesOutput(
        region=region,
        refreshed_at=refreshed_at,
        price_list_uri=f"s3://{settings.bucket_name}/{naming.PRICE_LIST_KEY}",
        refreshed=sorted(model for model, row in models.items() if row["refreshed"]),
        fallbacks={
            model: row["fallback"]
            for model, row in sorted(models.items())
            if row["fallback"] and row["priceListFamily"]
        },
        not_in_price_list=sorted(model for model, row in models.items() if not row["priceListFamily"]),
    )


#: A Price List document older than this many refresh intervals (and at least MIN_STALE_HOURS) is not used: the
#: refreshes stopped (the schedule was changed, or fails every time), and the table shipped since may be newer.
STALE_INTERVALS = 3
MIN_STALE_HOURS = 72.0


def current_table(settings: StackSettings, region: str) -> cost.PriceTable:
    """The price table, with the prices RefreshPrices last read from the AWS Price List for ``region`` in place
    (``prices/price-list.json``); the table alone when the refresh is off (PriceRefreshSchedule), when there is no
    document yet, or when it is stale, for another Region or malformed (logged). Overrides are applied by the caller,
    on top."""
    table = cost.load_table()
    if settings.price_refresh_schedule.strip().lower() == "off":
        return table
    document = aws.json_object(aws.get_text(settings.bucket_name, naming.PRICE_LIST_KEY))
    stale = _stale(document, settings.price_refresh_schedule)
    refreshed, unused = (table, stale) if stale else pricing.overlay(table, document, region)
    if unused is not None:
        logger.info("priced with the price table alone", extra={"reason": unused})
    return refreshed


def _stale(document: dict[str, object] | None, schedule: str) -> str | None:
    """Why ``document`` is too old to use (None: fresh enough, or no document: overlay says so)."""
    if document is None:
        return None
    try:
        refreshed_at = datetime.fromisoformat(str(document.get("refreshedAt")))
    except ValueError:
        return "the Price List refresh has no readable refreshedAt"
    if refreshed_at.tzinfo is None:
        return "the Price List refresh has no readable refreshedAt"
    limit = max(MIN_STALE_HOURS, STALE_INTERVALS * metrics.schedule_hours(schedule, default=24.0))
    age = (clock.now() - refreshed_at).total_seconds() / 3600
    return f"the Price List refresh is {age:.0f} hours old (more than {limit:.0f})" if age > limit else None
