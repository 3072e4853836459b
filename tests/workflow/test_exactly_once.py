"""Exactly once, and never fail for being busy (issue 8, items 1-3), on the local AWS with the real template, ASL
and handlers: several drops into one account, EventBridge redeliveries, and the local Bedrock's job quota."""

from __future__ import annotations

import json
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from moto.events.models import events_backends

from bedrock_finetune.config import METADATA_KEY
from bedrock_finetune.naming import run_id
from bedrock_finetune_local import runner, stack
from bedrock_finetune_local.aws import bedrock as local_bedrock

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
# Queue waits start at 1 s locally (the template's minimum), as the job and deployment polls do.
FAST_QUEUE = {"QueuePollInitialSeconds": "1"}
NO_DEPLOYMENT = {"deployment": {"mode": "none"}}


@dataclass
class Account:
    deployed: stack.Stack
    log_file: Path
    s3: Any
    sfn: Any

    def drop(self, key: str, body: bytes, config: dict[str, Any] | None = None) -> None:
        metadata = {METADATA_KEY: json.dumps(config)} if config else {}
        self.s3.put_object(Bucket=self.deployed.bucket, Key=key, Body=body, Metadata=metadata)

    def executions(self) -> list[dict[str, Any]]:
        return list(self.sfn.list_executions(stateMachineArn=self.deployed.state_machine_arn)["executions"])

    def wait_for_all(self, count: int, timeout: float = 150.0) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            executions = self.executions()
            if len(executions) >= count and all(item["status"] != "RUNNING" for item in executions):
                return executions
            time.sleep(0.2)
        raise AssertionError(f"executions still running after {timeout} s: {self.executions()}")

    def redeliver(self, execution_arn: str) -> None:
        """EventBridge delivers the execution's S3 event once more, through the inbox rule (as events.amazonaws.com
        against the starter's resource policy, like every delivery)."""
        event = json.loads(self.sfn.describe_execution(executionArn=execution_arn)["input"])
        rule_name = self.deployed.physical["InboxStarterFunctionInboxJsonl"]
        rule = events_backends[stack.ACCOUNT_ID][stack.REGION].event_buses["default"].rules[rule_name]
        rule.send_to_targets(event)

    def report(self, execution_arn: str) -> dict[str, Any]:
        key = f"reports/{run_id(execution_arn.rsplit(':', 1)[-1])}/report.json"
        return dict(json.loads(self.s3.get_object(Bucket=self.deployed.bucket, Key=key)["Body"].read()))

    def states(self, execution_arn: str) -> list[str]:
        events = self.sfn.get_execution_history(executionArn=execution_arn, maxResults=1000)["events"]
        return [e["stateEnteredEventDetails"]["name"] for e in events if e["type"].endswith("StateEntered")]

    def jobs(self) -> list[Any]:
        return list(local_bedrock.backend_for(stack.ACCOUNT_ID, stack.REGION).jobs.values())

    def notifications(self) -> list[str]:
        from moto.sns.models import sns_backends

        topic = sns_backends[stack.ACCOUNT_ID][stack.REGION].topics[self.deployed.topic_arn]
        return [str(item[2]) for item in topic.sent_notifications]

    def log_records(self) -> list[dict[str, Any]]:
        lines = self.log_file.read_text().splitlines()
        return [json.loads(line) for line in lines if line.startswith("{")]


@contextmanager
def local_account(
    *,
    job_quota: int = 2,
    job_duration_seconds: float | None = None,
    parameters: dict[str, str] | None = None,
    edit: Callable[[dict[str, Any]], None] | None = None,
) -> Iterator[Account]:
    options = runner.RunOptions(
        dataset=VALID, stack_parameters={**FAST_QUEUE, **(parameters or {})}, template_edit=edit
    )
    log_file = Path(tempfile.mkdtemp(prefix="exactly-once-")) / "lambda.log"
    with runner.local_aws_session(options, log_file) as deployed:
        local_bedrock.configure(
            local_bedrock.current_settings(), job_quota=job_quota, job_duration_seconds=job_duration_seconds
        )
        yield Account(
            deployed=deployed,
            log_file=log_file,
            s3=boto3.client("s3", region_name=stack.REGION),
            sfn=boto3.client("stepfunctions", region_name=stack.REGION),
        )


def variant(index: int) -> bytes:
    """The valid sample with its records rotated: a different dataset (another sha256), as valid as the sample."""
    lines = VALID.read_bytes().splitlines(keepends=True)
    return b"".join(lines[index:] + lines[:index])


def test_three_deliveries_of_one_drop_start_one_execution_and_one_job() -> None:
    with local_account() as account:
        # Given one drop into the inbox
        account.drop("inbox/support-chat.jsonl", VALID.read_bytes(), NO_DEPLOYMENT)
        (execution,) = account.executions()

        # When EventBridge delivers its event twice more: once while the run is running, once after it ended
        account.redeliver(execution["executionArn"])
        account.wait_for_all(1)
        account.redeliver(execution["executionArn"])

        # Then there is one execution, named after the object version, one job, and it SUCCEEDED
        (only,) = account.wait_for_all(1)
        assert only["status"] == "SUCCEEDED"
        assert len(account.jobs()) == 1
        # And nobody was told of a failure: one notification, the success
        assert account.notifications() == ["bedrock-finetune SUCCEEDED: support-chat.jsonl"]
        # And the starter saw the duplicates and started nothing for them
        starts = [r["message"] for r in account.log_records() if "InboxStarter" in str(r.get("function_name"))]
        assert len(starts) == 3
        assert sum("ExecutionAlreadyExists" in message for message in starts) == 1


def test_the_same_content_under_two_keys_trains_once_and_force_trains_again() -> None:
    with local_account() as account:
        # Given the same bytes dropped under two keys at the same moment
        body = VALID.read_bytes()
        account.drop("inbox/support-chat.jsonl", body, NO_DEPLOYMENT)
        account.drop("inbox/copy/support-chat-again.jsonl", body, NO_DEPLOYMENT)

        # When both runs end
        executions = account.wait_for_all(2)

        # Then both SUCCEEDED with one job between them
        assert [item["status"] for item in executions] == ["SUCCEEDED", "SUCCEEDED"], [
            account.sfn.describe_execution(executionArn=item["executionArn"]).get("cause") for item in executions
        ]
        assert len(account.jobs()) == 1
        reports = {item["executionArn"]: account.report(item["executionArn"]) for item in executions}
        trained = [arn for arn, report in reports.items() if "duplicateOf" not in report]
        duplicates = [arn for arn, report in reports.items() if "duplicateOf" in report]
        assert len(trained) == len(duplicates) == 1
        # And the duplicate's report names the run that trained and its model, and it created no job
        duplicate = reports[duplicates[0]]
        original = reports[trained[0]]
        assert duplicate["duplicateOf"] == original["runId"]
        assert duplicate["duplicate"]["model"]["name"] == original["model"]["name"]
        assert "CreateCustomizationJob" not in account.states(duplicates[0])
        assert duplicate["dataset"]["finalUri"].startswith(f"s3://{account.deployed.bucket}/processed/")
        # And its notice says so (either drop may be the one that claimed first: both arrive at the same moment)
        name = {arn: report["dataset"]["source"].rsplit("/", 1)[-1] for arn, report in reports.items()}
        assert sorted(account.notifications()) == sorted(
            [
                f"bedrock-finetune SUCCEEDED (already trained, not trained again): {name[duplicates[0]]}",
                f"bedrock-finetune SUCCEEDED: {name[trained[0]]}",
            ]
        )

        # When the same content is dropped again with "force": true
        account.drop("inbox/forced.jsonl", body, {**NO_DEPLOYMENT, "force": True})
        forced = next(item for item in account.wait_for_all(3) if item["name"].startswith("forced-"))

        # Then it trains: a second job, and its report says it was forced
        assert forced["status"] == "SUCCEEDED"
        assert len(account.jobs()) == 2
        assert account.report(forced["executionArn"])["forced"] is True


def test_five_datasets_at_once_with_a_quota_of_two_all_succeed_in_drop_order() -> None:
    # Jobs of 2 simulated hours: the first two are still training while the others reach the queue
    with local_account(job_quota=2, job_duration_seconds=7200) as account:
        # Given five different datasets dropped at once and Bedrock's concurrent job quota of 2
        keys = [f"inbox/dataset-{index}.jsonl" for index in range(5)]
        for index, key in enumerate(keys):
            account.drop(key, variant(index), NO_DEPLOYMENT)

        # When every run has ended
        executions = account.wait_for_all(5)

        # Then all five SUCCEEDED
        assert [item["status"] for item in executions] == ["SUCCEEDED"] * 5
        jobs = account.jobs()
        assert len(jobs) == 5
        # And never more than 2 jobs ran at once (each job runs from its creation to its end)
        spans = [(job.creation_time, job.end_time) for job in jobs]
        assert all(end is not None for _, end in spans)
        most = max(sum(1 for start, end in spans if start <= moment < end) for moment, _ in spans)
        assert most == 2
        # And every job was created in drop order: each run holds its place in the queue from ResolveConfig on, so a
        # later drop never overtakes an earlier one that is still validating or staging its dataset
        created = sorted(jobs, key=lambda job: job.creation_time)
        assert [keys.index(_source_key(job)) for job in created] == [0, 1, 2, 3, 4]
        waiting_runs = {
            record["run_id"]
            for record in account.log_records()
            if record.get("message") == "waiting for a training job slot"
        }
        # And the quota was reached, answered ServiceQuotaExceededException, and that meant waiting, never failure
        waits = [r for r in account.log_records() if r.get("message") == "waiting for a training job slot"]
        assert any(record["reason"] == "quota" for record in waits)
        # And each run that waited shows it: the WaitForTrainingCapacity state, and the wait in its report
        assert len(waiting_runs) >= 3
        for item in executions:
            if run_id(item["name"]) in waiting_runs:
                assert "WaitForTrainingCapacity" in account.states(item["executionArn"])
                queue = account.report(item["executionArn"])["queue"]
                assert set(queue) >= {"waitedSeconds", "position"}
        assert all("FAILED" not in subject for subject in account.notifications())


def test_a_run_that_waits_longer_than_the_queue_timeout_fails_cleanly() -> None:
    def short_queue_timeout(cfn: dict[str, Any]) -> None:
        # 3.6 s: below the template's MinValue (1 h), which only a test may do
        variables = cfn["Resources"]["CreateCustomizationJobFunction"]["Properties"]["Environment"]["Variables"]
        variables["TRAINING_QUEUE_TIMEOUT_HOURS"] = "0.001"

    # (jobs of 30 simulated days: the other team's job holds the only slot for the whole test)
    with local_account(job_quota=1, edit=short_queue_timeout, job_duration_seconds=30 * 86400) as account:
        # Given the only job slot taken by a job outside this stack that does not end
        bedrock = boto3.client("bedrock", region_name=stack.REGION)
        account.s3.put_object(Bucket=account.deployed.bucket, Key="elsewhere/train.jsonl", Body=VALID.read_bytes())
        bedrock.create_model_customization_job(
            jobName="another-team",
            customModelName="another-team-model",
            roleArn="arn:aws:iam::123456789012:role/another-team",
            baseModelIdentifier="amazon.nova-micro-v1:0:128k",
            trainingDataConfig={"s3Uri": f"s3://{account.deployed.bucket}/elsewhere/train.jsonl"},
            outputDataConfig={"s3Uri": f"s3://{account.deployed.bucket}/elsewhere/out/"},
            hyperParameters={},
        )

        # When a dataset is dropped
        account.drop("inbox/support-chat.jsonl", VALID.read_bytes(), NO_DEPLOYMENT)
        (execution,) = account.wait_for_all(1, timeout=60)

        # Then it waited for a slot, then failed with TrainingQueueTimedOut through Cleanup
        states = account.states(execution["executionArn"])
        assert "WaitForTrainingCapacity" in states
        assert states[-3:] == ["Cleanup", "NotifyFailure", "Failed"]
        described = account.sfn.describe_execution(executionArn=execution["executionArn"])
        assert described["error"] == "TrainingQueueTimedOut"
        report = account.report(execution["executionArn"])
        assert report["cleanup"]["complete"] is True
        assert any("released the training claim" in action for action in report["cleanup"]["actions"])
        assert account.notifications() == ["bedrock-finetune FAILED (TrainingQueueTimedOut): support-chat.jsonl"]
        # And it created no job; only the other team's job runs
        assert [job.name for job in account.jobs()] == ["another-team"]

        # When the same content is dropped again after the slot freed
        local_bedrock.configure(local_bedrock.current_settings(), job_quota=2, job_duration_seconds=None)
        account.drop("inbox/retry.jsonl", VALID.read_bytes(), NO_DEPLOYMENT)
        retried = next(item for item in account.wait_for_all(2) if item["name"].startswith("retry-"))

        # Then the released claim lets it train
        assert retried["status"] == "SUCCEEDED"
        assert "duplicateOf" not in account.report(retried["executionArn"])


def _source_key(job: Any) -> str:
    return next(tag["value"] for tag in job.request["jobTags"] if tag["key"] == "source-key")


def _run_of(job: Any) -> str:
    return next(tag["value"] for tag in job.request["jobTags"] if tag["key"] == "run-id")
