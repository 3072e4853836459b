"""Cleanup that cannot be derailed and never lies (issue 7, item 5): the real ASL and handlers on local AWS."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import boto3
import pytest

from bedrock_finetune.errors import TRANSIENT_ERROR_NAMES
from bedrock_finetune.handlers.notify import NOTIFY_RETRIES
from bedrock_finetune.logic.outcome import CLEANUP_RETRIES
from bedrock_finetune_local import runner, stack
from bedrock_finetune_local.aws import faults as local_faults
from bedrock_finetune_local.clock import CLOCK

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
ASL = json.loads((ROOT / "statemachine" / "finetune.asl.json").read_text())
PROVISIONED = {"deployment": {"mode": "provisioned", "modelUnits": 1}}


def run(**kwargs: Any) -> runner.RunResult:
    kwargs.setdefault("dataset", VALID)
    return runner.run(runner.RunOptions(**kwargs))


def running(result: runner.RunResult) -> list[dict[str, Any]]:
    return [
        *result.resources["provisioned_throughputs"],
        *result.resources["custom_model_deployments"],
        *result.resources["jobs_in_progress"],
    ]


# --- the ASL ---------------------------------------------------------------------------------------------------------
def lambda_tasks() -> dict[str, dict[str, Any]]:
    # Tasks whose Resource is one of our functions (an optimized integration such as sns:publish is not a Lambda)
    return {
        name: state
        for name, state in ASL["States"].items()
        if state["Type"] == "Task" and str(state.get("Resource", "")).endswith("FunctionArn}")
    }


@pytest.mark.parametrize("name", sorted(lambda_tasks()))
def test_every_lambda_task_retries_client_execution_timeouts_with_the_other_lambda_errors(name: str) -> None:
    # Given a Lambda Task of the state machine
    retried = {error for retrier in lambda_tasks()[name].get("Retry", []) for error in retrier["ErrorEquals"]}

    # Then the Invoke call timing out is retried like the other transient Lambda service errors
    assert "Lambda.ClientExecutionTimeoutException" in retried
    assert set(TRANSIENT_ERROR_NAMES) <= retried


@pytest.mark.parametrize(
    ("name", "retries"),
    [("Cleanup", CLEANUP_RETRIES), ("NotifySuccess", NOTIFY_RETRIES), ("NotifyFailure", NOTIFY_RETRIES)],
)
def test_the_last_retry_that_the_handlers_expect_is_the_asls(name: str, retries: int) -> None:
    # Given a step that gives up (reports leftovers, counts a failed notification) only on its last retry
    state = ASL["States"][name]
    (retrier,) = [r for r in state["Retry"] if "TransientAwsError" in r["ErrorEquals"]]

    # Then the ASL passes the retry count and retries exactly as often as the handler assumes
    assert state["Parameters"]["attempt.$"] == "$$.State.RetryCount"
    assert retrier["MaxAttempts"] == retries


# --- SNS throttling -------------------------------------------------------------------------------------------------
def test_sns_throttling_with_its_own_code_is_retried_and_the_run_succeeds() -> None:
    # Given SNS answering Publish with "Throttled" (ThrottledException's wire code) more often than one attempt takes
    fault = "sns:Publish=Throttled*3"

    # When the workflow runs
    result = run(faults=[fault])

    # Then NotifySuccess was retried and the run succeeded with one notification
    assert result.status == "SUCCEEDED", result.error
    line = next(line for line in result.timeline if line.name == "NotifySuccess")
    assert line.outcome.startswith("retried"), line
    assert len(result.notifications) == 1
    assert result.dataset_uri is not None
    assert "/processed/" in result.dataset_uri


# --- a settled outcome is never undone ---------------------------------------------------------------------------
def test_a_success_notification_that_cannot_be_sent_undoes_nothing_and_is_counted() -> None:
    # Given a run that keeps its provisioned throughput, and SNS refusing every Publish (a permanent error)
    config = {"deployment": {"mode": "provisioned", "keep": True}}

    # When the workflow runs
    result = run(config=config, faults=["sns:Publish=AuthorizationError"])

    # Then the execution says what happened: the run succeeded but nobody could be told
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "NotificationFailed"
    assert "the run SUCCEEDED" in result.error["cause"]
    # And nothing was undone: the kept throughput runs, the report says SUCCEEDED, the dataset is in processed/
    assert [item["status"] for item in result.resources["provisioned_throughputs"]] == ["InService"]
    assert result.report is not None
    assert result.report["outcome"] == "SUCCEEDED"
    assert result.report["deployment"]["kept"] is True
    assert result.dataset_uri is not None
    assert "/processed/" in result.dataset_uri
    # And each notification given up was logged with its code and counted (EMF)
    records = [json.loads(line) for line in Path(result.log_file).read_text().splitlines() if line.startswith("{")]
    failures = [r for r in records if r.get("message") == "notification failed"]
    assert failures
    assert {r["error_code"] for r in failures} == {"AuthorizationError"}
    assert all(r["NotificationFailures"] == [1.0] for r in failures)
    assert all(r["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "BedrockFinetune" for r in failures)


# --- what the state names first; failing discovery; conflicts -------------------------------------------------------
def test_a_denied_list_call_does_not_stop_cleanup_and_the_notification_says_what_was_not_checked() -> None:
    # Given a provisioned deployment whose smoke test fails, and Cleanup's ListProvisionedModelThroughputs denied
    fault = "bedrock:ListProvisionedModelThroughputs=AccessDeniedException*1"

    # When the workflow runs
    result = run(via="console", config=PROVISIONED, runtime_answer="empty", faults=[fault])

    # Then the throughput named in the state was deleted anyway and nothing runs
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "SmokeTestFailed"
    assert running(result) == []
    assert result.report is not None
    assert any(action.startswith("deleted provisioned") for action in result.report["cleanup"]["actions"])
    # And the report and the notification say which kind could not be checked, with the command that checks it
    (unchecked,) = result.report["cleanup"]["leftovers"]
    assert unchecked["state"] == "not checked"
    assert "list-provisioned-model-throughputs --name-contains" in unchecked["command"]
    (text,) = result.notification_messages
    assert "NOT CHECKED" in text
    assert "Deployment (provisioned, 1 model unit(s), deleted)" in text


def test_a_throughput_still_creating_when_the_run_fails_is_waited_for_and_deleted() -> None:
    # Given a run whose first deployment poll is denied while the throughput is still Creating (the local Bedrock
    # then answers ConflictException to its Delete, until a poll sees it InService)
    fault = "bedrock:GetProvisionedModelThroughput=AccessDeniedException*1"

    # When the workflow runs
    result = run(via="console", config=PROVISIONED, faults=[fault])

    # Then Cleanup waited for it and deleted it: nothing runs, and the report says so
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "AccessDeniedException"
    assert running(result) == []
    assert result.report is not None
    assert result.report["cleanup"]["complete"] is True
    assert result.report["deployment"]["deleted"] is True


def test_an_incomplete_cleanup_is_notified_with_every_leftover_and_the_dataset_location() -> None:
    # Given a failing smoke test on provisioned throughput that Bedrock refuses to delete
    fault = "bedrock:DeleteProvisionedModelThroughput=ValidationException"

    # When the workflow runs
    result = run(config=PROVISIONED, runtime_answer="empty", faults=[fault])

    # Then the run failed with its own error, and the throughput is still there
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "SmokeTestFailed"
    (left,) = result.resources["provisioned_throughputs"]
    # And report.json names it with its state, cost and the command that deletes it
    assert result.report is not None
    (item,) = result.report["cleanup"]["leftovers"]
    assert (item["arn"], item["state"]) == (left["arn"], "InService")
    assert "bills hourly per model unit" in item["cost"]
    assert item["command"].startswith(
        f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {left['arn']}"
    )
    # And so does the one notification, with the dataset's real location, never calling the throughput deleted
    (text,) = result.notification_messages
    assert f"LEFT RUNNING, delete by hand: provisioned-throughput {left['arn']}" in text
    assert item["command"] in text
    assert "Dataset now at: None" not in text
    assert f"Dataset now at: s3://{result.bucket}/failed/" in text
    assert ", deleted)" not in text


# --- FAILED executions reach the recovery path ---------------------------------------------------------------------
def test_an_execution_that_fails_without_its_cleanup_is_cleaned_up_by_the_recovery_path(tmp_path: Path) -> None:
    # Given a run whose job is running, and then every Lambda invoke of the execution failing with an error the
    # ASL neither retries nor can route to a working Cleanup (PollJob, Cleanup and NotifyFailure each fail once):
    # the execution ends FAILED without its Cleanup, as it would after States.Runtime
    options = runner.RunOptions(dataset=VALID, job_duration_seconds=30 * 86400)
    with runner.local_aws_session(options, tmp_path / "lambda.log") as deployed:
        s3 = boto3.client("s3", region_name=stack.REGION)
        sfn = boto3.client("stepfunctions", region_name=stack.REGION)
        bedrock = boto3.client("bedrock", region_name=stack.REGION)
        deadline = time.monotonic() + 60
        # Simulated time stands still until the faults are in place: the run is waiting for its job's end then.
        with CLOCK.busy():
            s3.put_object(Bucket=deployed.bucket, Key="inbox/support-chat.jsonl", Body=VALID.read_bytes())
            while not bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]:
                assert time.monotonic() < deadline
                time.sleep(0.05)
            fault = local_faults.Fault.parse("lambda:Invoke=ResourceNotFoundException*3")
            faults = local_faults.inject_faults([fault])
            faults.__enter__()
        try:
            (execution,) = sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"]
            while sfn.describe_execution(executionArn=execution["executionArn"])["status"] == "RUNNING":
                assert time.monotonic() < deadline
                time.sleep(0.05)
        finally:
            faults.__exit__(None, None, None)
        status = sfn.describe_execution(executionArn=execution["executionArn"])["status"]
        time.sleep(0.5)  # the recovery function runs on the status change event
        jobs = bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"]

    # Then the execution FAILED, and the recovery path stopped the job
    assert status == "FAILED"
    assert [job["status"] for job in jobs] in (["Stopping"], ["Stopped"])
