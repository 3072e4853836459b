"""Reconcile, the scheduled sweep: stop or delete this stack's jobs, throughput and deployments whose run no longer
runs and that no run asked to keep (logic/reconcile.py). Started by its EventBridge Scheduler schedule."""

from bedrock_finetune.config import StackSettings
from bedrock_finetune.handlers._step import logger, step
from bedrock_finetune.logic.reconcile import reconcile
from bedrock_finetune.models import ReconcileInput, ReconcileOutput


@step(ReconcileInput)
def handler(event: ReconcileInput) -> ReconcileOutput:
    result = reconcile(StackSettings.from_environ(), event.scheduled_time)
    logger.info(
        "reconciled",
        extra={
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
