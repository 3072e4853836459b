"""RefreshPrices: read this Region's Bedrock prices from the AWS Price List into ``prices/price-list.json``, falling
back to the price table per model (logic/refresh_prices.py). Started by its EventBridge Scheduler schedule (stack
parameter PriceRefreshSchedule)."""

from bedrock_finetune import metrics
from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.refresh_prices import refresh
from bedrock_finetune.models import ReconcileInput, RefreshPricesOutput


@step(ReconcileInput)
def handler(event: ReconcileInput) -> RefreshPricesOutput:
    result = refresh(StackSettings.from_environ())
    counted = metrics.document(
        {metrics.PRICES_REFRESHED: len(result.refreshed), metrics.PRICE_REFRESH_FALLBACKS: len(result.fallbacks)}
    )
    logger.info(
        "prices refreshed",
        extra={**counted, "scheduled_time": event.scheduled_time, "fallbacks": result.fallbacks},
    )
    return result
