"""The reconciler in the template: scheduled every 15 minutes by default (a stack parameter), invoked by its own
schedule role only, and allowed to stop or delete only what carries this stack's tags and no keep tag."""

from __future__ import annotations

import re
from typing import Any

import pytest

from .checks import Json

FUNCTION = "ReconcileFunction"
STOP_OR_DELETE = {
    "bedrock:StopModelCustomizationJob",
    "bedrock:DeleteProvisionedModelThroughput",
    "bedrock:DeleteCustomModelDeployment",
}


def statements(cfn: Json, role: str) -> list[dict[str, Any]]:
    return [
        statement
        for policy in cfn["Resources"][role]["Properties"].get("Policies", [])
        for statement in policy["PolicyDocument"]["Statement"]
    ]


def schedule_of(cfn: Json, function: str) -> dict[str, Any]:
    """The one schedule whose target is ``function``."""
    (schedule,) = [
        r
        for r in cfn["Resources"].values()
        if r["Type"] == "AWS::Scheduler::Schedule"
        and r["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [function, "Arn"]}
    ]
    return schedule


def actions(statement: dict[str, Any]) -> set[str]:
    value = statement["Action"]
    return {value} if isinstance(value, str) else set(value)


def test_the_schedule_fires_every_15_minutes_by_default_and_can_be_changed(template: Json, cfn: Json) -> None:
    # Given the template's parameter and the schedule SAM generates
    parameter = template["Parameters"]["ReconcileSchedule"]
    schedule = schedule_of(cfn, FUNCTION)

    # Then the schedule runs the reconciler at the parameter's rate, 15 minutes unless changed
    assert parameter["Default"] == "rate(15 minutes)"
    assert schedule["Properties"]["ScheduleExpression"] == {"Ref": "ReconcileSchedule"}
    assert schedule["Properties"]["Target"]["Arn"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}
    # And it is not given a fixed name, which a second stack in the account would collide with
    assert "Name" not in schedule["Properties"]


@pytest.mark.parametrize(
    ("expression", "accepted"),
    [
        ("rate(15 minutes)", True),
        ("rate(1 minute)", True),
        ("rate(2 hours)", True),
        ("cron(0/15 * * * ? *)", True),
        ("rate(1 minutes)", False),  # EventBridge Scheduler wants the singular for 1
        ("rate(0 minutes)", False),
        ("every 15 minutes", False),
    ],
)
def test_the_parameter_accepts_only_scheduler_expressions(template: Json, expression: str, accepted: bool) -> None:
    pattern = template["Parameters"]["ReconcileSchedule"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, expression)) is accepted


def test_only_the_schedule_role_may_invoke_the_reconciler(cfn: Json) -> None:
    # Given the role the schedule uses
    schedule = schedule_of(cfn, FUNCTION)
    role = schedule["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    trust = cfn["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]

    # Then EventBridge Scheduler assumes it and it may only invoke the reconciler
    assert [item["Principal"] for item in trust] == [{"Service": ["scheduler.amazonaws.com"]}]
    (statement,) = statements(cfn, role)
    assert actions(statement) == {"lambda:InvokeFunction"}
    assert statement["Resource"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}


def test_stop_and_delete_are_allowed_only_on_this_stacks_unkept_resources(cfn: Json) -> None:
    # Given the reconciler's policy
    role = cfn["Resources"][FUNCTION]["Properties"]["Role"]["Fn::GetAtt"][0]
    granting = [s for s in statements(cfn, role) if actions(s) & STOP_OR_DELETE]

    # Then one statement grants Stop/Delete, on Bedrock ARNs (never "*"), conditioned on the resource's tags
    (statement,) = granting
    assert actions(statement) == STOP_OR_DELETE
    assert "*" not in statement["Resource"]
    condition = statement["Condition"]
    assert condition["StringEquals"] == {
        "aws:ResourceTag/managed-by": "bedrock-finetune",
        "aws:ResourceTag/stack": {"Ref": "AWS::StackName"},
    }
    assert condition["StringNotEqualsIgnoreCase"] == {"aws:ResourceTag/keep": "true"}


def test_the_reconciler_knows_its_stack_and_state_machine(cfn: Json) -> None:
    variables = cfn["Resources"][FUNCTION]["Properties"]["Environment"]["Variables"]
    assert variables["STACK_NAME"] == {"Ref": "AWS::StackName"}
    assert variables["STATE_MACHINE_ARN"] == {"Ref": "FineTuneStateMachine"}


def test_every_function_tags_with_the_stack_name(cfn: Json) -> None:
    # Given every function of the stack (each run's resources are created by some of them)
    functions = [r for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"]

    # Then each has the stack's name in its environment
    assert functions
    assert all(
        f["Properties"]["Environment"]["Variables"]["STACK_NAME"] == {"Ref": "AWS::StackName"} for f in functions
    )
