"""Reconcile, the scheduled sweep: stop or delete this stack's jobs, throughput and deployments whose run no longer
runs and that no run asked to keep (logic/reconcile.py). Started by its EventBridge Scheduler schedule."""

import os

from bedrock_finetune import metrics
from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.reconcile import reconcile
from bedrock_finetune.models import ReconcileInput, ReconcileOutput


@step(ReconcileInput)
def handler(event: ReconcileInput) -> ReconcileOutput:
    result = reconcile(StackSettings.from_environ(), event.scheduled_time)
    hours = metrics.schedule_hours(os.environ.get("RECONCILE_SCHEDULE"))
    counted = metrics.document(
        {
            metrics.RECONCILER_DELETIONS: result.removed,
            metrics.JOBS_IN_PROGRESS: result.jobs_in_progress,
            metrics.PROVISIONED_MODEL_UNITS: result.provisioned_model_units,
            metrics.PROVISIONED_MODEL_UNIT_HOURS: result.provisioned_model_units * hours,
            metrics.PROVISIONED_USD_PER_HOUR: result.provisioned_usd_per_hour,
        }
    )
    logger.info(
        "reconciled",
        extra={
            **counted,
            "examined": result.examined,
            "not_ours": result.not_ours,
            "kept": len(result.kept),
            "running": len(result.running),
            "acted": [f"{item.action} {item.kind} {item.arn}" for item in result.acted],
            "problems": len(result.problems),
            "report_uri": result.report_uri,
        },
    )
    return result
