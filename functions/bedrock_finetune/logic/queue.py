"""The training queue: runs wait for a free job slot, first in, first out by drop time, instead of failing.

Bedrock limits the model customization jobs that run at once per account; above the quota CreateModelCustomizationJob
answers ServiceQuotaExceededException ("The number of requests exceeds the service quota. Resubmit your request
later.", botocore's bedrock model). Here that answer means *wait*, never failure:

* every run takes its place in the queue as soon as its configuration is resolved (ResolveConfig, ``register``): an
  item ``pk="queue"``, ``sk=<drop time>#<start time>#<run>`` in the training table, written once, conditionally. A
  run still validating or staging its dataset therefore already holds its place, and a later drop cannot overtake it
  (strict drop order). When the run first asks for a slot it *enters* the queue: ``enqueuedAt`` is set and its wait
  is measured from there (later rounds read the entry back from the same conditional request);
* a run that ends without asking for a slot (invalid dataset, a duplicate of a trained run, any failure) leaves the
  queue in Finalize or Cleanup (``leave``), and the recovery path does the same for an execution that died;
* the queue is read in sort-key order (one strongly consistent Query of one partition): only the first run (position
  1) asks Bedrock for a job, so jobs are created in drop order; on ServiceQuotaExceededException it stays first;
* a run that may not create its job yet answers ``Queued`` with ``waitSeconds``, and the state machine's
  WaitForTrainingCapacity waits that long before asking again: the interval grows with the time already waited (a
  quarter of it, as the job polls do) from QueuePollInitialSeconds up to QueuePollMaxSeconds, so a long wait costs
  few state transitions;
* after TrainingQueueTimeoutHours in the queue the run fails with TrainingQueueTimedOut (caught into Cleanup);
* once its job exists the run leaves the queue; Cleanup and the recovery path take a failed or aborted run out. An
  entry whose run's queue deadline has passed is ignored by everyone (its run has failed or can no longer be waiting),
  so a run that died without leaving cannot block the queue; DynamoDB's TTL deletes it later.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bedrock_finetune import aws, clock
from bedrock_finetune.config import RunConfig, StackSettings
from bedrock_finetune.errors import TrainingCapacityFull, TrainingQueueTimedOut
from bedrock_finetune.logic import training
from bedrock_finetune.models import QueueStatus, StageDatasetOutput, TrainingStartOutput, ValidateDatasetOutput

QUEUE_PARTITION = "queue"
# Floors and ceilings, as for the job polls (tests/workflow/test_poll_history_budget.py counts the worst case of a
# run that waits the longest allowed time and then trains for the longest allowed time). template.yaml's
# MinValue/MaxValue carry the same numbers; values outside them are clamped here.
MIN_QUEUE_POLL_MAX_SECONDS = 900
MAX_QUEUE_TIMEOUT_HOURS = 48
ENTRY_TTL_MARGIN_SECONDS = 24 * 3600
#: How long a registered run may take from ResolveConfig to its first request for a slot before the others stop
#: waiting for it: ValidateDataset and StageDataset each run for at most 15 minutes (their Lambda timeout, the
#: maximum) and are tried at most 4 times by the state machine (template.yaml, statemachine/finetune.asl.json), with
#: backoff: 2 h bounds it. Only a run that died without Cleanup and without the recovery path is ever held that long.
PREPARATION_ALLOWANCE_SECONDS = 2 * 3600


def queue_key(config: RunConfig) -> str:
    """The run's sort key: drop time, then start time (sub-second order of drops within the event's second), then the
    run id (unique); a sweep variant's adds its id, so the variants of a run sort together, at the run's drop time."""
    key = f"{config.dropped_at or config.started_at or ''}#{config.started_at or ''}#{config.run_id}"
    return f"{key}#{config.variant}" if config.variant else key


def timeout_seconds(settings: StackSettings) -> int:
    return max(1, int(min(MAX_QUEUE_TIMEOUT_HOURS, settings.training_queue_timeout_hours) * 3600))


def next_wait(waited: float, settings: StackSettings, remaining: float) -> int:
    initial = max(training.MIN_POLL_INITIAL_SECONDS, settings.queue_poll_initial_seconds)
    cap = max(MIN_QUEUE_POLL_MAX_SECONDS, settings.queue_poll_max_seconds, initial)
    # Never sleep far past the deadline: the next round then raises TrainingQueueTimedOut.
    return max(1, min(training.next_wait(waited, initial, cap), int(remaining) + 1))


def register(config: RunConfig, settings: StackSettings, now: datetime | None = None) -> bool:
    """Hold the run's place in the queue from the moment its configuration is known (ResolveConfig); False when the
    place was already held (a retried step)."""
    table = settings.training_table_name
    now = now or clock.now()
    deadline = int(now.timestamp()) + PREPARATION_ALLOWANCE_SECONDS + timeout_seconds(settings)
    entry = {
        "pk": QUEUE_PARTITION,
        "sk": queue_key(config),
        "runId": config.run_id,
        "executionArn": config.execution_arn,
        "registeredAt": now.isoformat(),
        "deadline": deadline,
        "expiresAt": deadline + ENTRY_TTL_MARGIN_SECONDS,
    }
    return aws.put_new_item(table, entry) is None


def leave(table: str, key: str, execution_arn: str) -> bool:
    """Take the run's entry out of the queue (only its own); False when it was not there."""
    return aws.delete_item(table, QUEUE_PARTITION, key, only_if="executionArn = :me", values={":me": execution_arn})


def start_training(
    config: RunConfig,
    validation: ValidateDatasetOutput,
    staged: StageDatasetOutput,
    settings: StackSettings,
    now: datetime | None = None,
) -> TrainingStartOutput:
    """Create the job when this run is first in the queue and Bedrock has a free slot; else say how long to wait."""
    table = settings.training_table_name
    now = now or clock.now()
    key = queue_key(config)
    timeout = timeout_seconds(settings)
    entry = _enter(table, key, config, now, timeout)
    enqueued_at = datetime.fromisoformat(str(entry["enqueuedAt"]))
    waited = max(0.0, (now - enqueued_at).total_seconds())
    if waited > timeout:
        leave(table, key, config.execution_arn)
        raise TrainingQueueTimedOut(
            f"waited {int(waited)} s for a free training job slot (TrainingQueueTimeoutHours: {timeout / 3600:g} h); "
            f"the run was at position {_position(table, key, now, config.execution_arn)} of the queue"
        )
    position = _position(table, key, now, config.execution_arn)
    initial = int(entry.get("initialPosition") or 0)
    if not initial:
        initial = position
        aws.update_item(
            table,
            QUEUE_PARTITION,
            key,
            {"initialPosition": position},
            only_if="executionArn = :me",
            values={":me": config.execution_arn},
        )

    def status(reason: Any) -> QueueStatus:
        return QueueStatus(
            position=position,
            initial_position=initial,
            enqueued_at=enqueued_at.isoformat(),
            waited_seconds=int(waited),
            reason=reason,
            wait_seconds=next_wait(waited, settings, timeout - waited) if reason != "none" else 0,
        )

    if position > 1:
        return TrainingStartOutput(status="Queued", queue=status("ahead"))
    try:
        job = training.create_job(config, validation, staged, settings.bedrock_role_arn)
    except TrainingCapacityFull:
        return TrainingStartOutput(status="Queued", queue=status("quota"))
    leave(table, key, config.execution_arn)
    return TrainingStartOutput(status="Created", job=job, queue=status("none"))


def _enter(table: str, key: str, config: RunConfig, now: datetime, timeout: int) -> dict[str, Any]:
    """The run's queue entry, entered (``enqueuedAt``) on the first round: the place registered by ResolveConfig, or
    a new one for a run registered by nobody (an execution started before ResolveConfig registered places). Later
    rounds read it back from the same conditional request."""
    deadline = int(now.timestamp()) + timeout
    entered = {"enqueuedAt": now.isoformat(), "deadline": deadline, "expiresAt": deadline + ENTRY_TTL_MARGIN_SECONDS}
    entry = {"pk": QUEUE_PARTITION, "sk": key, "runId": config.run_id, "executionArn": config.execution_arn, **entered}
    existing = aws.put_new_item(table, entry)
    if existing is None:
        return entry
    if existing.get("enqueuedAt") or existing.get("executionArn") != config.execution_arn:
        return existing
    aws.update_item(
        table, QUEUE_PARTITION, key, entered, only_if="executionArn = :me", values={":me": config.execution_arn}
    )
    return {**existing, **entered}


def _position(table: str, key: str, now: datetime, execution_arn: str) -> int:
    """1 + the number of live entries ahead of ``key``. Entries past their deadline do not count, nor does the place
    the run itself registered while its sweep variants ask for slots of their own."""
    moment = int(now.timestamp())
    ahead = 0
    for item in aws.query_partition(table, QUEUE_PARTITION):
        if item["sk"] == key:
            break
        if item.get("executionArn") == execution_arn and not item.get("enqueuedAt"):
            continue
        if int(item.get("deadline", moment)) >= moment:
            ahead += 1
    return ahead + 1
