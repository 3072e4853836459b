"""``bedrock-finetune keep``: renew (or end) the deadline of a run's kept provisioned throughput, against moto with
the local Bedrock's control plane (provisioned throughput and its tags)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import boto3
import pytest
from test_cli_stack import REGION, STACK, Stack, stack, workdir  # noqa: F401 - fixtures

from bedrock_finetune import naming
from bedrock_finetune_cli.main import main
from bedrock_finetune_local import aws as local_aws

FOUNDATION = "amazon.nova-micro-v1:0"


def bedrock() -> Any:
    return boto3.client("bedrock", region_name=REGION)


def kept_throughput(stack_name: str = STACK, until: datetime | None = None) -> str:
    local_aws.install()
    tags = naming.run_tags(
        run="run-1",
        execution_arn="arn:aws:states:us-east-1:123456789012:execution:FineTune:run-1",
        sha256="0" * 64,
        source_key="inbox/x.jsonl",
        stack=stack_name,
        keep_until=until or datetime.now(UTC) + timedelta(hours=1),
    )
    return str(
        bedrock().create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=f"kept-{stack_name}", modelId=FOUNDATION, tags=tags
        )["provisionedModelArn"]
    )


def tags_of(arn: str) -> dict[str, str]:
    return naming.tag_map(bedrock().list_tags_for_resource(resourceARN=arn)["tags"])


def report_keeping(stack: Stack, arn: str) -> None:  # noqa: F811
    stack.put_report("run-1", {"runId": "run-1", "deployment": {"mode": "provisioned", "arn": arn, "kept": True}})


def test_hours_moves_the_deadline_from_now(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    arn = kept_throughput()
    report_keeping(stack, arn)
    before = datetime.now(UTC)

    code = main(["keep", "run-1", "--hours", "48", "--json"])

    assert code == 0
    answer = json.loads(capsys.readouterr().out)
    assert answer["arn"] == arn
    until = datetime.strptime(tags_of(arn)[naming.TAG_KEEP_UNTIL], naming.KEEP_UNTIL_FORMAT).replace(tzinfo=UTC)
    assert answer["keptUntil"] == naming.format_keep_until(until)
    assert timedelta(hours=48) - timedelta(seconds=5) <= until - before <= timedelta(hours=48, seconds=5)
    assert naming.TAG_KEEP not in tags_of(arn)


def test_forever_tags_keep_true_and_drops_the_deadline(stack: Stack, capsys: pytest.CaptureFixture[str]) -> None:  # noqa: F811
    arn = kept_throughput()

    assert main(["keep", arn, "--forever"]) == 0

    assert "Kept for good" in capsys.readouterr().out
    tags = tags_of(arn)
    assert tags[naming.TAG_KEEP] == "true"
    assert naming.TAG_KEEP_UNTIL not in tags
    # and back to a deadline: keep=true goes, so the reconciler may delete it once the time has passed
    later = naming.format_keep_until(datetime.now(UTC) + timedelta(days=30))
    assert main(["keep", arn, "--until", later]) == 0
    assert tags_of(arn).get(naming.TAG_KEEP_UNTIL) == later
    assert naming.TAG_KEEP not in tags_of(arn)


@pytest.mark.parametrize(
    ("argv", "reason"),
    [
        (["--hours", "0"], "--hours expects more than 0"),
        (["--hours", "9000"], "at most 8760"),
        (["--until", "tomorrow"], "--until expects a UTC time"),
        (["--until", "2001-01-01T00:00:00Z"], "has passed"),
        (["--until", "2099-01-01T00:00:00Z"], "more than 8760 hours away"),
    ],
)
def test_bad_deadlines_are_usage_errors_and_change_nothing(
    stack: Stack,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
    argv: list[str],
    reason: str,
) -> None:
    arn = kept_throughput()
    before = tags_of(arn)

    assert main(["keep", arn, *argv]) == 2

    assert reason in capsys.readouterr().err
    assert tags_of(arn) == before


def test_another_stacks_throughput_or_a_run_that_kept_none_is_refused(
    stack: Stack,  # noqa: F811
    capsys: pytest.CaptureFixture[str],
) -> None:
    foreign = kept_throughput("another-stack")
    before = tags_of(foreign)
    assert main(["keep", foreign, "--hours", "2"]) == 2
    assert "is not a throughput of stack" in capsys.readouterr().err
    assert tags_of(foreign) == before

    stack.put_report("run-2", {"runId": "run-2", "deployment": {"mode": "provisioned", "arn": None, "kept": False}})
    assert main(["keep", "run-2", "--hours", "2"]) == 2
    assert "kept no provisioned throughput" in capsys.readouterr().err
    assert main(["keep", "run-3", "--hours", "2"]) == 2
    assert "has no report" in capsys.readouterr().err
