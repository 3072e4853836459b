"""RefreshPrices in the template (issue 12, item 1): a daily schedule by default that a stack parameter changes or
turns off, invoked by its own schedule role only, allowed the Price List and the prices/ prefix of the bucket only;
the functions that price read that prefix only."""

from __future__ import annotations

import re

import pytest

from .checks import Json
from .test_reconciler import actions, schedule_of, statements

FUNCTION = "RefreshPricesFunction"


def test_the_refresh_runs_daily_unless_changed_and_off_disables_its_schedule(template: Json, cfn: Json) -> None:
    parameter = template["Parameters"]["PriceRefreshSchedule"]
    schedule = schedule_of(cfn, FUNCTION)["Properties"]

    assert parameter["Default"] == "rate(1 day)"
    assert template["Conditions"]["RefreshesPrices"] == {
        "Fn::Not": [{"Fn::Equals": [{"Ref": "PriceRefreshSchedule"}, "off"]}]
    }
    assert schedule["State"] == {"Fn::If": ["RefreshesPrices", "ENABLED", "DISABLED"]}
    assert schedule["ScheduleExpression"]["Fn::If"][:2] == ["RefreshesPrices", {"Ref": "PriceRefreshSchedule"}]
    assert "Name" not in schedule


@pytest.mark.parametrize(
    ("expression", "accepted"),
    [
        ("off", True),
        ("rate(1 day)", True),
        ("rate(7 days)", True),
        ("rate(12 hours)", True),
        ("cron(0 6 * * ? *)", True),
        ("rate(1 days)", False),  # EventBridge Scheduler wants the singular for 1
        ("rate(0 days)", False),
        ("rate(5 minutes)", False),  # prices change monthly at most; minutes would only spend GetProducts calls
        ("daily", False),
    ],
)
def test_the_parameter_accepts_off_and_scheduler_expressions(template: Json, expression: str, accepted: bool) -> None:
    pattern = template["Parameters"]["PriceRefreshSchedule"]["AllowedPattern"]
    assert bool(re.fullmatch(pattern, expression)) is accepted


def test_only_the_schedule_role_may_invoke_the_refresh(cfn: Json) -> None:
    role = schedule_of(cfn, FUNCTION)["Properties"]["Target"]["RoleArn"]["Fn::GetAtt"][0]
    trust = cfn["Resources"][role]["Properties"]["AssumeRolePolicyDocument"]["Statement"]
    assert [item["Principal"] for item in trust] == [{"Service": ["scheduler.amazonaws.com"]}]
    (statement,) = statements(cfn, role)
    assert actions(statement) == {"lambda:InvokeFunction"}
    assert statement["Resource"] == {"Fn::GetAtt": [FUNCTION, "Arn"]}


def test_the_refresh_may_read_the_price_list_and_write_only_under_prices(cfn: Json) -> None:
    role = cfn["Resources"][FUNCTION]["Properties"]["Role"]["Fn::GetAtt"][0]
    granted = {
        (action, str(statement["Resource"])) for statement in statements(cfn, role) for action in actions(statement)
    }
    assert granted == {
        ("pricing:GetProducts", "*"),
        ("s3:PutObject", str({"Fn::Sub": "${DataBucket.Arn}/prices/price-list.json"})),
    }


@pytest.mark.parametrize("function", ["ValidateDatasetFunction", "ReconcileFunction"])
def test_the_functions_that_price_may_list_only_the_prices_prefix(cfn: Json, function: str) -> None:
    role = cfn["Resources"][function]["Properties"]["Role"]["Fn::GetAtt"][0]
    listing = [s for s in statements(cfn, role) if "s3:ListBucket" in actions(s)]
    assert listing
    for statement in listing:
        assert statement["Condition"] == {"StringLike": {"s3:prefix": "prices/*"}}
