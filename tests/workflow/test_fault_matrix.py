"""A fault matrix over every AWS operation the workflow calls: for each, a transient fault that exhausts one
Lambda attempt (the handlers' clients make 3 HTTP attempts per call, the state machine's Lambda invokes 1) ends
SUCCEEDED, and a permanent fault ends FAILED. Whatever happens: no resource is left running that the notification
and the report do not name, the dataset is never lost (its final location is in the result and the object is
there), and a notification is sent whenever SNS accepts one.

``test_the_matrix_covers_every_operation_the_workflow_calls`` keeps the list honest: the happy paths' workflow calls
(as the IAM-enforcing local AWS saw them) must all be in it.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune_local import runner

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
SCENARIOS: dict[str, dict[str, Any]] = {
    "on-demand": {},
    "provisioned": {"config": {"deployment": {"mode": "provisioned"}}},
    "no-split": {"config": {"validationSplitPercent": 0}},
    # The job fails: Cleanup's discovery calls run
    "job-failed": {"job_outcome": "Failed"},
    # Started from the console: the state machine's own Lambda invokes are the first (the inbox starter is not)
    "console": {"via": "console"},
}
HANDLER_ATTEMPTS = 3  # botocore standard mode with max_attempts=2 retries (functions/bedrock_finetune/aws.py)
STATE_MACHINE_ATTEMPTS = 1  # the interpreter's Lambda client makes one attempt; the ASL's Retry does the rest


@dataclass(frozen=True)
class Operation:
    service: str
    name: str
    scenario: str
    transient: str  # an error code the caller retries
    permanent: str  # an error code nobody retries
    attempts: int = HANDLER_ATTEMPTS
    expected_when_transient: str = "SUCCEEDED"
    expected_when_permanent: str = "FAILED"

    def __str__(self) -> str:
        return f"{self.service}:{self.name}@{self.scenario}"


def _s3(name: str, scenario: str = "on-demand") -> Operation:
    return Operation("s3", name, scenario, "SlowDown", "AccessDenied")


def _bedrock(name: str, scenario: str = "on-demand", **kw: Any) -> Operation:
    return Operation("bedrock", name, scenario, "ThrottlingException", "ValidationException", **kw)


OPERATIONS = [
    _s3("HeadObject"),
    _s3("GetObject"),
    _s3("PutObject"),
    _s3("ListObjectsV2"),
    _s3("CopyObject"),
    _s3("CopyObject", "no-split"),
    _s3("DeleteObject"),
    _bedrock("CreateModelCustomizationJob"),
    _bedrock("GetModelCustomizationJob"),
    _bedrock("CreateCustomModelDeployment"),
    _bedrock("GetCustomModelDeployment"),
    _bedrock("DeleteCustomModelDeployment"),
    _bedrock("CreateProvisionedModelThroughput", "provisioned"),
    _bedrock("GetProvisionedModelThroughput", "provisioned"),
    _bedrock("DeleteProvisionedModelThroughput", "provisioned"),
    _bedrock("ListModelCustomizationJobs", "job-failed", expected_when_transient="FAILED"),
    _bedrock("ListProvisionedModelThroughputs", "job-failed", expected_when_transient="FAILED"),
    _bedrock("ListCustomModelDeployments", "job-failed", expected_when_transient="FAILED"),
    Operation("bedrock-runtime", "Converse", "on-demand", "ThrottlingException", "ValidationException"),
    Operation("sns", "Publish", "on-demand", "Throttled", "AuthorizationError"),
    Operation("dynamodb", "PutItem", "on-demand", "ProvisionedThroughputExceededException", "ValidationException"),
    Operation("dynamodb", "Query", "on-demand", "ProvisionedThroughputExceededException", "ValidationException"),
    Operation("dynamodb", "UpdateItem", "on-demand", "ProvisionedThroughputExceededException", "ValidationException"),
    Operation("dynamodb", "DeleteItem", "on-demand", "ProvisionedThroughputExceededException", "ValidationException"),
    # The inbox rule invokes the starter function (EventBridge retries it; a refused invoke starts nothing)
    Operation(
        "lambda",
        "Invoke",
        "on-demand",
        "TooManyRequestsException",
        "ResourceNotFoundException",
        attempts=STATE_MACHINE_ATTEMPTS,
    ),
    Operation(
        "lambda",
        "Invoke",
        "console",
        "TooManyRequestsException",
        "ResourceNotFoundException",
        attempts=STATE_MACHINE_ATTEMPTS,
    ),
    # JobEvent, woken by the job's state change event: a failure loses the event, and the waiting Task's fallback
    # check finds the job's end (later). AwaitJobEnd sends the token itself then, so a SendTaskSuccess that always
    # fails leaves the run no way on: caught into Cleanup.
    Operation(
        "dynamodb",
        "GetItem",
        "on-demand",
        "ProvisionedThroughputExceededException",
        "ValidationException",
        expected_when_permanent="SUCCEEDED",
    ),
    Operation("stepfunctions", "SendTaskSuccess", "on-demand", "ThrottlingException", "AccessDeniedException"),
    # EventBridge retries a throttled target itself; a refused start leaves no execution
    Operation("stepfunctions", "StartExecution", "on-demand", "ThrottlingException", "AccessDeniedException", 1),
    # The HTML report's timeline is best effort: a history that cannot be read is left out, the run goes on
    Operation(
        "stepfunctions",
        "GetExecutionHistory",
        "on-demand",
        "ThrottlingException",
        "AccessDeniedException",
        expected_when_permanent="SUCCEEDED",
    ),
]


def run(operation: Operation, fault: str) -> runner.RunResult:
    return runner.run(runner.RunOptions(dataset=VALID, faults=[fault], **SCENARIOS[operation.scenario]))


def assert_nothing_unnamed_left_and_dataset_kept(result: runner.RunResult, *, sns_refused: bool) -> None:
    # No resource runs that the notification and the report do not name
    running = [
        *result.resources["provisioned_throughputs"],
        *result.resources["custom_model_deployments"],
        *result.resources["jobs_in_progress"],
    ]
    report_text = json.dumps(result.report or {})
    for item in running:
        if result.report is not None:
            assert item["arn"] in report_text, ("report does not name", item)
        for message in result.notification_messages:
            assert item["arn"] in message, ("notification does not name", item)
    # The dataset is never lost: its location is known and the object is there (the runner checks with HeadObject)
    assert result.dataset_uri is not None
    # A notification whenever SNS accepts one (an execution that never started has nothing to notify)
    if result.execution_arn is not None and not sns_refused:
        assert result.notifications, "no notification sent"


@pytest.mark.matrix
@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_a_transient_fault_that_exhausts_one_attempt_is_retried_and_the_run_succeeds(operation: Operation) -> None:
    # Given the operation answering a retryable error for as many HTTP attempts as one Lambda attempt makes
    fault = f"{operation.service}:{operation.name}={operation.transient}*{operation.attempts}"

    # When the workflow runs
    result = run(operation, fault)

    # Then the fault really fired, and the retries carried the run to its normal end
    assert result.faults_fired[fault] == operation.attempts, result.faults_fired
    assert result.status == operation.expected_when_transient, result.error
    assert_nothing_unnamed_left_and_dataset_kept(result, sns_refused=False)
    if operation.expected_when_transient == "FAILED":
        # (the job failed on purpose: Cleanup's retried discovery still completed)
        assert result.report is not None
        assert result.report["cleanup"]["complete"], result.report["cleanup"]


@pytest.mark.matrix
@pytest.mark.parametrize("operation", OPERATIONS, ids=str)
def test_a_permanent_fault_fails_the_run_cleanly(operation: Operation) -> None:
    # Given the operation refusing every call the workflow makes
    fault = f"{operation.service}:{operation.name}={operation.permanent}"

    # When the workflow runs
    result = run(operation, fault)

    # Then the run fails (or, when EventBridge cannot start it, never starts), and the invariants hold
    assert result.faults_fired[fault] >= 1
    if operation.name == "StartExecution" or (operation.service, operation.scenario) == ("lambda", "on-demand"):
        assert result.status == "NO_EXECUTION"
    else:
        assert result.status == operation.expected_when_permanent, result.error
    assert_nothing_unnamed_left_and_dataset_kept(result, sns_refused=operation.service == "sns")


@pytest.mark.parametrize("scenario", ["on-demand", "provisioned", "no-split"])
def test_the_matrix_covers_every_operation_the_workflow_calls(scenario: str) -> None:
    # Given a happy path, with every workflow call recorded by the IAM-enforcing local AWS
    result = runner.run(runner.RunOptions(dataset=VALID, **SCENARIOS[scenario]))
    assert result.status == "SUCCEEDED", result.error

    # Then every operation a workflow principal called is in the matrix
    listed = {(operation.service, operation.name) for operation in OPERATIONS}
    called = set(result.workflow_operations)
    assert called, "no workflow call was recorded"
    assert called - listed == set()
