"""The real statemachine/finetune.asl.json with the real handlers on local AWS, one test per path.

Every failure path asserts the same invariants: no throughput, deployment or running job is left, the dataset is
kept (moved to failed/ with a report next to it), and a notification was sent.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune_local import runner

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
BROKEN = ROOT / "events" / "datasets" / "support-chat-broken.jsonl"


def run(**kwargs: Any) -> runner.RunResult:
    kwargs.setdefault("dataset", VALID)
    return runner.run(runner.RunOptions(**kwargs))


def assert_nothing_running(result: runner.RunResult) -> None:
    assert result.resources["provisioned_throughputs"] == []
    assert result.resources["custom_model_deployments"] == []
    assert result.resources["jobs_in_progress"] == []


def assert_failed_cleanly(result: runner.RunResult, error: str) -> dict[str, Any]:
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == error
    assert result.states[-3:] == ["Cleanup", "NotifyFailure", "Failed"]
    assert_nothing_running(result)
    assert result.dataset_uri is not None
    assert "/failed/" in result.dataset_uri
    assert len(result.notifications) == 1
    assert f"FAILED ({error})" in result.notifications[0]
    assert result.report is not None
    assert result.report["outcome"] == "FAILED"
    return result.report


def test_happy_path_via_inbox_trains_deploys_smoke_tests_and_releases() -> None:
    # Given the valid sample dropped into inbox/ with the stack defaults (Nova Micro, auto → on-demand, keep false)
    # When the EventBridge rule starts the state machine
    result = run()

    # Then every step ran in order and the run succeeded
    assert result.status == "SUCCEEDED", result.error
    expected_order = [
        "ResolveConfig",
        "RetrainRequested",
        "ValidateDataset",
        "StageDataset",
        "ClaimTraining",
        "AlreadyTrained",
        "SweepRequested",
        "CreateCustomizationJob",
        "TrainingStarted",
        "JobCreated",
        "AwaitJobEnd",
    ]
    assert result.states[: len(expected_order)] == expected_order
    # The job's end was heard (its state change event), then read once: no polling loop
    assert result.states.count("PollJob") == 1
    tail = [
        "SmokeTest",
        "SwapRequested",
        "KeepDeployment",
        "ReleaseDeployment",
        "Finalize",
        "NotifySuccess",
        "Succeeded",
    ]
    assert result.states[-len(tail) :] == tail
    # And the dataset moved to processed/, the report names the model, losses and smoke test
    assert result.dataset_uri is not None
    assert "/processed/" in result.dataset_uri
    report = result.report
    assert report is not None
    assert report["outcome"] == "SUCCEEDED"
    assert report["model"]["arn"].startswith("arn:aws:bedrock:")
    assert report["metrics"]["trainingLoss"] is not None
    assert report["metrics"]["trainingCsv"]["rows"] > 0
    assert report["metrics"]["validationCsv"]["rows"] > 0
    assert report["deployment"]["mode"] == "on-demand"
    assert report["deployment"]["kept"] is False
    assert report["smokeTest"]["answered"] == report["smokeTest"]["prompts"] == 3
    # And nothing is left running (keep false), the custom model remains, one success notification
    assert_nothing_running(result)
    assert len(result.resources["custom_models"]) == 1
    assert len(result.notifications) == 1
    assert "SUCCEEDED" in result.notifications[0]


def test_happy_path_via_console_keeps_the_provisioned_deployment(tmp_path: Path) -> None:
    # Given a console start asking for provisioned throughput that is kept
    config = {"deployment": {"mode": "provisioned", "modelUnits": 1, "keep": True}, "smokeTest": {"count": 2}}

    # When the execution starts from the console input
    result = run(via="console", config=config)

    # Then it succeeded without a ReleaseDeployment and the kept throughput is the only thing still running
    assert result.status == "SUCCEEDED", result.error
    assert "ReleaseDeployment" not in result.states
    assert [item["status"] for item in result.resources["provisioned_throughputs"]] == ["InService"]
    assert result.resources["custom_model_deployments"] == []
    assert result.resources["jobs_in_progress"] == []
    assert result.report is not None
    assert result.report["deployment"]["kept"] is True
    assert result.report["deployment"]["modelUnits"] == 1
    assert result.report["smokeTest"]["prompts"] == 2
    # And a console dataset outside inbox/ is left where it was
    assert result.dataset_uri is not None
    assert result.dataset_uri.endswith("/uploads/support-chat.jsonl")


def test_invalid_dataset_never_creates_a_job_and_is_quarantined_with_its_report() -> None:
    # Given the broken sample dropped into inbox/
    # When the workflow runs
    result = run(dataset=BROKEN)

    # Then it fails in ValidateDataset, goes through Cleanup, and no job was ever created
    report = assert_failed_cleanly(result, "DatasetInvalid")
    assert "CreateCustomizationJob" not in result.states
    assert result.jobs_created == 0
    assert result.resources["custom_models"] == []
    # And the report next to the dataset in failed/ has the errors with their line numbers
    errors = report["validation"]["errors"]
    assert errors
    assert all(isinstance(item["line"], int) or item["line"] is None for item in errors)
    assert any(item["line"] is not None for item in errors)
    assert report["validation"]["errorCounts"]
    # And the notification carries file:line and codes (never content)
    assert result.error is not None
    assert "support-chat-broken.jsonl:" in result.error["cause"]


@pytest.mark.parametrize(("outcome", "error"), [("Failed", "JobFailed"), ("Stopped", "JobStopped")])
def test_job_ending_badly_is_cleaned_up(outcome: str, error: str) -> None:
    # Given a training job that ends as Failed / Stopped
    # When the workflow polls it
    result = run(job_outcome=outcome)

    # Then the run fails with that error, no deployment was made, and nothing is left
    report = assert_failed_cleanly(result, error)
    assert "DeployModel" not in result.states
    assert report["job"]["status"] == outcome


def test_throttled_provisioned_throughput_is_retried_then_succeeds() -> None:
    # Given CreateProvisionedModelThroughput throttles its first 3 calls (more than the client's own retries)
    config = {"deployment": {"mode": "provisioned"}}

    # When the workflow deploys
    result = run(
        via="console", config=config, faults=["bedrock:CreateProvisionedModelThroughput=ThrottlingException*3"]
    )

    # Then the state machine retried DeployModel and the run succeeded with exactly one throughput, released
    assert result.status == "SUCCEEDED", result.error
    deploy = next(line for line in result.timeline if line.name == "DeployModel")
    assert deploy.outcome.startswith("retried")
    assert "TransientAwsError" in deploy.detail
    assert result.faults_fired["bedrock:CreateProvisionedModelThroughput=ThrottlingException*3"] == 3
    assert_nothing_running(result)


def test_failed_deployment_is_deleted() -> None:
    # Given a deployment that ends as Failed
    # When the workflow polls it
    result = run(deploy_outcome="Failed")

    # Then the run fails with DeploymentFailed and the failed deployment was deleted
    report = assert_failed_cleanly(result, "DeploymentFailed")
    assert "SmokeTest" not in result.states
    assert any(action.startswith("deleted") for action in report["cleanup"]["actions"])


def test_failing_smoke_test_deletes_the_kept_deployment() -> None:
    # Given a deployed model that answers with empty text, and keep true
    config = {"deployment": {"keep": True}}

    # When the smoke test runs
    result = run(via="console", config=config, runtime_answer="empty")

    # Then the run fails with SmokeTestFailed and the deployment is gone despite keep
    assert result.status == "FAILED"
    assert result.error is not None
    assert result.error["error"] == "SmokeTestFailed"
    assert_nothing_running(result)
    assert result.states[-3:] == ["Cleanup", "NotifyFailure", "Failed"]


def test_invalid_per_file_configuration_fails_before_anything_is_created() -> None:
    # Given an inbox drop whose metadata override names an unknown field and a bad deployment mode
    config = {"deployment": {"mode": "sideways"}}

    # When the workflow starts
    result = run(config=config)

    # Then ResolveConfig rejects it naming the field, and the dataset is quarantined
    report = assert_failed_cleanly(result, "ConfigInvalid")
    assert result.states[0] == "ResolveConfig"
    assert "ValidateDataset" not in result.states
    assert result.error is not None
    assert "deployment.mode" in result.error["cause"]
    assert report["cleanup"]["actions"]


@pytest.mark.parametrize("key", ["inbox/notes.txt", "elsewhere/support-chat.jsonl", "inbox/data.jsonl.bak"])
def test_objects_that_are_not_inbox_jsonl_start_nothing(key: str) -> None:
    # Given an object that is not a .jsonl under inbox/
    # When it is uploaded
    result = run(key=key)

    # Then no execution starts and the object stays where it is
    assert result.status == "NO_EXECUTION"
    assert result.states == []
    assert result.dataset_uri is not None
    assert result.dataset_uri.endswith(key)


def test_lambda_logs_carry_ids_and_never_dataset_content() -> None:
    # Given a run of the valid sample
    result = run()
    assert result.status == "SUCCEEDED"

    # When the Lambda logs are read
    logs = Path(result.log_file).read_text()
    records = [json.loads(line) for line in logs.splitlines() if line.startswith("{")]

    # Then every step logged with the run's ids (the scheduled functions, the reconciler's sweep after the run and
    # the Price List refresh before it, belong to no run), and no text of any record appears
    assert records
    scheduled = ("ReconcileFunction", "RefreshPricesFunction")
    steps = [record for record in records if not any(name in str(record.get("function_name")) for name in scheduled)]
    assert all("run_id" in record for record in steps if record.get("message") != "step failed")
    dataset_texts = set()
    for line in VALID.read_text().splitlines():
        record = json.loads(line)
        for message in record["messages"]:
            for block in message["content"]:
                if len(block.get("text", "")) > 20:
                    dataset_texts.add(block["text"][:40])
    assert dataset_texts
    assert not [text for text in dataset_texts if text in logs]


@pytest.mark.parametrize(
    ("fault", "state", "config"),
    [
        ("s3:CopyObject=InternalError*3", "StageDataset", {"validationSplitPercent": 0}),
        ("bedrock-runtime:Converse=ServiceUnavailableException*3", "SmokeTest", {}),
        ("bedrock:GetModelCustomizationJob=ThrottlingException*3", "AwaitJobEnd", {}),
    ],
)
def test_transient_errors_in_any_step_are_retried(fault: str, state: str, config: dict[str, Any]) -> None:
    # Given an AWS call that fails transiently more often than the client retries
    # When the workflow runs
    result = run(via="console", config=config, faults=[fault])

    # Then the state machine retried that step with backoff and the run succeeded
    assert result.status == "SUCCEEDED", result.error
    line = next(line for line in result.timeline if line.name == state and line.outcome != "ok")
    assert line.outcome.startswith("retried")
    assert result.faults_fired[fault] == 3


def test_a_rejected_job_request_is_caught_into_cleanup() -> None:
    # Given Bedrock refusing the job (e.g. a service control policy denies it)
    fault = "bedrock:CreateModelCustomizationJob=AccessDeniedException"

    # When the workflow runs
    result = run(faults=[fault])

    # Then the run fails with Bedrock's error code, cleanly, and no job exists
    assert_failed_cleanly(result, "AccessDeniedException")
    assert result.jobs_created == 0


def test_an_execution_stopped_by_hand_is_still_cleaned_up() -> None:
    # Given a 10-hour job and a run stopped from outside 2 simulated hours in (StopExecution, as a person would in
    # the console): no Catch runs for an aborted execution
    result = run(job_duration_seconds=10 * 3600, stop_after_seconds=2 * 3600)

    # Then the status-change rule ran the aborted-run cleanup: the job is being stopped, the dataset is in failed/,
    # and a notification says the run was aborted
    assert result.status == "ABORTED"
    assert all(job["status"] == "Stopping" for job in result.resources["jobs_in_progress"])
    assert result.resources["provisioned_throughputs"] == []
    assert result.resources["custom_model_deployments"] == []
    assert result.dataset_uri is not None
    assert "/failed/" in result.dataset_uri
    assert any("FAILED (ExecutionAborted)" in subject for subject in result.notifications)
