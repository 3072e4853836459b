"""The reconciler (issue 8, item 4): the scheduled sweep that stops or deletes this stack's resources whose run no
longer runs, run on the local AWS with IAM enforced, as its schedule fires it (the schedule's role invokes the real
handler, which runs as its own function role)."""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from botocore.exceptions import ClientError

from bedrock_finetune import naming
from bedrock_finetune_local import runner, stack
from bedrock_finetune_local.aws import faults as local_faults
from bedrock_finetune_local.aws import iam as local_iam
from bedrock_finetune_local.aws.bedrock import LocalBedrockBackend
from bedrock_finetune_local.clock import CLOCK

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
STACK = "bedrock-finetune-local"
FOUNDATION = "amazon.nova-micro-v1:0"


@pytest.fixture
def deployed(tmp_path: Path) -> Iterator[stack.Stack]:
    with runner.local_aws_session(runner.RunOptions(dataset=VALID), tmp_path / "lambda.log") as deployed:
        yield deployed


def bedrock() -> Any:
    return runner.admin_client("bedrock")


def throughput(name: str, tags: list[dict[str, str]], *, settle: bool = True) -> str:
    """A no-commitment throughput created by hand (the runner's administrator), as a leak would leave it."""
    arn = str(
        bedrock().create_provisioned_model_throughput(
            modelUnits=1, provisionedModelName=name, modelId=FOUNDATION, tags=tags
        )["provisionedModelArn"]
    )
    if settle:
        bedrock().get_provisioned_model_throughput(provisionedModelId=arn)  # one poll: Creating → InService
    return arn


def stack_tags(execution_arn: str, *, keep: bool = False, stack_name: str = STACK) -> list[dict[str, str]]:
    return naming.run_tags(
        run="left-behind", execution_arn=execution_arn, sha256="0" * 64, source_key="inbox/x.jsonl",
        stack=stack_name, keep=keep,
    )  # fmt: skip


def missing_execution(deployed: stack.Stack) -> str:
    """The ARN of an execution of the stack's state machine that does not exist (it ended long ago, or never ran)."""
    return deployed.state_machine_arn.replace(":stateMachine:", ":execution:") + ":gone-run"


def throughput_arns() -> set[str]:
    return {item["provisionedModelArn"] for item in bedrock().list_provisioned_model_throughputs()[
        "provisionedModelSummaries"]}  # fmt: skip


def test_a_left_behind_throughput_is_deleted_and_kept_or_foreign_ones_are_not(deployed: stack.Stack) -> None:
    # Given three throughputs and no running execution: one tagged as this stack's, one also tagged keep=true,
    # one tagged as another stack's (managed-by the same product) and one with no tags at all
    gone = missing_execution(deployed)
    leaked = throughput("leaked", stack_tags(gone))
    kept = throughput("kept", stack_tags(gone, keep=True))
    foreign = throughput("foreign", stack_tags(gone, stack_name="another-stack"))
    untagged = throughput("untagged", [{"key": "team", "value": "ml"}])

    # When the reconciler's schedule fires
    result = runner.fire_reconciler(deployed, 0)

    # Then only this stack's unkept throughput is deleted
    assert result is not None
    assert throughput_arns() == {kept, foreign, untagged}
    (acted,) = result["acted"]
    assert (acted["arn"], acted["action"], acted["executionStatus"]) == (leaked, "deleted", "none")
    assert acted["runId"] == "left-behind"
    assert result["kept"] == [kept]
    assert result["notOurs"] == 2
    assert result["problems"] == []
    assert result["accessDenied"] == []
    # And what it did is in reports/reconciler/<timestamp>.json
    s3 = runner.admin_client("s3")
    bucket, _, key = result["reportUri"].removeprefix("s3://").partition("/")
    assert re.fullmatch(r"reports/reconciler/\d{4}-\d\d-\d\dT\d\d-\d\d-\d\dZ\.json", key)
    report = json.loads(s3.get_object(Bucket=bucket, Key=key)["Body"].read())
    assert [item["arn"] for item in report["acted"]] == [leaked]
    # And one notification says so
    assert result["notification"]["subject"] == "bedrock-finetune reconciler: deleted provisioned throughput x1"

    # When the schedule fires again
    second = runner.fire_reconciler(deployed, 0)

    # Then it is idempotent: nothing is acted on, written or notified, the kept and foreign ones are still there
    assert second is not None
    assert (second["acted"], second["reportUri"], second["notification"]) == ([], None, None)
    assert throughput_arns() == {kept, foreign, untagged}


def test_a_resource_deleted_meanwhile_by_cleanup_is_not_a_failure(deployed: stack.Stack) -> None:
    # Given a leaked throughput that Cleanup deletes between the reconciler's List and its Delete (the Delete
    # answers ResourceNotFoundException)
    raced = throughput("raced", stack_tags(missing_execution(deployed)))
    fault = local_faults.Fault.parse("bedrock:DeleteProvisionedModelThroughput=ResourceNotFoundException*1")

    # When the schedule fires
    with local_faults.inject_faults([fault]):
        result = runner.fire_reconciler(deployed, 0)
        fired = local_faults.fired_counts()

    # Then it counts as already ended: no failure, no problem, nothing notified
    assert result is not None
    assert fired == {"bedrock:DeleteProvisionedModelThroughput=ResourceNotFoundException*1": 1}
    (acted,) = result["acted"]
    assert (acted["arn"], acted["action"]) == (raced, "already-ended")
    assert result["problems"] == []
    assert result["notification"] is None


def test_a_throughput_still_creating_is_waited_for_and_deleted(deployed: stack.Stack) -> None:
    # Given a leaked throughput still Creating (its Delete answers ConflictException until a poll sees it settle)
    creating = throughput("creating", stack_tags(missing_execution(deployed)), settle=False)
    assert bedrock().list_provisioned_model_throughputs()["provisionedModelSummaries"][0]["status"] == "Creating"

    # When the schedule fires
    result = runner.fire_reconciler(deployed, 0)

    # Then the reconciler waited for it to settle and deleted it
    assert result is not None
    (acted,) = result["acted"]
    assert (acted["arn"], acted["action"]) == (creating, "deleted")
    assert result["problems"] == []
    assert throughput_arns() == set()


def test_the_reconciler_role_cannot_delete_what_is_not_this_stacks_whatever_the_code_does(
    deployed: stack.Stack,
) -> None:
    # Given a throughput of another stack, and one of this stack tagged keep=true
    gone = missing_execution(deployed)
    foreign = throughput("foreign", stack_tags(gone, stack_name="another-stack"))
    kept = throughput("kept", stack_tags(gone, keep=True))
    ours = throughput("ours", stack_tags(gone))
    role_arn = next(
        arn for arn in local_iam_role_arns() if "ReconcileFunctionRole" in arn
    )  # the function's role, as SAM generated it
    credentials = local_iam.role_credentials(role_arn, "reconcile-by-hand")
    client = boto3.client("bedrock", region_name=stack.REGION, **credentials.as_client_kwargs())

    # When the reconciler's role itself calls Delete on each
    for arn in (foreign, kept):
        with pytest.raises(ClientError) as denied:
            client.delete_provisioned_model_throughput(provisionedModelId=arn)
        # Then IAM refuses both (the policy's aws:ResourceTag conditions), with Bedrock's AccessDenied
        assert denied.value.response["Error"]["Code"] == "AccessDeniedException"
    # And allows the one tagged as this stack's (once it is no longer Creating: 10 simulated minutes)
    CLOCK.advance(600)
    client.delete_provisioned_model_throughput(provisionedModelId=ours)
    assert throughput_arns() == {foreign, kept}


def local_iam_role_arns() -> list[str]:
    return [role["Arn"] for role in runner.admin_client("iam").list_roles()["Roles"]]


def test_a_resource_of_a_running_execution_is_left_to_its_run(deployed: stack.Stack) -> None:
    # Given an inbox run whose job is still training (it never finishes on its own)
    from bedrock_finetune_local.aws import bedrock as local_bedrock

    local_bedrock.configure(job_duration_seconds=30 * 86400)
    s3 = runner.admin_client("s3")
    sfn = runner.admin_client("stepfunctions")
    deadline = time.monotonic() + 60
    # Simulated time stands still while the test looks: the run waits for its job's end meanwhile.
    with CLOCK.busy():
        s3.put_object(Bucket=deployed.bucket, Key="inbox/support-chat.jsonl", Body=VALID.read_bytes())
        while not (jobs := bedrock().list_model_customization_jobs()["modelCustomizationJobSummaries"]):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        (job,) = jobs

        # When the schedule fires while its execution runs
        result = runner.fire_reconciler(deployed, 0)

        # Then the job is left alone and reported as running
        assert result is not None
        assert result["running"] == [job["jobArn"]]
        assert result["acted"] == []
        assert bedrock().get_model_customization_job(jobIdentifier=job["jobArn"])["status"] == "InProgress"
    (execution,) = sfn.list_executions(stateMachineArn=deployed.state_machine_arn)["executions"]
    sfn.stop_execution(executionArn=execution["executionArn"])  # the aborted-run cleanup stops the job


def abort_mid_create(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make CreateModelCustomizationJob's call take long enough for a person to abort the execution meanwhile: the
    execution is stopped (and the aborted-run cleanup runs on its status change) before Bedrock creates the job, as
    when StopExecution lands while the Lambda waits for Bedrock's answer. Returns the executions it stopped."""
    original = LocalBedrockBackend._create_job
    stopped: list[str] = []

    def create_job(self: LocalBedrockBackend, params: dict[str, Any]) -> str:
        tags = naming.tag_map(params.get("jobTags") or [])
        execution = tags[naming.TAG_EXECUTION]
        if execution not in stopped:
            stopped.append(execution)
            # A person in the console: the account's administrator, not the Lambda's role whose environment this is
            admin = runner.admin_client("stepfunctions")
            admin.stop_execution(executionArn=execution, error="Aborted", cause="stopped by hand mid-create")
        return original(self, params)

    monkeypatch.setattr(LocalBedrockBackend, "_create_job", create_job)
    return stopped


def test_abort_while_the_job_is_being_created_leaves_nothing_running_once_the_reconciler_ran(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given an execution aborted while CreateCustomizationJob's Lambda is mid-call: the aborted-run cleanup looks for
    # the run's job before Bedrock has created it
    stopped = abort_mid_create(monkeypatch)

    # When the run ends and the reconciler's schedule fires
    result = runner.run(runner.RunOptions(dataset=VALID))

    # Then the execution was aborted after the job request went out
    assert result.status == "ABORTED"
    assert stopped == [result.execution_arn]
    assert result.jobs_created == 1
    # And the reconciler stopped the job the aborted-run cleanup could not see
    assert result.reconciler is not None
    (acted,) = result.reconciler["acted"]
    assert (acted["kind"], acted["action"], acted["executionStatus"]) == (
        "model-customization-job", "stopped", "ABORTED"
    )  # fmt: skip
    assert acted["executionArn"] == result.execution_arn
    # And nothing is left running: the job is stopping, no throughput or deployment exists
    assert [job["status"] for job in result.resources["jobs_in_progress"]] == ["Stopping"]
    assert result.resources["provisioned_throughputs"] == []
    assert result.resources["custom_model_deployments"] == []
    assert result.reconciler["notification"]["subject"].startswith("bedrock-finetune reconciler: stopped job x1")


def test_without_the_reconciler_the_job_created_mid_abort_keeps_training(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the same abort while the job is being created
    abort_mid_create(monkeypatch)

    # When the run ends and no reconciler runs
    result = runner.run(runner.RunOptions(dataset=VALID, reconcile=False))

    # Then the job is still InProgress: the aborted-run cleanup alone misses it (what the reconciler is for)
    assert result.status == "ABORTED"
    assert result.reconciler is None
    assert [job["status"] for job in result.resources["jobs_in_progress"]] == ["InProgress"]


def test_a_run_tags_what_it_creates_and_the_throughput_it_keeps_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given the tags of every Create call the local Bedrock receives
    seen: dict[str, dict[str, str]] = {}
    for name in ("_create_job", "_create_provisioned"):
        original = getattr(LocalBedrockBackend, name)

        def record(self: LocalBedrockBackend, params: dict[str, Any], _original: Any = original) -> str:
            for key in ("jobTags", "customModelTags", "tags"):
                if key in params:
                    seen[key] = naming.tag_map(params[key])
            return str(_original(self, params))

        monkeypatch.setattr(LocalBedrockBackend, name, record)

    # When a run that keeps its provisioned throughput runs, and the reconciler's schedule fires after it
    config = {"deployment": {"mode": "provisioned", "keep": True}}
    result = runner.run(runner.RunOptions(dataset=VALID, via="console", config=config))

    # Then the job, its model and the throughput carry this stack, the product and the execution; only the
    # throughput is tagged keep=true
    assert result.status == "SUCCEEDED", result.error
    assert set(seen) == {"jobTags", "customModelTags", "tags"}
    for tags in seen.values():
        assert tags[naming.TAG_STACK] == STACK
        assert tags[naming.TAG_MANAGED_BY] == naming.MANAGED_BY
        assert tags[naming.TAG_EXECUTION] == result.execution_arn
    assert [naming.is_kept(tags) for tags in seen.values()] == [False, False, True]
    # And the reconciler left the kept throughput running
    (kept,) = result.resources["provisioned_throughputs"]
    assert kept["status"] == "InService"
    assert result.reconciler is not None
    assert result.reconciler["kept"] == [kept["arn"]]
    assert result.reconciler["acted"] == []
