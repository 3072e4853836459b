"""Notify: publish the run's outcome (success or failure) to the notification topic.

A failed publish is raised as TransientAwsError while the state machine still has retries left (``attempt`` is
``$$.State.RetryCount``). When it is given up (the last retry, or an error no retry can fix) the failure is logged with
its error code and counted by the ``NotificationFailures`` metric (CloudWatch embedded metric format, namespace
``BedrockFinetune``, dimension ``service``; template.yaml alarms on it), and NotificationFailed says what happened:
the run's outcome, its report, and why nobody was told."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune import aws, metrics, naming
from bedrock_finetune.config import StackSettings
from bedrock_finetune.errors import NotificationFailed, TransientAwsError
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.outcome import REPORT_NAME, failure_report, notify, parse_state
from bedrock_finetune.models import NotifyInput, NotifyOutput

METRICS_NAMESPACE = metrics.NAMESPACE
NOTIFICATION_FAILURES = metrics.NOTIFICATION_FAILURES
#: The state machine's MaxAttempts for TransientAwsError on NotifySuccess and NotifyFailure (checked by
#: tests/workflow/test_cleanup_honest.py against the ASL).
NOTIFY_RETRIES = 6


@step(NotifyInput)
def handler(event: NotifyInput) -> NotifyOutput:
    report = event.report
    if report is None:
        if event.execution is None:
            raise ValueError("Notify needs a report, or the state and the execution")
        report = failure_report(parse_state(event.state or {}), event.execution)
    settings = StackSettings.from_environ()
    try:
        result = notify(report, settings)
    except (TransientAwsError, ClientError) as exc:
        transient = isinstance(exc, TransientAwsError)
        if transient and (event.attempt is None or event.attempt < NOTIFY_RETRIES):
            raise  # the state machine retries it with backoff
        code, report_uri = _code(exc), _report_uri(report, settings)
        record_notification_failure(report, code, report_uri, attempts=(event.attempt or 0) + 1)
        raise NotificationFailed(
            f"the run {report.get('outcome')} (report: {report_uri}), but its notification could not be "
            f"sent: {code} after {(event.attempt or 0) + 1} attempt(s)"
        ) from exc
    logger.info("notification sent", extra={"outcome": event.outcome, "message_id": result.message_id})
    return result


def record_notification_failure(report: dict[str, Any], code: str, report_uri: str, *, attempts: int) -> None:
    """One log line with the error code that is also a CloudWatch EMF document counting NotificationFailures.

    The document goes through the logger (stdout on Lambda, where CloudWatch extracts the metric), not print(): a
    local run keeps stdout for its own output."""
    document = metrics.document({NOTIFICATION_FAILURES: 1})
    logger.error(
        "notification failed",
        extra={
            "error_code": code,
            "outcome": report.get("outcome"),
            "attempts": attempts,
            "report_uri": report_uri,
            **document,
        },
    )


def _code(exc: Exception) -> str:
    cause = exc.__cause__ if isinstance(exc, TransientAwsError) else exc
    if isinstance(cause, ClientError):
        return aws.error_code(cause) or str(aws.http_status(cause))
    return type(cause).__name__ if cause is not None else type(exc).__name__


def _report_uri(report: dict[str, Any], settings: StackSettings) -> str:
    run = naming.run_id(str(report.get("runId") or "run"))
    return f"s3://{settings.bucket_name}/{naming.report_key(run, REPORT_NAME)}"
