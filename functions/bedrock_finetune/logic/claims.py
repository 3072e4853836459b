"""ClaimTraining: the same content and settings train once.

A run's *fingerprint* is the SHA-256 of what decides the model it would train: the training data (the staged keys
are content-addressed: ``datasets/<sha256>/...``, with the split percentage in the path when validation data is split
off), the validation data, the base model, the customization type and the hyperparameters. Before any job exists the
run writes a *claim* of its fingerprint with one conditional PutItem (``attribute_not_exists(pk)``): of two identical
drops at the same moment exactly one write succeeds (DynamoDB Developer Guide, "Condition expressions"), and the
other learns from the same answer (``ReturnValuesOnConditionCheckFailure=ALL_OLD``) which run holds the claim.

* The claim holder trains. Finalize marks the claim SUCCEEDED with the model's ARN; Cleanup (and the recovery path
  for aborted executions) deletes it, so a retry after a failure trains.
* A run that finds a claim of a run that succeeded or is still running does not train: it ends with a notice naming
  that run and its model, and its report says ``duplicateOf``.
* ``"force": true`` in the run configuration trains anyway (and takes no claim).
* A claim carries a TTL (``expiresAt``, seconds since the epoch): one that a failed run could not release expires
  once no run could still be using it (queue timeout + job timeout + deployment timeout + a day), and a claim whose
  ``expiresAt`` has passed counts as free even before DynamoDB's TTL process deletes it (that takes up to a few days:
  DynamoDB Developer Guide, "Time to Live"). A SUCCEEDED claim lasts DUPLICATE_WINDOW_DAYS.

Why not Powertools' idempotency utility (``idempotent_function`` with ``DynamoDBPersistenceLayer``)? It makes one
*function invocation* idempotent: its record is INPROGRESS while the wrapped call runs and COMPLETED (with the call's
return value) when the call returns. Here the claim must outlive many invocations of several functions (it stays
"running" for the hours of training and deployment, becomes SUCCEEDED at Finalize, and is deleted by Cleanup when the
run fails), and a duplicate that finds a claim still in progress must end at once as a duplicate, where the utility
raises IdempotencyAlreadyInProgressError (or, with its in-progress expiry, lets the duplicate train once the first
invocation's Lambda time is up). Its records also expire after ``expires_after_seconds`` for every status alike. The
same conditional write the utility uses underneath (PutItem with ``attribute_not_exists``) is done here directly.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Any

from bedrock_finetune import aws, clock
from bedrock_finetune.config import RunConfig, StackSettings
from bedrock_finetune.logic import queue, training
from bedrock_finetune.models import ClaimTrainingOutput, StageDatasetOutput

DUPLICATE_WINDOW_DAYS = 365
RUN_RECORD_DAYS = 30
RUNNING, SUCCEEDED = "RUNNING", "SUCCEEDED"


def fingerprint(config: RunConfig, staged: StageDatasetOutput) -> str:
    """What decides the trained model, hashed: equal for equal content and settings, whatever the key or run."""
    decisive = {
        "train": staged.train.key,
        "trainSha256": staged.sha256,
        "validation": staged.validation.key if staged.validation else None,
        "baseModelId": config.base_model_id,
        "customizationType": config.customization_type,
        "hyperParameters": dict(sorted(config.hyper_parameters.items())),
    }
    if config.sweep is not None:
        # A sweep is another training than one job with the same settings.
        decisive["sweep"] = config.sweep.model_dump(mode="json", by_alias=True)
    return hashlib.sha256(json.dumps(decisive, sort_keys=True).encode()).hexdigest()


def claim_key(fingerprint_: str) -> tuple[str, str]:
    return f"claim#{fingerprint_}", "claim"


def run_key(run: str) -> tuple[str, str]:
    return f"run#{run}", "run"


def model_name(config: RunConfig) -> str:
    """The custom model's name as CreateCustomizationJob will give it (known before the job exists)."""
    return training.model_name_of(config)


def _epoch(moment: datetime) -> int:
    return int(moment.timestamp())


def claim_lifetime_seconds(config: RunConfig, settings: StackSettings) -> int:
    """Longest time a run can still be using its claim: queue, training and deployment timeouts, plus a day."""
    polling = training.effective_polling(config.polling)
    return (
        queue.timeout_seconds(settings) + polling.job_timeout_seconds + polling.deployment_timeout_seconds + 24 * 3600
    )


def register(config: RunConfig, settings: StackSettings, now: datetime | None = None) -> bool:
    """ResolveConfig: record the run (so Cleanup and the recovery path find its queue entry) and hold its place in
    the training queue, in drop order. False when the stack has no table (a handler test) or the place was held."""
    table = settings.training_table_name
    if not table:
        return False
    now = now or clock.now()
    _record_run(table, config, now, fingerprint_=None, claimed=False)
    return queue.register(config, settings, now)


def _record_run(table: str, config: RunConfig, now: datetime, *, fingerprint_: str | None, claimed: bool) -> None:
    """The run's own record: what Cleanup (and the recovery path, which has no state) needs to release the claim and
    leave the queue."""
    pk, sk = run_key(config.run_id)
    record: dict[str, Any] = {
        "pk": pk,
        "sk": sk,
        "runId": config.run_id,
        "executionArn": config.execution_arn,
        "claimed": claimed,
        "queueKey": queue.queue_key(config),
        "expiresAt": _epoch(now) + RUN_RECORD_DAYS * 86400,
    }
    if fingerprint_:
        record["fingerprint"] = fingerprint_
    aws.put_new_item(table, record, replace_if="executionArn = :me", values={":me": config.execution_arn})


def claim(
    config: RunConfig, staged: StageDatasetOutput, settings: StackSettings, now: datetime | None = None
) -> ClaimTrainingOutput:
    table = settings.training_table_name
    now = now or clock.now()
    fp = fingerprint(config, staged)
    me = {":me": config.execution_arn}
    _record_run(table, config, now, fingerprint_=fp, claimed=not config.force)
    if config.force:
        return ClaimTrainingOutput(fingerprint=fp, claimed=False, forced=True)
    pk, sk = claim_key(fp)
    holder = aws.put_new_item(
        table,
        {
            "pk": pk,
            "sk": sk,
            "runId": config.run_id,
            "executionArn": config.execution_arn,
            "status": RUNNING,
            "modelName": model_name(config),
            "claimedAt": now.isoformat(),
            "expiresAt": _epoch(now) + claim_lifetime_seconds(config, settings),
        },
        # Its own claim (a retried step), or one nobody can still be using.
        replace_if="executionArn = :me OR expiresAt < :now",
        values={**me, ":now": _epoch(now)},
    )
    if holder is None:
        return ClaimTrainingOutput(fingerprint=fp, claimed=True)
    return ClaimTrainingOutput(
        fingerprint=fp,
        claimed=False,
        duplicate_of=str(holder.get("runId") or "unknown"),
        duplicate_execution_arn=_text(holder.get("executionArn")),
        duplicate_status=_text(holder.get("status")),
        duplicate_model_name=_text(holder.get("modelName")),
        duplicate_model_arn=_text(holder.get("modelArn")),
    )


def complete(claim_: ClaimTrainingOutput, config: RunConfig, model_arn: str | None, settings: StackSettings) -> bool:
    """Finalize: the claim now stands for a trained model (and lasts DUPLICATE_WINDOW_DAYS)."""
    if not claim_.claimed:
        return False
    pk, sk = claim_key(claim_.fingerprint)
    updates: dict[str, Any] = {
        "status": SUCCEEDED,
        "expiresAt": _epoch(clock.now()) + DUPLICATE_WINDOW_DAYS * 86400,
    }
    if model_arn:
        updates["modelArn"] = model_arn
    return aws.update_item(
        settings.training_table_name,
        pk,
        sk,
        updates,
        only_if="executionArn = :me",
        values={":me": config.execution_arn},
    )


def release(run: str, execution_arn: str, settings: StackSettings) -> list[str]:
    """Cleanup and the recovery path: delete the run's claim (only its own, only while not SUCCEEDED) and its queue
    entry. What was done, for the report; safe to repeat."""
    table = settings.training_table_name
    if not table:
        return []
    record = aws.get_item(table, *run_key(run))
    if record is None or record.get("executionArn") != execution_arn:
        return []
    done = []
    queue_key = _text(record.get("queueKey"))
    if queue_key and queue.leave(table, queue_key, execution_arn):
        done.append("left the training queue")
    fp = _text(record.get("fingerprint"))
    if record.get("claimed") and fp:
        released = aws.delete_item(
            table,
            *claim_key(fp),
            only_if="executionArn = :me AND #status <> :succeeded",
            values={":me": execution_arn, ":succeeded": SUCCEEDED},
            names={"#status": "status"},
        )
        if released:
            done.append(f"released the training claim {fp[:12]}… (the same content may train again)")
    return done


def _text(value: Any) -> str | None:
    return None if value is None else str(value)
