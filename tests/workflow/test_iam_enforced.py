"""The local AWS evaluates IAM for the principal that makes each call, so the template's policies are tested:

* with template.yaml as it is, every happy path (inbox, console, provisioned, on-demand, compare-with-base)
  succeeds and nothing is denied;
* taking out any one permission a happy path uses makes that run fail, with the service's AccessDenied (or
  Bedrock's permission failure message) in the step that needed it;
* the list of permissions below is complete: a test fails if a happy path uses a permission no case takes out.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune_local import runner, stack

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
SCENARIOS: dict[str, dict[str, Any]] = {
    "inbox": {},
    "console": {"via": "console"},
    "provisioned": {"config": {"deployment": {"mode": "provisioned"}}},
    "compare": {"config": {"smokeTest": {"compareWithBase": True}}},
    # No validation split: the staged training file is a server-side copy of the pinned version.
    "nosplit": {"config": {"validationSplitPercent": 0}},
    # No Price List refresh yet (deployed, its schedule not fired): ValidateDataset finds no price document and
    # prices with the table; S3 says "missing" (404) rather than 403 only to a caller that may list the prefix.
    "noprices": {"refresh_prices": False},
    # The job's state change event never comes: the fallback check finds the job ended and AwaitJobEnd resumes the
    # execution itself (SendTaskSuccess as its own role).
    "dropped": {"drop_events": True},
    # A one-stage sweep of two learning rates: the loser's custom model is deleted, the winner deployed.
    "sweep": {"config": {"sweep": {"vary": [{"parameter": "learningRate", "values": [1e-5, 1e-4]}]}}},
    # A run that keeps its on-demand deployment, then a retrain without one record that moves it to the new model.
    "retrain": {
        "config": {"deployment": {"mode": "on-demand", "keep": True}},
        "then": [
            {
                "input": {
                    "retrainFrom": "{{run.0.runId}}",
                    "excludeRecords": {"lines": [1]},
                    "swapDeployment": True,
                }
            }
        ],
    },
    # A run that keeps its on-demand deployment, then the retire state machine deletes it and the model (force).
    "retire": {
        "config": {"deployment": {"mode": "on-demand", "keep": True}},
        "then": [{"stateMachine": "RetireStateMachine", "input": {"retire": "{{run.0.runId}}", "force": True}}],
    },
}
# Runs that end badly on purpose, for the permissions only their failure path uses (Cleanup; the recovery function
# of an execution stopped from outside), with the status each ends with.
FAILURE_SCENARIOS: dict[str, dict[str, Any]] = {
    "jobfailed": {"job_outcome": "Failed"},
    # a 10-hour job, stopped from the console 2 simulated hours in
    "aborted": {"job_duration_seconds": 10 * 3600, "stop_after_seconds": 2 * 3600},
}
FAILURE_STATUS = {"jobfailed": "FAILED", "aborted": "ABORTED"}
DENIED_WORDS = ("AccessDenied", "AuthorizationError", "not authorized", "Insufficient permissions")
# Pass states the workflow enters when a failure is reported as data (a job that failed) rather than raised.
PASS_STATES = {"JobFailed"}


def run(scenario: str, edit: Callable[[dict[str, Any]], None] | None = None) -> runner.RunResult:
    """The scenario's last execution (a chained one, where the scenario has ``then``)."""
    options = {**SCENARIOS, **FAILURE_SCENARIOS}[scenario]
    return runner.run_many(runner.RunOptions(dataset=VALID, template_edit=edit, **options)).runs[-1]


@dataclass(frozen=True)
class Permission:
    """One permission of one role of the template, the scenario that uses it and the state that needs it."""

    role: str  # logical id of the AWS::IAM::Role in the translated template
    action: str
    scenario: str
    state: str | None  # the state that fails (None: no execution starts)
    only_resource: str | None = None  # take the action out only where the statement names this logical id
    # False where the denial is reported, not fatal: the run succeeds and its report names what was refused
    fails: bool = True
    # True where the denial only makes the run slower: the job's end is found by the fallback check, not its event
    late: bool = False
    # True where the denial only loses the Price List refresh: the run succeeds, priced with the table alone
    table_prices: bool = False

    def __str__(self) -> str:
        suffix = f"({self.only_resource})" if self.only_resource else ""
        return f"{self.role}:{self.action}{suffix}@{self.scenario}"


PERMISSIONS = [
    Permission("ResolveConfigFunctionRole", "s3:GetObjectVersion", "inbox", "ResolveConfig"),
    Permission("ResolveConfigFunctionRole", "s3:GetObject", "console", "ResolveConfig"),
    Permission("ValidateDatasetFunctionRole", "s3:GetObjectVersion", "inbox", "ValidateDataset"),
    Permission("ValidateDatasetFunctionRole", "s3:GetObject", "console", "ValidateDataset"),
    Permission("ValidateDatasetFunctionRole", "s3:PutObject", "inbox", "ValidateDataset"),
    Permission("ValidateDatasetFunctionRole", "s3:ListBucket", "noprices", "ValidateDataset"),
    # The Price List refresh (fired once before the drops): without it the run is priced with the table alone.
    Permission("RefreshPricesFunctionRole", "pricing:GetProducts", "inbox", None, table_prices=True),
    Permission("RefreshPricesFunctionRole", "s3:PutObject", "inbox", None, table_prices=True),
    Permission(
        "RefreshPricesFunctionPriceRefreshScheduleRole", "lambda:InvokeFunction", "inbox", None, table_prices=True
    ),
    Permission("StageDatasetFunctionRole", "s3:GetObjectVersion", "inbox", "StageDataset"),
    Permission("StageDatasetFunctionRole", "s3:GetObject", "console", "StageDataset"),
    Permission("StageDatasetFunctionRole", "s3:PutObject", "inbox", "StageDataset"),
    Permission("StageDatasetFunctionRole", "s3:ListBucket", "inbox", "StageDataset"),
    Permission(
        "CreateCustomizationJobFunctionRole", "bedrock:CreateModelCustomizationJob", "inbox", "CreateCustomizationJob"
    ),
    Permission("CreateCustomizationJobFunctionRole", "iam:PassRole", "inbox", "CreateCustomizationJob"),
    Permission("CreateCustomizationJobFunctionRole", "bedrock:TagResource", "inbox", "CreateCustomizationJob"),
    # The wait for the job's end: the waiting Task's token is stored for the job's event, and the job is checked.
    Permission("AwaitJobEndFunctionRole", "dynamodb:PutItem", "inbox", "AwaitJobEnd"),
    Permission("AwaitJobEndFunctionRole", "bedrock:GetModelCustomizationJob", "inbox", "AwaitJobEnd"),
    # The job's state change event resumes it; without these the fallback check finds the end, later.
    Permission("AwaitJobEndFunctionRole", "states:SendTaskSuccess", "dropped", "AwaitJobEnd"),
    Permission("JobEventFunctionRole", "dynamodb:GetItem", "inbox", None, late=True),
    Permission("JobEventFunctionRole", "states:SendTaskSuccess", "inbox", None, late=True),
    Permission("JobEventFunctionJobStateChangePermission", "lambda:InvokeFunction", "inbox", None, late=True),
    Permission("PollJobFunctionRole", "bedrock:GetModelCustomizationJob", "inbox", "PollJob"),
    Permission("PollJobFunctionRole", "s3:GetObject", "inbox", "PollJob"),
    Permission("PollJobFunctionRole", "s3:ListBucket", "inbox", "PollJob"),
    Permission("DeployModelFunctionRole", "bedrock:CreateCustomModelDeployment", "inbox", "DeployModel"),
    Permission("DeployModelFunctionRole", "bedrock:CreateProvisionedModelThroughput", "provisioned", "DeployModel"),
    Permission("DeployModelFunctionRole", "bedrock:TagResource", "inbox", "DeployModel"),
    Permission("PollDeploymentFunctionRole", "bedrock:GetCustomModelDeployment", "inbox", "PollDeployment"),
    Permission("PollDeploymentFunctionRole", "bedrock:GetProvisionedModelThroughput", "provisioned", "PollDeployment"),
    Permission("SmokeTestFunctionRole", "bedrock:InvokeModel", "compare", "SmokeTest"),
    Permission("SmokeTestFunctionRole", "s3:GetObject", "inbox", "SmokeTest"),
    Permission("SmokeTestFunctionRole", "s3:GetObjectVersion", "nosplit", "SmokeTest"),
    Permission("SmokeTestFunctionRole", "s3:PutObject", "inbox", "SmokeTest"),
    Permission("ReleaseDeploymentFunctionRole", "bedrock:DeleteCustomModelDeployment", "inbox", "ReleaseDeployment"),
    Permission(
        "ReleaseDeploymentFunctionRole",
        "bedrock:DeleteProvisionedModelThroughput",
        "provisioned",
        "ReleaseDeployment",
    ),
    Permission("FinalizeFunctionRole", "s3:GetObject", "inbox", "Finalize"),
    Permission("FinalizeFunctionRole", "s3:DeleteObject", "inbox", "Finalize"),
    Permission("FinalizeFunctionRole", "s3:PutObject", "inbox", "Finalize"),
    Permission("NotifyFunctionRole", "sns:Publish", "inbox", "NotifySuccess"),
    # Bedrock reads the data and writes the output as the service role: the job fails, the workflow sees it.
    Permission("BedrockServiceRole", "s3:GetObject", "inbox", "JobFailed"),
    Permission("BedrockServiceRole", "s3:PutObject", "inbox", "JobFailed"),
    Permission("FineTuneStateMachineRole", "lambda:InvokeFunction", "inbox", "ResolveConfig", "ResolveConfigFunction"),
    # The inbox rule invokes the starter, which starts the execution under the object version's name.
    Permission("InboxStarterFunctionRole", "states:StartExecution", "inbox", None),
    # EventBridge (events.amazonaws.com) may invoke the starter: the function's resource policy (a Lambda permission).
    Permission("InboxStarterFunctionInboxJsonlPermission", "lambda:InvokeFunction", "inbox", None),
    # Same content and settings train once: the claim, the training queue, the claim marked SUCCEEDED.
    # Every run holds its place in the training queue from ResolveConfig on (strict drop order).
    Permission("ResolveConfigFunctionRole", "dynamodb:PutItem", "inbox", "ResolveConfig"),
    Permission("ClaimTrainingFunctionRole", "dynamodb:PutItem", "inbox", "ClaimTraining"),
    Permission("CreateCustomizationJobFunctionRole", "dynamodb:PutItem", "inbox", "CreateCustomizationJob"),
    Permission("CreateCustomizationJobFunctionRole", "dynamodb:Query", "inbox", "CreateCustomizationJob"),
    Permission("CreateCustomizationJobFunctionRole", "dynamodb:UpdateItem", "inbox", "CreateCustomizationJob"),
    Permission("CreateCustomizationJobFunctionRole", "dynamodb:DeleteItem", "inbox", "CreateCustomizationJob"),
    Permission("FinalizeFunctionRole", "dynamodb:UpdateItem", "inbox", "Finalize"),
    # Sweeps: the state machine plans and records stages; the run's own queue place goes once the last stage is
    # planned; the losing variants' models are deleted (a refusal is reported: the winner stands, the report and
    # the notification name the model that still costs storage).
    Permission("FineTuneStateMachineRole", "lambda:InvokeFunction", "sweep", "PlanSweep", "SweepStageFunction"),
    # The Distributed Map starts each variant as a child execution of the state machine, as its role.
    Permission("FineTuneStateMachineRole", "states:StartExecution", "sweep", "TrainSweepVariants"),
    Permission("SweepStageFunctionRole", "dynamodb:DeleteItem", "sweep", "PlanSweep"),
    Permission("SweepStageFunctionRole", "bedrock:DeleteCustomModel", "sweep", "RecordSweepStage", fails=False),
    # Retrain: the earlier run's staged copies are read and the new source written; the kept deployment is moved.
    Permission("PrepareRetrainDatasetFunctionRole", "s3:GetObject", "retrain", "PrepareRetrainDataset"),
    Permission("PrepareRetrainDatasetFunctionRole", "s3:PutObject", "retrain", "PrepareRetrainDataset"),
    Permission("SwapDeploymentFunctionRole", "bedrock:GetCustomModelDeployment", "retrain", "SwapDeployment"),
    Permission("SwapDeploymentFunctionRole", "bedrock:UpdateCustomModelDeployment", "retrain", "SwapDeployment"),
    # Retire: the run's report names the model; tags say what is kept; what serves the model goes first.
    Permission("RetireStateMachineRole", "lambda:InvokeFunction", "retire", "RetireModel"),
    Permission("RetireStateMachineRole", "sns:Publish", "retire", "NotifyRetired"),
    Permission("RetireModelFunctionRole", "s3:GetObject", "retire", "RetireModel"),
    Permission("RetireModelFunctionRole", "s3:PutObject", "retire", "RetireModel"),
    Permission("RetireModelFunctionRole", "bedrock:ListTagsForResource", "retire", "RetireModel"),
    Permission("RetireModelFunctionRole", "bedrock:ListProvisionedModelThroughputs", "retire", "RetireModel"),
    Permission("RetireModelFunctionRole", "bedrock:ListCustomModelDeployments", "retire", "RetireModel"),
    Permission("RetireModelFunctionRole", "bedrock:DeleteCustomModelDeployment", "retire", "RetireModel"),
    Permission("RetireModelFunctionRole", "bedrock:DeleteCustomModel", "retire", "RetireModel"),
    # The HTML run report is best effort: a refused read leaves its section out, report.json and the notification
    # name what could not be read, and the run ends as it would have.
    Permission("FinalizeFunctionRole", "states:GetExecutionHistory", "inbox", "Finalize", fails=False),
    Permission("FinalizeFunctionRole", "s3:GetObject", "inbox", "Finalize", only_resource="outputs/", fails=False),
    Permission("CleanupFunctionRole", "states:GetExecutionHistory", "jobfailed", "Cleanup", fails=False),
    Permission("AbortedRunCleanupFunctionRole", "states:GetExecutionHistory", "aborted", None, fails=False),
]


def take_out(permission: Permission) -> Callable[[dict[str, Any]], None]:
    """A template edit that removes ``permission.action`` from every statement of the role's policies (or, for a
    Lambda permission, the resource-policy statement itself)."""

    def edit(cfn: dict[str, Any]) -> None:
        resource = cfn["Resources"][permission.role]
        if resource["Type"] == "AWS::Lambda::Permission":
            assert resource["Properties"]["Action"] == permission.action, "the list of permissions is stale"
            del cfn["Resources"][permission.role]
            return
        role = resource["Properties"]
        removed = 0
        for policy in role.get("Policies", []):
            kept = []
            for statement in policy["PolicyDocument"]["Statement"]:
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                applies = permission.only_resource is None or permission.only_resource in json.dumps(statement)
                remaining = [a for a in actions if not (applies and a.lower() == permission.action.lower())]
                removed += len(actions) - len(remaining)
                if remaining:
                    kept.append({**statement, "Action": remaining})
            policy["PolicyDocument"]["Statement"] = kept
        role["Policies"] = [p for p in role.get("Policies", []) if p["PolicyDocument"]["Statement"]]
        assert removed, f"{permission} is not in the template: the list of permissions is stale"

    return edit


@functools.cache
def _translated_resources() -> dict[str, Any]:
    return dict(stack.translate(ROOT)["Resources"])


def role_logical_id(role_arn: str | None) -> str | None:
    """The logical id of what granted a call: the principal's role, or, for a service principal acting for an
    EventBridge rule (whose ARN the grant carries), the Lambda permission that names that rule."""
    if role_arn is None:
        return None
    name = role_arn.rsplit("/", 1)[-1]
    resources = _translated_resources()
    if ":rule/" in role_arn:
        for logical_id, resource in resources.items():
            source = resource.get("Properties", {}).get("SourceArn", {})
            rule = source.get("Fn::GetAtt", [None])[0] if isinstance(source, dict) else None
            if resource["Type"] == "AWS::Lambda::Permission" and rule and name == f"bedrock-finetune-local-{rule}"[:64]:
                return str(logical_id)
        return None
    for logical_id in resources:
        if name == stack.role_name("bedrock-finetune-local", logical_id):
            return logical_id
    return None


def principal_marker(permission: Permission) -> str:
    """What the denied principal's ARN contains: the role session's role name, or the service a resource policy
    allows."""
    resource = stack.translate(ROOT)["Resources"][permission.role]
    if resource["Type"] == "AWS::Lambda::Permission":
        return str(resource["Properties"]["Principal"])
    return f"/{stack.role_name('bedrock-finetune-local', permission.role)}/"


@pytest.mark.parametrize("scenario", sorted(SCENARIOS))
def test_every_happy_path_succeeds_with_the_template_as_it_is_and_uses_only_listed_permissions(scenario: str) -> None:
    # Given the template as it is, IAM evaluated for every call
    result = run(scenario)

    # Then the run succeeds and nothing was denied
    assert result.status == "SUCCEEDED", result.error
    assert result.access_denied == []
    # And every permission the run used is one a case below takes out (so no permission goes untested)
    used = {(role_logical_id(grant.role_arn), grant.action) for grant in result.grants}
    listed = {(p.role, p.action) for p in PERMISSIONS}
    assert used - listed == set(), "permissions used but never taken out in a test"


@pytest.mark.matrix
@pytest.mark.parametrize("permission", PERMISSIONS, ids=str)
def test_taking_out_one_permission_fails_the_run_with_access_denied_in_the_step_that_needs_it(
    permission: Permission,
) -> None:
    # Given the template without one permission a happy path uses
    # When that path runs
    result = run(permission.scenario, take_out(permission))

    # Then the local AWS denied exactly that action to that role's principal
    marker = principal_marker(permission)
    denied = [d for d in result.access_denied if marker in d["principal"] and d["action"] == permission.action]
    assert denied, (permission, result.access_denied)
    if permission.table_prices:
        # (or, where only the Price List refresh is lost, the run still succeeds, priced with the table alone, and
        # the refresh's outcome names the refusal)
        assert result.status == "SUCCEEDED", result.error
        assert result.report is not None
        assert result.report["cost"]["estimate"]["source"] == "catalog"
        assert any(word in json.dumps(result.price_refresh) for word in DENIED_WORDS), result.price_refresh
        return
    if permission.late:
        # (or, where only the job's event is lost, the run still succeeds: the fallback check found the end, later)
        assert result.status == "SUCCEEDED", result.error
        assert result.clock is not None
        assert result.clock.detection_lag_seconds is not None
        assert result.clock.detection_lag_seconds > 60
        return
    # And the run did not succeed, with the denial visible in its error or report
    evidence = json.dumps({"error": result.error, "report": result.report})
    assert any(word in evidence for word in DENIED_WORDS), evidence[:2000]
    if not permission.fails:
        # (or, where a refusal is only reported, it ended as it would have and says what it could not do)
        assert result.status == FAILURE_STATUS.get(permission.scenario, "SUCCEEDED"), result.error
        assert any(word in message for message in result.notification_messages for word in DENIED_WORDS)
        return
    if permission.state is None:
        # EventBridge could not start the state machine: no execution, and the runner says why
        assert result.status == "NO_EXECUTION"
        return
    assert result.status == "FAILED", result.error
    # And the step that needed it is the one that failed
    expected = {"caught", "ok"} if permission.state in PASS_STATES else {"caught"}
    assert any(line.name == permission.state and line.outcome in expected for line in result.timeline), [
        (line.name, line.outcome) for line in result.timeline
    ]
