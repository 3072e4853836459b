"""The state machine definition against the template: wiring, retries, catches, poll loops and cleanup.

Each check is a plain function in ``checks`` that returns its problems; every test runs it on the real files and a
companion test runs it on a deliberately broken copy, to show that it can fail.
"""

from __future__ import annotations

from typing import Any

import botocore.session
import pytest

from bedrock_finetune.errors import TRANSIENT_ERROR_NAMES

from . import checks
from .checks import CLEANUP, FAILURE, PENDING, SUCCESS, Json
from .conftest import MACHINE, definition_texts, fresh

# What each status of Bedrock's enums means to a poll loop. The tests check that these tables name exactly the
# values of botocore's service model, so a status that Bedrock adds fails here until someone decides its meaning.
JOB_STATUS_KINDS = {
    "InProgress": PENDING,
    "Stopping": PENDING,  # becomes Stopped: keep polling, then clean up
    "Completed": SUCCESS,
    "Failed": FAILURE,
    "Stopped": FAILURE,
}
PROVISIONED_MODEL_STATUS_KINDS = {"Creating": PENDING, "Updating": PENDING, "InService": SUCCESS, "Failed": FAILURE}
CUSTOM_MODEL_DEPLOYMENT_STATUS_KINDS = {"Creating": PENDING, "Active": SUCCESS, "Failed": FAILURE}


def bedrock_status_enum(operation: str) -> set[str]:
    """The values of the ``status`` that a Bedrock Get* operation returns, from botocore's service model."""
    model = botocore.session.get_session().get_service_model("bedrock")
    return set(model.operation_model(operation).output_shape.members["status"].enum)


def poll_loop(template: Json, definition: Json, function: str) -> tuple[str, str]:
    """(the Task state that invokes ``function``, the Choice state that follows it)."""
    (poll,) = [name for name, f in checks.task_functions(template, MACHINE, definition).items() if f == function]
    return poll, definition["States"][poll]["Next"]


# --- wiring ----------------------------------------------------------------------------------------------------------
def test_every_function_the_definition_names_exists_and_every_function_is_used(template: Json) -> None:
    # Given the template and the definition file its state machine points to
    # When the ${...Arn} placeholders, DefinitionSubstitutions, functions and invoke policies are compared
    problems = checks.function_wiring_problems(template, definition_texts(template))

    # Then they agree both ways
    assert problems == []


def test_wiring_check_reports_dangling_placeholders_unused_functions_and_missing_permissions(template: Json) -> None:
    # Given a template whose substitutions lost one function, gained an unused function and lost an invoke policy
    broken = fresh(template)
    machine = broken["Resources"][MACHINE]["Properties"]
    del machine["DefinitionSubstitutions"]["PollJobFunctionArn"]
    broken["Resources"]["OrphanFunction"] = fresh(broken["Resources"]["NotifyFunction"])
    machine["Policies"] = [p for p in machine["Policies"] if "SmokeTestFunction" not in str(p)]
    texts = definition_texts(template)
    texts[MACHINE] = texts[MACHINE].replace("${FinalizeFunctionArn}", "${FinaliseFunctionArn}")

    # When the wiring is checked
    problems = checks.function_wiring_problems(broken, texts)

    # Then each break is reported
    assert problems == [
        f"{MACHINE}: ${{FinaliseFunctionArn}} has no DefinitionSubstitution",
        f"{MACHINE}: ${{PollJobFunctionArn}} has no DefinitionSubstitution",
        f"{MACHINE}: DefinitionSubstitution FinalizeFunctionArn is not used",
        f"{MACHINE}: may not invoke SmokeTestFunction (no LambdaInvokePolicy)",
        "FinalizeFunction is not used by any state machine or event source",
        "OrphanFunction is not used by any state machine or event source",
        "PollJobFunction is not used by any state machine or event source",
    ]


# --- retries and catches ---------------------------------------------------------------------------------------------
def test_every_task_retries_the_transient_errors(definition: Json) -> None:
    # Given the transient error names of bedrock_finetune.errors
    # When every Task's Retry is checked (Cleanup and NotifyFailure included: a throttled cleanup must not leak)
    problems = checks.retry_problems(definition, TRANSIENT_ERROR_NAMES)

    # Then each is retried by name, and fatal errors are not retried
    assert problems == []


def test_retry_check_reports_a_task_without_retry_and_one_that_retries_everything(definition: Json) -> None:
    # Given a copy where PollJob lost its Retry and Finalize retries States.ALL
    broken = fresh(definition)
    del broken["States"]["PollJob"]["Retry"]
    broken["States"]["Finalize"]["Retry"][0]["ErrorEquals"] = ["States.ALL"]

    # When checked
    problems = checks.retry_problems(broken, TRANSIENT_ERROR_NAMES)

    # Then both are reported
    missing = ", ".join(TRANSIENT_ERROR_NAMES)
    assert problems == [
        f"PollJob: does not retry {missing}",
        f"Finalize: does not retry {missing}",
        "Finalize: retries States.ALL, so fatal errors are retried too",
    ]


def test_main_path_is_every_task_but_cleanup_and_notify_failure(definition: Json) -> None:
    # Given the definition
    # When the failure tail (Cleanup and what follows it) is computed from the graph
    tail_tasks = checks.failure_tail(definition) & set(checks.tasks(definition))

    # Then it holds exactly Cleanup, NotifyFailure and its last-resort direct publish, so the catch check covers
    # every other Task
    assert tail_tasks == {CLEANUP, "NotifyFailure", "NotifyFailureDirect"}


def test_every_main_path_task_catches_everything_into_cleanup(definition: Json) -> None:
    # Given the definition
    # When every Task before Cleanup is checked for a States.ALL catch that follows on to Cleanup
    problems = checks.catch_problems(definition)

    # Then each has one, keeps the error at $.error, and no path from a catch ends without Cleanup
    assert problems == []


def test_catch_check_reports_a_missing_catch_and_catches_that_bypass_cleanup(definition: Json) -> None:
    # Given a copy where SmokeTest catches nothing, ValidateDataset's catch jumps to NotifyFailure and StageDataset's
    # catch goes to a Pass state that ends the run
    broken = fresh(definition)
    states = broken["States"]
    del states["SmokeTest"]["Catch"]
    states["ValidateDataset"]["Catch"][0]["Next"] = "NotifyFailure"
    states["StageDataset"]["Catch"][0].update(Next="Giveup", ResultPath="$")
    states["Giveup"] = {"Type": "Pass", "End": True}

    # When checked
    problems = checks.catch_problems(broken)

    # Then each is reported
    assert problems == [
        "ValidateDataset: the catch of States.ALL never reaches Cleanup",
        "StageDataset: the catch of States.ALL does not keep the error at $.error",
        "StageDataset: the catch of States.ALL never reaches Cleanup",
        "SmokeTest: has no States.ALL catch",
    ]


def test_catch_check_reports_a_choice_that_can_skip_cleanup(definition: Json) -> None:
    # Given a copy where PollJob's catch goes to a Choice that sends most errors to Cleanup but one straight to
    # the Fail state
    broken = fresh(definition)
    broken["States"]["PollJob"]["Catch"][0]["Next"] = "Triage"
    broken["States"]["Triage"] = {
        "Type": "Choice",
        "Choices": [{"Variable": "$.error.Error", "StringEquals": "JobTimedOut", "Next": "Failed"}],
        "Default": CLEANUP,
    }

    # When checked
    problems = checks.catch_problems(broken)

    # Then the bypass is reported with its path
    assert problems == ["PollJob: the catch of States.ALL can end without Cleanup: Triage → Failed"]


def test_after_cleanup_a_run_always_ends_failed_and_never_cleans_up_twice(definition: Json) -> None:
    # Given the definition
    # When the states from Cleanup on are checked
    problems = checks.failure_tail_problems(definition)

    # Then a failed run ends in the Fail state whatever NotifyFailure does
    assert problems == []


def test_failure_tail_check_reports_a_success_end_and_a_loop(definition: Json) -> None:
    # Given a copy where NotifyFailure ends in Succeeded and Cleanup's catch loops back to Cleanup
    broken = fresh(definition)
    broken["States"]["NotifyFailure"]["Next"] = "Succeeded"
    broken["States"][CLEANUP]["Catch"][0]["Next"] = CLEANUP

    # When checked
    problems = checks.failure_tail_problems(broken)

    # Then both are reported
    assert problems == [
        "a failed run can end without failing: Cleanup → NotifyFailure → Succeeded",
        "Cleanup: goes back to Cleanup",
    ]


# --- poll loops ------------------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("function", "kinds", "operations"),
    [
        pytest.param("PollJobFunction", JOB_STATUS_KINDS, ["GetModelCustomizationJob"], id="job"),
        pytest.param(
            "PollDeploymentFunction",
            {**PROVISIONED_MODEL_STATUS_KINDS, **CUSTOM_MODEL_DEPLOYMENT_STATUS_KINDS},
            ["GetProvisionedModelThroughput", "GetCustomModelDeployment"],
            id="deployment",
        ),
    ],
)
def test_poll_loop_routes_every_bedrock_status(
    template: Json, definition: Json, function: str, kinds: dict[str, str], operations: list[str]
) -> None:
    # Given the statuses of botocore's Bedrock model, each with its meaning
    statuses = set().union(*(bedrock_status_enum(operation) for operation in operations))
    assert set(kinds) == statuses, "a Bedrock status has no meaning assigned in this test: decide it"
    poll, choice = poll_loop(template, definition, function)

    # When the Choice after the poll Task routes each status through the graph
    problems = checks.status_routing_problems(definition, choice, poll, kinds)

    # Then pending ones loop back to the poll, failures reach Cleanup, successes lead forward, unknowns clean up
    assert problems == []


def test_status_check_reports_unrouted_and_misrouted_statuses(template: Json, definition: Json) -> None:
    # Given a copy of the job Choice without the Stopping rule, with Failed looping and Stopped going forward
    poll, choice = poll_loop(template, definition, "PollJobFunction")
    broken = fresh(definition)
    rules = broken["States"][choice]["Choices"]
    rules[:] = [rule for rule in rules if rule["StringEquals"] != "Stopping"]
    targets = {"Failed": "AwaitJobEnd", "Stopped": "DeploymentRequested"}
    for rule in rules:
        rule["Next"] = targets.get(rule["StringEquals"], rule["Next"])
    broken["States"][choice]["Default"] = "AwaitJobEnd"

    # When checked
    problems = checks.status_routing_problems(broken, choice, poll, JOB_STATUS_KINDS)

    # Then each is reported
    assert problems == [
        "JobStatus: status Stopping has no rule (it falls to the Default)",
        "JobStatus: status Failed goes to AwaitJobEnd, which is pending, expected failure",
        "JobStatus: status Stopped goes to DeploymentRequested, which is success, expected failure",
        "JobStatus: the Default goes to AwaitJobEnd, which is pending, expected failure",
    ]


# --- Fail state and cleanup ------------------------------------------------------------------------------------------
def test_fail_state_reports_the_error_kept_at_dollar_error(definition: Json) -> None:
    # Given the definition
    # When the Fail state and every way into Cleanup are checked
    problems = checks.fail_state_problems(definition)

    # Then the Fail state reads $.error.Error/$.error.Cause, and whatever enters Cleanup has written them
    assert problems == []


def test_fail_state_check_reports_other_paths_and_a_choice_into_cleanup(definition: Json) -> None:
    # Given a copy whose Fail state reads $.Error and whose deployment Choice defaults straight into Cleanup
    broken = fresh(definition)
    broken["States"]["Failed"]["ErrorPath"] = "$.Error"
    broken["States"]["DeploymentStatus"]["Default"] = CLEANUP

    # When checked
    problems = checks.fail_state_problems(broken)

    # Then both are reported
    assert problems == [
        "Failed: ErrorPath/CausePath are not $.error.Error/$.error.Cause",
        "DeploymentStatus: goes to Cleanup without writing {Error, Cause} to $.error",
    ]


def test_no_path_after_the_first_resource_creating_state_fails_without_cleanup(
    cfn: Json, template: Json, definition: Json
) -> None:
    # Given the Tasks whose function may call bedrock:Create*, found through the template's IAM
    creating = checks.resource_creating_states(cfn, template, MACHINE, definition)
    assert creating == ["CreateCustomizationJob", "DeployModel"]

    # When every path (catches included) from the first of them is followed
    problems = checks.cleanup_dominance_problems(definition, creating[0])

    # Then none reaches the Fail state without passing through Cleanup
    assert problems == []


@pytest.mark.parametrize(
    ("state", "change", "path"),
    [
        pytest.param(
            "JobFailed",
            {"Next": "Failed"},
            "CreateCustomizationJob → TrainingStarted → JobCreated → AwaitJobEnd → PollJob → JobStatus → JobFailed"
            " → Failed",
            id="pass-state-to-failed",
        ),
        pytest.param(
            "PollDeployment",
            {"Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": "NotifyFailure"}]},
            "CreateCustomizationJob → TrainingStarted → JobCreated → AwaitJobEnd → PollJob → JobStatus"
            " → DeploymentRequested → DeployModel → PollDeployment → NotifyFailure → Failed",
            id="catch-to-notify-failure",
        ),
    ],
)
def test_cleanup_check_reports_a_path_to_failed_that_skips_cleanup(
    definition: Json, state: str, change: dict[str, Any], path: str
) -> None:
    # Given a copy where a state after the job was created can reach Failed around Cleanup
    broken = fresh(definition)
    broken["States"][state].update(change)

    # When checked from the first resource-creating state
    problems = checks.cleanup_dominance_problems(broken, "CreateCustomizationJob")

    # Then the path is reported
    assert problems == [f"fails without Cleanup: {path}"]
