"""The stack's CloudWatch metrics, as embedded metric format (EMF) documents in the function's log.

One log line per record: the line carries the EMF document (``_aws`` with namespace ``BedrockFinetune``, dimension
``service``), so CloudWatch extracts the metrics from the log group without any API call or permission, and a local
run keeps them in its Lambda log (never on stdout, which belongs to the command's own output). template.yaml's
dashboard and alarms read these names.
"""

from __future__ import annotations

import re
from typing import Any

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit

NAMESPACE = "BedrockFinetune"
RUNS_STARTED = "RunsStarted"
RUNS_SUCCEEDED = "RunsSucceeded"
RUNS_FAILED = "RunsFailed"
RUNS_WAITING_FOR_CAPACITY = "RunsWaitingForCapacity"
CLEANUP_LEFTOVERS = "CleanupLeftovers"
RECONCILER_DELETIONS = "ReconcilerDeletions"
JOBS_IN_PROGRESS = "JobsInProgress"
PROVISIONED_MODEL_UNITS = "ProvisionedModelUnits"
PROVISIONED_MODEL_UNIT_HOURS = "ProvisionedModelUnitHours"
PROVISIONED_USD_PER_HOUR = "ProvisionedUsdPerHour"
NOTIFICATION_FAILURES = "NotificationFailures"
#: RefreshPrices: models priced from the Price List, and models left to the price table (with the reason logged).
PRICES_REFRESHED = "PricesRefreshed"
PRICE_REFRESH_FALLBACKS = "PriceRefreshFallbacks"

_UNITS = {PROVISIONED_MODEL_UNIT_HOURS: MetricUnit.Count, PROVISIONED_USD_PER_HOUR: MetricUnit.NoUnit}


def document(values: dict[str, float]) -> dict[str, Any]:
    """The EMF document for ``values`` (name → value, unit Count); empty when there is nothing to count."""
    if not values:
        return {}
    metrics = Metrics(namespace=NAMESPACE)
    for name, value in values.items():
        metrics.add_metric(name=name, unit=_UNITS.get(name, MetricUnit.Count), value=value)
    serialized = metrics.serialize_metric_set()
    metrics.clear_metrics()
    return dict(serialized)


def record(logger: Logger, message: str, values: dict[str, float], **extra: Any) -> None:
    """One log line: ``message`` with ``extra`` (ids and counts only) and the metrics in ``values``."""
    logger.info(message, extra={**extra, **document(values)})


def schedule_hours(expression: str | None, default: float = 0.25) -> float:
    """The interval of an EventBridge Scheduler ``rate(N unit)`` expression in hours (``default`` for cron() or an
    unreadable one): each reconciler sweep counts the model-unit hours since the previous one."""
    match = re.fullmatch(r"\s*rate\(\s*(\d+)\s+(minute|minutes|hour|hours|day|days)\s*\)\s*", expression or "")
    if not match:
        return default
    amount, unit = int(match.group(1)), match.group(2)
    return amount * {"minute": 1 / 60, "hour": 1.0, "day": 24.0}[unit.rstrip("s")]
