"""InboxStarter: one object version, one execution.

EventBridge delivers each S3 "Object Created" event at least once (EventBridge User Guide, "Event delivery": a
target may receive an event more than once), and a Step Functions target cannot name the execution it starts, so
every delivery would start its own run (and train, and bill). The inbox rule therefore invokes this small function,
which starts the state machine with a name derived from the bucket, key and version id
(:func:`naming.inbox_execution_name`) and the event itself as input, exactly the input the rule used to give the
state machine, so ResolveConfig is unchanged.

StartExecution is idempotent for STANDARD state machines by name: a second delivery finds the execution running
(same input: the same answer, nothing started) or ended, or its input differs (ExecutionAlreadyExists) (Step
Functions API Reference, StartExecution). Either way nothing new starts and nothing fails: no failure notice for a
duplicate. Names may be reused 90 days after an execution closed, long after any redelivery.

Why a function and not an SQS queue between rule and state machine: something still has to call StartExecution with
a chosen name (EventBridge Pipes' Step Functions target cannot name the execution either), and an SQS FIFO queue's
deduplication lasts only 5 minutes, where the execution name deduplicates for 90 days with no extra resource.
"""

from __future__ import annotations

import json
from typing import Any

from bedrock_finetune import aws, naming
from bedrock_finetune.config import StackSettings, is_s3_event, source_from_event
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.models import InboxStartOutput


def execution_name(event: dict[str, Any]) -> str:
    """The name of the execution for this object version. A bucket without versioning has no version id: the event's
    sequencer (unique per PUT of a key, the same in every delivery of one event) stands in for it."""
    if not is_s3_event(event):
        raise ConfigInvalid("InboxStarter: not an S3 Object Created event")
    source = source_from_event(event)
    version = source.version_id or str((event.get("detail") or {}).get("object", {}).get("sequencer") or "")
    if not version:
        raise ConfigInvalid(f"S3 event for {source.uri} has neither version-id nor sequencer")
    return naming.inbox_execution_name(source.bucket, source.key, version)


def start(event: dict[str, Any], settings: StackSettings) -> InboxStartOutput:
    if not settings.state_machine_arn:
        raise ConfigInvalid("function environment: STATE_MACHINE_ARN is not set")
    name = execution_name(event)
    # The input the rule gave the state machine before: the event, unchanged. The same event serializes the same way,
    # so a redelivery while the run is RUNNING gets StartExecution's idempotent answer.
    arn, started = aws.start_execution(settings.state_machine_arn, name, execution_input(event))
    return InboxStartOutput(execution_arn=arn, name=name, started=started)


def execution_input(event: dict[str, Any]) -> str:
    return json.dumps(event, separators=(",", ":"), sort_keys=True)
