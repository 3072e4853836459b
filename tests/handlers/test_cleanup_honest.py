"""Cleanup cannot be derailed and never lies (issue 7, item 5), at the logic and handler level under moto.

* what the state names is handled first and on its own; a failing List call never stops the rest;
* ConflictException while a resource is Creating waits (on the local AWS's clock) and retries, bounded;
* every leftover has its ARN, state, cost and the one command that removes it, in report.json and the notification;
* once Finalize settled the outcome nothing is undone; a notification given up is logged and counted (EMF);
* the recovery path cleans up FAILED executions (States.Runtime...) once, and running it twice changes nothing.
"""

from __future__ import annotations

import io
import json
import logging
from typing import Any

import pytest

from bedrock_finetune import aws, naming
from bedrock_finetune.errors import NotificationFailed, TransientAwsError
from bedrock_finetune.handlers import notify as notify_handler
from bedrock_finetune.logic import outcome, reporting
from bedrock_finetune.models import (
    CaughtError,
    DeploymentInfo,
    ExecutionContext,
    ExecutionStatusChange,
    JobInfo,
    RunState,
)
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.aws.faults import Fault, inject_faults
from bedrock_finetune_local.clock import CLOCK

from .conftest import BUCKET, EXECUTION_ARN, Account
from .test_cleanup import create_job_and_throughput

INBOX_KEY = "inbox/orders.jsonl"
#: A job that does not end during a test: it would take 30 days.
RUNNING_JOB_SECONDS = 30 * 86400.0


@pytest.fixture(autouse=True)
def no_sleeping(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Busy waits record their pauses and move the simulated clock by them instead of sleeping (the pauses are
    asserted where they matter)."""
    pauses: list[float] = []
    monkeypatch.setattr(aws.BusyWait, "__init__", _fast_init(aws.BusyWait.__init__, pauses))
    return pauses


def _fast_init(original: Any, pauses: list[float]) -> Any:
    def sleep(seconds: float) -> None:
        pauses.append(seconds)
        CLOCK.advance(seconds)

    def init(self: aws.BusyWait, *args: Any, **kwargs: Any) -> None:
        kwargs["sleep"] = sleep
        original(self, *args, **kwargs)

    return init


def deploy_time_passes() -> None:
    """The time a throughput created now takes to settle: the scenario's deploy_seconds."""
    CLOCK.advance(local_bedrock.current_settings().deploy_seconds)


def throughput_state(account: Account, arn: str, units: int = 1) -> RunState:
    described = account.bedrock.get_provisioned_model_throughput(provisionedModelId=arn)
    info = DeploymentInfo(
        mode="provisioned",
        arn=arn,
        name=described["provisionedModelName"],
        model_arn=described["modelArn"],
        model_units=units,
    )
    return RunState(deployment=info, error={"Error": "SmokeTestFailed", "Cause": "0 of 3 answered"})  # type: ignore[arg-type]


def inbox_execution(account: Account) -> ExecutionContext:
    version = account.put(INBOX_KEY, b"data\n")
    event = {
        "source": "aws.s3",
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": BUCKET}, "object": {"key": INBOX_KEY, "version-id": version}},
    }
    return ExecutionContext(Id=EXECUTION_ARN, Name="run-0001", Input=event)


def throughputs(account: Account) -> list[dict[str, Any]]:
    return list(account.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"])


def read(account: Account, key: str) -> dict[str, Any]:
    return dict(json.loads(account.s3.get_object(Bucket=BUCKET, Key=key)["Body"].read()))


# --- what the state names first; discovery failures never stop the rest -------------------------------------------
@pytest.mark.parametrize(
    "operation", ["ListModelCustomizationJobs", "ListProvisionedModelThroughputs", "ListCustomModelDeployments"]
)
def test_a_failing_list_call_never_stops_the_deletion_of_what_the_state_names(account: Account, operation: str) -> None:
    # Given an InService throughput named in the state, and one discovery call that Cleanup may not make
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    deploy_time_passes()  # → InService
    state = throughput_state(account, throughput)

    # When Cleanup runs with that List call denied
    with inject_faults([Fault.parse(f"bedrock:{operation}=AccessDeniedException")]):
        result = outcome.cleanup(state, inbox_execution(account), account.settings)

    # Then the throughput is deleted anyway, the dataset quarantined, and the unchecked kind is a leftover with the
    # command that finds it (not a claim that nothing is left)
    assert f"deleted provisioned {throughput}" in result.actions
    assert throughputs(account) == []
    assert result.dataset_uri == f"s3://{BUCKET}/failed/run-0001/orders.jsonl"
    assert result.complete is False
    (unchecked,) = result.leftovers
    assert (unchecked.arn, unchecked.state) == (None, "not checked")
    assert f"--name-contains {naming.run_hash(EXECUTION_ARN)}" in unchecked.command
    assert "AccessDeniedException" in unchecked.reason


def test_a_running_job_named_in_the_state_is_stopped_even_when_every_list_call_fails(account: Account) -> None:
    # Given a job still running, named in the state, and every discovery call denied
    running, _ = create_job_and_throughput(account, EXECUTION_ARN)
    state = RunState(job=JobInfo(job_arn=running, job_name="x", model_name="m", output_s3_uri="s3://b/o/"))
    faults = [
        Fault.parse(f"bedrock:{op}=AccessDeniedException")
        for op in ("ListModelCustomizationJobs", "ListProvisionedModelThroughputs", "ListCustomModelDeployments")
    ]

    # When Cleanup runs
    with inject_faults(faults):
        result = outcome.cleanup(state, account.execution, account.settings)

    # Then the job is stopped and the three unchecked kinds are reported as such
    assert f"stopped job {running}" in result.actions
    assert account.bedrock.get_model_customization_job(jobIdentifier=running)["status"] in {"Stopping", "Stopped"}
    assert sorted(item.kind for item in result.leftovers if item.arn is None) == [
        "custom-model-deployment",
        "model-customization-job",
        "provisioned-throughput",
    ]


# --- ConflictException while Creating --------------------------------------------------------------------------------
def test_deleting_a_throughput_that_is_still_creating_waits_then_deletes_it(
    account: Account, no_sleeping: list[float]
) -> None:
    # Given a throughput that takes 5 minutes to create (well within Cleanup's wait budget), just created (the local
    # Bedrock answers ConflictException to a Delete while it is Creating, as botocore's model allows)
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    local_bedrock.configure(deploy_seconds=300)
    _, creating = create_job_and_throughput(account, "arn:aws:states:us-east-1:123456789012:execution:finetune:r2")
    execution = ExecutionContext(Id="arn:aws:states:us-east-1:123456789012:execution:finetune:r2", Name="r2")
    assert account.bedrock.get_provisioned_model_throughput(provisionedModelId=creating)["status"] == "Creating"

    # When Cleanup deletes it
    result = outcome.cleanup(RunState(), execution, account.settings)

    # Then it waited until the throughput was created, no longer, and deleted it
    assert f"deleted provisioned {creating}" in result.actions
    assert [t["provisionedModelArn"] for t in throughputs(account)] == [throughput]
    assert result.complete is True
    assert no_sleeping, "Cleanup should have paused between the conflict and the retry"
    assert sum(no_sleeping) >= 300
    assert sum(no_sleeping[:-1]) < 300


def test_a_throughput_that_stays_creating_is_retried_then_reported_with_state_cost_and_command(
    account: Account,
) -> None:
    # Given a throughput named in the state that stays Creating for longer than Cleanup waits (a day)
    local_bedrock.configure(deploy_seconds=86400)
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    state = throughput_state(account, throughput, units=2)
    execution = inbox_execution(account)

    # When Cleanup runs before the state machine's last retry, Then it asks to be retried (after writing its report)
    with pytest.raises(TransientAwsError, match="still Creating"):
        outcome.cleanup(state, execution, account.settings, attempt=0)
    assert read(account, "reports/run-0001/cleanup.json")["complete"] is False

    # When it runs on the last retry
    result = outcome.cleanup(state, execution, account.settings, attempt=outcome.CLEANUP_RETRIES)

    # Then it returns the leftover with its ARN, state, what it costs and the command that deletes it
    (left,) = result.leftovers
    assert (left.kind, left.arn, left.state) == ("provisioned-throughput", throughput, "Creating")
    assert "bills hourly per model unit" in left.cost
    assert left.command == (
        f"aws bedrock delete-provisioned-model-throughput --provisioned-model-id {throughput} --region us-east-1"
    )
    # And report.json (and its copy next to the dataset) says the same, and never calls the throughput deleted
    for key in ("reports/run-0001/report.json", "failed/run-0001/report.json"):
        report = read(account, key)
        assert report["cleanup"]["leftovers"][0]["command"] == left.command
        assert report["deployment"]["deleted"] is False
    # And so does the notification
    text = reporting.message(result.report)
    assert f"LEFT RUNNING, delete by hand: provisioned-throughput {throughput} (state: Creating" in text
    assert left.command in text
    assert "NOT deleted" in text
    assert f"Dataset now at: s3://{BUCKET}/failed/run-0001/orders.jsonl" in text


def test_a_conflicting_job_stop_is_retried(account: Account) -> None:
    # Given a running job of this run (one that does not end during the test) whose first Stop answers
    # ConflictException
    create_job_and_throughput(account, EXECUTION_ARN)
    local_bedrock.configure(job_duration_seconds=RUNNING_JOB_SECONDS)
    name = naming.resource_name("slow", EXECUTION_ARN, prefix="ft-")
    running = account.bedrock.create_model_customization_job(
        jobName=name,
        customModelName=name.removeprefix("ft-"),
        roleArn="arn:aws:iam::123456789012:role/bedrock-service",
        baseModelIdentifier="amazon.nova-micro-v1:0:128k",
        trainingDataConfig={"s3Uri": f"s3://{BUCKET}/datasets/abc/train.jsonl"},
        outputDataConfig={"s3Uri": f"s3://{BUCKET}/outputs/run/"},
    )["jobArn"]

    # When Cleanup runs
    with inject_faults([Fault.parse("bedrock:StopModelCustomizationJob=ConflictException*1")]) as log:
        result = outcome.cleanup(RunState(), account.execution, account.settings)

    # Then the stop was retried and the job is stopping
    assert log.total == 1
    assert f"stopped job {running}" in result.actions
    assert account.bedrock.get_model_customization_job(jobIdentifier=running)["status"] in {"Stopping", "Stopped"}


def test_a_permanently_refused_delete_is_reported_not_raised(account: Account) -> None:
    # Given throughput of this run whose deletion is refused (e.g. a commitment term)
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    deploy_time_passes()

    # When Cleanup runs
    with inject_faults([Fault.parse("bedrock:DeleteProvisionedModelThroughput=ValidationException")]):
        result = outcome.cleanup(RunState(), account.execution, account.settings)

    # Then it returns (so its report reaches NotifyFailure) with the throughput as an InService leftover
    assert result.complete is False
    assert [(item.arn, item.state) for item in result.leftovers] == [(throughput, "InService")]
    assert "ValidationException" in result.leftovers[0].reason


# --- NotifyFailure: the leftovers reach the notification, even when Cleanup itself failed ----------------------------
def test_the_failure_notification_carries_cleanups_leftovers(account: Account) -> None:
    # Given a Cleanup that ended incomplete (its output is in the state)
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    deploy_time_passes()
    execution = inbox_execution(account)
    with inject_faults([Fault.parse("bedrock:DeleteProvisionedModelThroughput=ValidationException")]):
        result = outcome.cleanup(throughput_state(account, throughput), execution, account.settings)
    state = {
        **throughput_state(account, throughput).model_dump(by_alias=True),
        "cleanup": result.model_dump(by_alias=True),
    }

    # When NotifyFailure builds its report
    report = outcome.failure_report(outcome.parse_state(state), execution)
    text = reporting.message(report)

    # Then the notification names the leftover with its command and where the dataset is
    assert "Dataset now at: None" not in text
    assert f"Dataset now at: s3://{BUCKET}/failed/run-0001/orders.jsonl" in text
    assert f"LEFT RUNNING, delete by hand: provisioned-throughput {throughput}" in text
    assert f"--provisioned-model-id {throughput}" in text


def test_when_cleanup_itself_failed_the_notification_still_names_what_may_run(account: Account) -> None:
    # Given a state whose Cleanup failed (e.g. the function timed out) after a throughput was created
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    execution = inbox_execution(account)
    raw = {
        **throughput_state(account, throughput).model_dump(by_alias=True),
        "cleanupError": {"Error": "States.Timeout", "Cause": "Task timed out"},
    }

    # When NotifyFailure builds its report
    report = outcome.failure_report(outcome.parse_state(raw), execution)
    text = reporting.message(report)

    # Then it says the dataset's location is not known (never "None"), names the throughput with its command, and
    # tells how to find anything else of the run
    assert "Dataset now at: None" not in text
    assert f"s3://{BUCKET}/{INBOX_KEY}" in text.split("Dataset now at:")[1].splitlines()[0]
    assert f"LEFT RUNNING, delete by hand: provisioned-throughput {throughput}" in text
    assert "Deployment (provisioned, 1 model unit(s), NOT deleted" in text
    assert f"list-custom-model-deployments --name-contains {naming.run_hash(EXECUTION_ARN)}" in text
    assert "Cleanup failed: States.Timeout" in text


# --- a settled outcome is never undone ----------------------------------------------------------------------------
def kept_success(account: Account) -> tuple[RunState, ExecutionContext, str, dict[str, Any]]:
    """A run that Finalize settled: an InService throughput kept, the dataset in processed/, the report written."""
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    deploy_time_passes()
    execution = inbox_execution(account)
    state = throughput_state(account, throughput).model_copy(update={"error": None})
    final = outcome.finalize(state, execution, account.settings)
    return state, execution, throughput, final.model_dump(by_alias=True)


@pytest.mark.parametrize("final_in_state", [True, False], ids=["finalize-returned", "finalize-died-after-report"])
def test_cleanup_after_finalize_undoes_nothing(account: Account, final_in_state: bool) -> None:
    # Given a settled run (Finalize done) whose later step failed (e.g. NotifySuccess)
    state, execution, throughput, final = kept_success(account)
    before = account.s3.get_object(Bucket=BUCKET, Key="reports/run-0001/report.json")["Body"].read()
    failed = CaughtError(Error="NotificationFailed", Cause="Publish answered AuthorizationError")
    state = state.model_copy(update={"final": final if final_in_state else None, "error": failed})

    # When Cleanup runs
    result = outcome.cleanup(state, execution, account.settings)

    # Then the kept throughput still runs, the report is untouched, and the dataset's real location is reported
    assert [t["provisionedModelArn"] for t in throughputs(account)] == [throughput]
    assert account.s3.get_object(Bucket=BUCKET, Key="reports/run-0001/report.json")["Body"].read() == before
    assert result.dataset_uri == f"s3://{BUCKET}/processed/run-0001/orders.jsonl"
    assert result.report["outcome"] == "SUCCEEDED"
    assert account.keys("failed/") == []
    # And the failure notification says the run succeeded and what failed afterwards
    raw = {**state.model_dump(by_alias=True), "cleanup": result.model_dump(by_alias=True)}
    text = reporting.message(outcome.failure_report(outcome.parse_state(raw), execution))
    assert text.startswith("bedrock-finetune SUCCEEDED")
    assert "Nothing was undone" in text
    assert "kept" in text


def test_finalize_after_a_partial_finalize_reports_the_processed_location(account: Account) -> None:
    # Given Finalize moved the dataset then failed, and Cleanup runs (no report yet: not settled)
    execution = inbox_execution(account)
    outcome.move_dataset(outcome.dataset_source(RunState(), execution), account.settings, "run-0001", "processed/")

    # When Cleanup runs
    result = outcome.cleanup(RunState(), execution, account.settings)

    # Then it reports where the dataset really is instead of "no longer exists"
    assert result.dataset_uri == f"s3://{BUCKET}/processed/run-0001/orders.jsonl"
    assert result.report["dataset"]["finalUri"] == result.dataset_uri


# --- a notification that is given up is logged and counted -------------------------------------------------------
def notify_event(account: Account, attempt: int | None) -> dict[str, Any]:
    report = {"outcome": "SUCCEEDED", "runId": "run-0001", "executionArn": EXECUTION_ARN, "dataset": {}}
    return {"outcome": "SUCCEEDED", "report": report, "attempt": attempt}


class _Context:
    function_name = "notify"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:us-east-1:123456789012:function:notify"
    aws_request_id = "req-1"


def test_sns_throttling_is_retried_until_the_last_attempt_then_logged_and_counted(
    account: Account, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the function's environment (template.yaml names the Powertools service) and SNS throttling every
    # Publish with its own code (ThrottledException, sent as "Throttled")
    monkeypatch.setenv("POWERTOOLS_SERVICE_NAME", "bedrock-finetune")
    stream = io.StringIO()
    for handler in notify_handler.logger._logger.handlers:  # what Lambda sends to CloudWatch Logs
        if isinstance(handler, logging.StreamHandler):
            monkeypatch.setattr(handler, "stream", stream)
    with inject_faults([Fault.parse("sns:Publish=Throttled")]):
        # When Notify runs before the last retry, Then it asks the state machine to retry
        with pytest.raises(TransientAwsError, match="Throttled"):
            notify_handler.handler(notify_event(account, 0), _Context())  # type: ignore[arg-type]
        # When it runs on the last retry, Then it gives up with NotificationFailed saying what happened
        with pytest.raises(NotificationFailed, match=r"the run SUCCEEDED .*report.json.* Throttled after 7"):
            notify_handler.handler(notify_event(account, notify_handler.NOTIFY_RETRIES), _Context())  # type: ignore[arg-type]

    # And it logged the error code in one line that is a CloudWatch EMF document counting NotificationFailures
    lines = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    (failure,) = [line for line in lines if line.get("message") == "notification failed"]
    assert failure["error_code"] == "Throttled"
    assert failure["NotificationFailures"] == [1.0]
    (directive,) = failure["_aws"]["CloudWatchMetrics"]
    assert directive["Namespace"] == "BedrockFinetune"
    assert directive["Metrics"] == [{"Name": "NotificationFailures", "Unit": "Count"}]
    assert directive["Dimensions"] == [["service"]]
    assert failure["service"] == "bedrock-finetune"


# --- the recovery path: FAILED for any reason, once ----------------------------------------------------------------
def status_change(status: str, execution: ExecutionContext, error: str | None = None) -> ExecutionStatusChange:
    return ExecutionStatusChange.model_validate(
        {
            "executionArn": execution.id,
            "stateMachineArn": "arn:aws:states:us-east-1:123456789012:stateMachine:finetune",
            "name": execution.name,
            "status": status,
            "input": json.dumps(execution.input),
            "error": error,
            "cause": "An error occurred while executing the state 'Finalize'" if error else None,
        }
    )


@pytest.mark.parametrize("error", ["States.Runtime", "States.DataLimitExceeded"])
def test_a_failed_execution_without_its_cleanup_is_cleaned_up_once(account: Account, error: str) -> None:
    # Given an execution that ended FAILED with an error no States.ALL catch takes (Step Functions docs, "Error
    # names": States.ALL does not match States.Runtime nor States.DataLimitExceeded), leaving a job and a throughput
    running, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    deploy_time_passes()
    assert [(t["provisionedModelArn"], t["status"]) for t in throughputs(account)] == [(throughput, "InService")]
    execution = inbox_execution(account)

    # When the recovery path receives its status change
    first = outcome.cleanup_aborted(status_change("FAILED", execution, error), account.settings)

    # Then everything is cleaned up and a notification names the error
    assert first.skipped is None
    assert first.notification is not None
    assert "FAILED (ExecutionFailed)" in first.notification.subject
    assert throughputs(account) == []
    assert account.bedrock.get_model_customization_job(jobIdentifier=running)["status"] in {"Stopping", "Stopped"}
    report = read(account, "reports/run-0001/report.json")
    assert error in report["error"]["cause"]
    assert report["dataset"]["finalUri"] == f"s3://{BUCKET}/failed/run-0001/orders.jsonl"

    # When the event is delivered again (EventBridge delivers at least once)
    before = objects(account)
    second = outcome.cleanup_aborted(status_change("FAILED", execution, error), account.settings)

    # Then nothing changes: no cleanup, no notification, no object rewritten
    assert second.skipped is not None
    assert second.notification is None
    assert objects(account) == before


def test_the_recovery_path_does_nothing_after_the_runs_own_cleanup(account: Account) -> None:
    # Given a run whose own Cleanup completed (then the execution ended FAILED through its Fail state)
    execution = inbox_execution(account)
    outcome.cleanup(RunState(error={"Error": "JobFailed"}), execution, account.settings)  # type: ignore[arg-type]
    sns_before = len(_sent(account))

    # When the FAILED status change arrives
    result = outcome.cleanup_aborted(status_change("FAILED", execution), account.settings)

    # Then it is skipped and sends nothing
    assert result.skipped == "the run's own cleanup already ran (cleaned)"
    assert len(_sent(account)) == sns_before


def test_the_recovery_path_never_deletes_a_kept_deployment_of_a_settled_run(account: Account) -> None:
    # Given a settled run with a kept throughput, whose execution then ended FAILED (e.g. States.Runtime after
    # Finalize) without any Cleanup
    _, execution, throughput, _ = kept_success(account)

    # When the recovery path runs
    result = outcome.cleanup_aborted(status_change("FAILED", execution, "States.Runtime"), account.settings)

    # Then the kept throughput still runs, the report still says SUCCEEDED, and the notification says so too
    assert [t["provisionedModelArn"] for t in throughputs(account)] == [throughput]
    assert read(account, "reports/run-0001/report.json")["outcome"] == "SUCCEEDED"
    assert result.notification is not None
    assert result.notification.subject.startswith("bedrock-finetune SUCCEEDED")


def objects(account: Account) -> dict[str, bytes]:
    listed = account.s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
    return {item["Key"]: account.s3.get_object(Bucket=BUCKET, Key=item["Key"])["Body"].read() for item in listed}


def _sent(account: Account) -> list[Any]:
    from moto.sns.models import sns_backends

    topic = sns_backends["123456789012"]["us-east-1"].topics[account.settings.topic_arn]
    return list(topic.sent_notifications)


def test_logs_stay_quiet_about_dataset_content(account: Account, caplog: pytest.LogCaptureFixture) -> None:
    # Given a cleanup with a leftover
    caplog.set_level(logging.INFO)
    _, throughput = create_job_and_throughput(account, EXECUTION_ARN)
    deploy_time_passes()
    with inject_faults([Fault.parse("bedrock:DeleteProvisionedModelThroughput=ValidationException")]):
        result = outcome.cleanup(RunState(), inbox_execution(account), account.settings)

    # Then the structured leftovers carry ARNs, states and codes only
    dumped = json.dumps([item.model_dump() for item in result.leftovers])
    assert "data\\n" not in dumped
    assert throughput in dumped
