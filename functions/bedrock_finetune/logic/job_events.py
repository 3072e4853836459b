"""Hear a training job finish: Bedrock's "Model Customization Job State Change" event wakes the waiting execution.

The workflow waits for a job in one ``lambda:invoke.waitForTaskToken`` Task (AwaitJobEnd) instead of polling it:

1. AwaitJobEnd stores the Task's token under the job's name in the training table, *then* reads the job's status.
   A job that already ended (its event may have come before the token was stored) resumes the execution at once.
2. Bedrock publishes the job's state change event to the default bus (Amazon Bedrock User Guide, "How EventBridge
   for Amazon Bedrock works"); the stack's rule sends the final ones (Completed, Failed, Stopped) to JobEvent, which
   reads the token and calls ``SendTaskSuccess``. The execution goes on to PollJob, which reads the job itself.
3. Bedrock delivers these events best effort (EventBridge events reference, Amazon Bedrock: "Delivery type: Best
   effort"). The Task's timeout is the fallback: after ``jobEventFallbackSeconds`` it times out, its Catch enters
   AwaitJobEnd again, which checks the job (step 1) and waits anew. A lost event is noticed at most one fallback
   interval late, and each round costs one state transition.

Sending a token twice, or after its Task timed out, is harmless: Step Functions answers ``TaskTimedOut`` (or
``InvalidToken`` / ``TaskDoesNotExist``), which both senders treat as "nobody waits for this any more".
"""

from __future__ import annotations

import json
from typing import Any

from botocore.exceptions import ClientError

from bedrock_finetune import aws, clock
from bedrock_finetune.config import StackSettings
from bedrock_finetune.logic import training
from bedrock_finetune.models import AwaitJobEndInput, AwaitJobEndOutput, JobEventOutput

#: The job statuses after which nothing changes (botocore's ModelCustomizationJobStatus minus the active ones).
FINAL_STATUSES = frozenset({"Completed", "Failed", "Stopped"})
#: Step Functions' answers to a token nobody waits for any more (Step Functions API Reference, SendTaskSuccess).
STALE_TOKEN_ERRORS = frozenset({"TaskTimedOut", "InvalidToken", "TaskDoesNotExist"})
#: A waiter record outlives the longest job by a day (DynamoDB TTL removes it).
WAITER_RECORD_SECONDS = (training.MAX_JOB_TIMEOUT_HOURS + 24) * 3600


def waiter_key(job_name: str) -> tuple[str, str]:
    return f"job#{job_name}", "waiter"


def await_job_end(event: AwaitJobEndInput, settings: StackSettings) -> AwaitJobEndOutput:
    """Register the Task's token for the job's event, then resume at once if the job already ended. A job past the
    run's training timeout raises JobTimedOut (the state machine's Catch sends it to Cleanup, which stops it)."""
    pk, sk = waiter_key(event.job.job_name)
    now = clock.now()
    aws.put_item(
        settings.training_table_name,
        {
            "pk": pk,
            "sk": sk,
            "taskToken": event.task_token,
            "runId": event.config.run_id,
            "jobArn": event.job.job_arn,
            "registeredAt": now.isoformat(),
            "expiresAt": int(now.timestamp()) + WAITER_RECORD_SECONDS,
        },
    )
    status = training.check_job(event.config, event.job, now)
    if status is not None and status not in FINAL_STATUSES:
        return AwaitJobEndOutput(status=status, resumed=False)
    send_success(event.task_token, {"status": status or "Missing", "source": "AwaitJobEnd"})
    return AwaitJobEndOutput(status=status, resumed=True)


def relay(detail: dict[str, Any], settings: StackSettings) -> JobEventOutput:
    """JobEvent: wake the execution waiting for this job, if any."""
    name = str(detail.get("jobName") or "")
    status = str(detail.get("jobStatus") or "")
    if status not in FINAL_STATUSES or not name:
        return JobEventOutput(job_name=name, job_status=status, outcome="ignored")
    record = aws.get_item(settings.training_table_name, *waiter_key(name))
    if record is None or not record.get("taskToken"):
        return JobEventOutput(job_name=name, job_status=status, outcome="no-waiter")
    sent = send_success(str(record["taskToken"]), {"status": status, "source": "JobEvent"})
    return JobEventOutput(
        job_name=name, job_status=status, outcome="sent" if sent else "stale", run_id=record.get("runId")
    )


def send_success(token: str, output: dict[str, Any]) -> bool:
    """SendTaskSuccess; False when the Task no longer waits for it."""
    try:
        with aws.transient_errors():
            aws.client("stepfunctions").send_task_success(taskToken=token, output=json.dumps(output))
    except ClientError as exc:
        if aws.error_code(exc) in STALE_TOKEN_ERRORS:
            return False
        raise
    return True
