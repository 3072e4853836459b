"""``budget.maxDeploymentHours`` (issue 12, item 3): a provisioned throughput a run keeps is tagged ``keep-until``
(its creation + H hours) instead of ``keep=true``; the reconciler leaves it alone until then and deletes it once the
time has passed, unless the tag was moved later (renewed). Run on the local AWS with IAM enforced: the reconciler's
role may delete it because it carries no ``keep=true`` tag (template.yaml's condition), and the virtual clock moves
time forward."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune import naming
from bedrock_finetune_local import runner, stack
from bedrock_finetune_local.clock import CLOCK

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
STACK = "bedrock-finetune-local"
FOUNDATION = "amazon.nova-micro-v1:0"
KEPT_FOR_TWO_HOURS = {"deployment": {"mode": "provisioned", "keep": True}, "budget": {"maxDeploymentHours": 2}}


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[stack.Stack]:
    # No Price List refresh: the reconciler prices with the table, after finding no prices/price-list.json
    options = runner.RunOptions(dataset=VALID, stack_parameters={"PriceRefreshSchedule": "off"})
    with runner.local_aws_session(options, tmp_path / "lambda.log") as deployed:
        assert deployed.price_refresh is None
        yield deployed


def bedrock() -> Any:
    return runner.admin_client("bedrock")


def now() -> datetime:
    return CLOCK.datetime()


def run_in(deployed: stack.Stack, config: dict[str, Any]) -> dict[str, Any]:
    """Start a console run in this local account and wait for its end: its DescribeExecution."""
    key = f"uploads/{uuid.uuid4().hex[:8]}.jsonl"
    runner.admin_client("s3").put_object(Bucket=deployed.bucket, Key=key, Body=VALID.read_bytes())
    sfn = runner.admin_client("stepfunctions")
    arn = sfn.start_execution(
        stateMachineArn=deployed.state_machine_arn,
        name=f"console-{uuid.uuid4().hex[:12]}",
        input=json.dumps({"datasetUri": f"s3://{deployed.bucket}/{key}", **config}),
    )["executionArn"]
    deadline = time.monotonic() + 120
    while (described := sfn.describe_execution(executionArn=arn))["status"] == "RUNNING":
        assert time.monotonic() < deadline, "the run did not end"
        time.sleep(0.05)
    return dict(described)


def kept_throughput(execution: dict[str, Any], until: datetime | str) -> str:
    """A throughput of ``execution``'s run of this stack, kept until ``until`` (a time, or a tag value as typed)."""
    tags = naming.run_tags(
        run=str(execution["name"]),
        execution_arn=str(execution["executionArn"]),
        sha256="0" * 64,
        source_key="inbox/x.jsonl",
        stack=STACK,
        keep_until=until if isinstance(until, datetime) else None,
    )
    if isinstance(until, str):
        tags.append({"key": naming.TAG_KEEP_UNTIL, "value": until})
    arn = str(
        bedrock().create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=f"kept-{len(throughputs())}", modelId=FOUNDATION, tags=tags
        )["provisionedModelArn"]
    )
    CLOCK.advance(600)  # Creating → InService
    return arn


@pytest.fixture
def succeeded(deployed: stack.Stack) -> dict[str, Any]:
    """A run of this stack that SUCCEEDED (no deployment of its own)."""
    execution = run_in(deployed, {"deployment": {"mode": "none"}})
    assert execution["status"] == "SUCCEEDED"
    return execution


def throughputs() -> set[str]:
    return {
        item["provisionedModelArn"]
        for item in bedrock().list_provisioned_model_throughputs()["provisionedModelSummaries"]
    }


def test_kept_until_a_time_means_kept_until_then_and_deleted_after(
    deployed: stack.Stack, succeeded: dict[str, Any]
) -> None:
    # Given a throughput of a run that succeeded, kept for two hours by the run's budget
    arn = kept_throughput(succeeded, now() + timedelta(hours=2))

    # When the reconciler fires within the two hours: it is left alone, counted as kept and in the running cost
    early = runner.fire_reconciler(deployed, 0)
    assert early is not None
    assert early["kept"] == [arn]
    assert early["acted"] == []
    assert early["accessDenied"] == []  # (the missing Price List document is a 404 to it: ListBucket prices/*)
    assert early["provisionedUsdPerHour"] > 0
    assert arn in throughputs()

    # When it fires after the two hours
    CLOCK.advance(2 * 3600)
    late = runner.fire_reconciler(deployed, 0)

    # Then it is deleted (the reconciler's role may: no keep=true tag), and the notification says why
    assert late is not None
    assert late["accessDenied"] == []
    (acted,) = late["acted"]
    assert (acted["arn"], acted["action"]) == (arn, "deleted")
    assert acted["keptUntil"]
    assert "budget.maxDeploymentHours" in acted["detail"]
    assert arn not in throughputs()
    assert late["notification"]["subject"] == "bedrock-finetune reconciler: deleted provisioned throughput x1"


def test_renewed_by_moving_the_tag_later_it_stays(deployed: stack.Stack, succeeded: dict[str, Any]) -> None:
    # Given a throughput kept for one hour, renewed before the hour is up for a day
    arn = kept_throughput(succeeded, now() + timedelta(hours=1))
    renewed = naming.format_keep_until(now() + timedelta(days=1))
    bedrock().tag_resource(resourceARN=arn, tags=[{"key": naming.TAG_KEEP_UNTIL, "value": renewed}])

    # When the reconciler fires two hours later
    CLOCK.advance(2 * 3600)
    result = runner.fire_reconciler(deployed, 0)

    # Then it is still kept
    assert result is not None
    assert result["kept"] == [arn]
    assert result["acted"] == []
    assert arn in throughputs()


def test_a_keep_until_that_is_not_a_time_is_left_alone_and_reported(
    deployed: stack.Stack, succeeded: dict[str, Any]
) -> None:
    arn = kept_throughput(succeeded, "next tuesday")

    CLOCK.advance(48 * 3600)
    result = runner.fire_reconciler(deployed, 0)

    assert result is not None
    assert result["acted"] == []
    assert arn in throughputs()
    (problem,) = result["problems"]
    assert "keep-until" in problem
    assert "'next tuesday'" in problem


def test_keep_true_still_wins_over_an_expired_keep_until(deployed: stack.Stack, succeeded: dict[str, Any]) -> None:
    # Given a throughput kept for good (keep=true) that also carries an expired keep-until
    arn = kept_throughput(succeeded, now() + timedelta(hours=1))
    bedrock().tag_resource(resourceARN=arn, tags=[{"key": naming.TAG_KEEP, "value": "true"}])

    CLOCK.advance(3 * 3600)
    result = runner.fire_reconciler(deployed, 0)

    assert result is not None
    assert result["kept"] == [arn]
    assert arn in throughputs()


def test_a_keep_until_in_another_offset_counts_and_a_failed_runs_is_deleted_at_once(
    deployed: stack.Stack, succeeded: dict[str, Any]
) -> None:
    # Given a throughput renewed by hand with an offset, and one of a run that FAILED (its Cleanup could not delete
    # it), kept for a day
    later = (now() + timedelta(hours=3)).astimezone(timezone(timedelta(hours=2))).isoformat(timespec="minutes")
    renewed = kept_throughput(succeeded, later)
    failed = run_in(deployed, {"baseModelId": "no.such-model-v1:0"})
    assert failed["status"] == "FAILED"
    of_failed_run = kept_throughput(failed, now() + timedelta(days=1))

    # When the reconciler fires
    result = runner.fire_reconciler(deployed, 0)

    # Then the renewed one is kept, the failed run's is deleted now: only a run that succeeded keeps a deployment
    assert result is not None
    assert result["problems"] == []
    assert result["kept"] == [renewed]
    (acted,) = result["acted"]
    assert (acted["arn"], acted["action"], acted["executionStatus"]) == (of_failed_run, "deleted", "FAILED")
    assert throughputs() == {renewed}


def test_a_run_keeps_its_throughput_until_max_deployment_hours_then_the_reconciler_deletes_it(
    deployed: stack.Stack,
) -> None:
    # Given a run that keeps its provisioned throughput with a two-hour budget
    execution = run_in(deployed, KEPT_FOR_TWO_HOURS)
    assert execution["status"] == "SUCCEEDED"
    (arn,) = throughputs()
    tags = naming.tag_map(bedrock().list_tags_for_resource(resourceARN=arn)["tags"])
    assert naming.TAG_KEEP not in tags
    until = naming.keep_until(tags)
    assert isinstance(until, datetime)
    assert timedelta(hours=1) < until - now() <= timedelta(hours=2)

    # When the reconciler fires just before the deadline, and again just after it
    CLOCK.advance((until - now()).total_seconds() - 60)
    before = runner.fire_reconciler(deployed, 0)
    CLOCK.advance(120)
    after = runner.fire_reconciler(deployed, 0)

    # Then it was kept, then deleted, by the reconciler's own role
    assert before is not None
    assert after is not None
    assert before["kept"] == [arn]
    assert [(item["arn"], item["action"]) for item in after["acted"]] == [(arn, "deleted")]
    assert after["accessDenied"] == []
    assert throughputs() == set()


def test_a_run_with_max_deployment_hours_tags_its_kept_throughput_and_says_until_when() -> None:
    # When a run keeps its provisioned throughput with a two-hour budget, and the reconciler fires after it
    result = runner.run(runner.RunOptions(dataset=VALID, via="console", config=KEPT_FOR_TWO_HOURS))

    # Then the throughput is kept (the reconciler left it), until two hours after DeployModel created it
    assert result.status == "SUCCEEDED", result.error
    (kept,) = result.resources["provisioned_throughputs"]
    assert result.reconciler is not None
    assert result.reconciler["kept"] == [kept["arn"]]
    report = result.report or {}
    deployment = report["deployment"]
    assert deployment["kept"] is True
    until = datetime.strptime(deployment["keptUntil"], naming.KEEP_UNTIL_FORMAT).replace(tzinfo=UTC)
    # (two hours after DeployModel, which ran within the run's simulated time, before the report)
    finished = datetime.fromisoformat(report["finishedAt"])
    assert timedelta(hours=1) < until - finished <= timedelta(hours=2)
    # And the notification names the deadline and how to renew it, next to the hourly cost
    message = result.notification_messages[0]
    assert f"It is kept until {deployment['keptUntil']} (budget.maxDeploymentHours)" in message
    assert f"aws bedrock tag-resource --resource-arn {kept['arn']} --tags key=keep-until," in message


def test_max_deployment_hours_is_checked_and_on_demand_deployments_are_kept_for_good() -> None:
    # An on-demand deployment bills per token, not per hour: maxDeploymentHours does not apply to it
    config = {"deployment": {"mode": "on-demand", "keep": True}, "budget": {"maxDeploymentHours": 2}}
    result = runner.run(runner.RunOptions(dataset=VALID, via="console", config=config, reconcile=False))
    assert result.status == "SUCCEEDED", result.error
    assert "keptUntil" not in (result.report or {})["deployment"]

    # And a value out of range fails the run in ResolveConfig, naming the field
    bad = {"deployment": {"mode": "provisioned", "keep": True}, "budget": {"maxDeploymentHours": 0}}
    refused = runner.run(runner.RunOptions(dataset=VALID, via="console", config=bad, reconcile=False))
    assert refused.status == "FAILED"
    assert refused.error is not None
    assert "maxDeploymentHours" in str(refused.error)
