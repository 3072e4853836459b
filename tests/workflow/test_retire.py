"""Retire a model (the retire state machine) on the IAM-enforcing local AWS: what serves the model goes first, then the
model, because Bedrock refuses to delete a model still in use; anything tagged keep is refused without force."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.exceptions import ClientError

from bedrock_finetune_local import runner, stack
from bedrock_finetune_local.aws import iam as local_iam

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
KEPT_PROVISIONED = {"deployment": {"mode": "provisioned", "keep": True}}


def retire(target: str, **extra: object) -> dict[str, object]:
    return {"stateMachine": "RetireStateMachine", "input": {"retire": target, **extra}}


def test_a_kept_deployment_is_refused_without_force_and_retired_in_order_with_it() -> None:
    # Given a run whose provisioned throughput was kept, then a retire of that run, then the same with force
    result = runner.run_many(
        runner.RunOptions(
            dataset=VALID,
            config=KEPT_PROVISIONED,
            then=[retire("{{run.0.runId}}"), retire("{{run.0.modelArn}}", force=True)],
        )
    )
    trained, refused, forced = result.runs
    assert trained.status == "SUCCEEDED", trained.error
    model_arn = (trained.report or {})["model"]["arn"]
    throughput_arn = (trained.report or {})["deployment"]["arn"]

    # Then without force nothing is deleted: the retire fails with RetireRefused naming the kept throughput
    assert (refused.state_machine, refused.status) == ("RetireStateMachine", "FAILED")
    assert (refused.error or {}).get("error") == "RetireRefused"
    assert throughput_arn in (refused.error or {}).get("cause", "")
    assert any("RETIRE FAILED" in subject for subject in refused.notifications)

    # And with force the throughput is deleted first, then the model, and nothing of the run is left
    assert forced.status == "SUCCEEDED", forced.error
    (model,) = (forced.report or {})["models"]
    assert model["arn"] == model_arn
    assert model["deleted"] is True
    assert model["deletedServers"] == [f"provisioned throughput {throughput_arn}"]
    assert result.resources["provisioned_throughputs"] == []
    assert result.resources["custom_models"] == []
    assert any("RETIRED" in subject for subject in forced.notifications)


def test_retire_deletes_an_unkept_deployment_without_force_and_the_local_bedrock_refuses_the_wrong_order(
    tmp_path: Path,
) -> None:
    # Given a run whose on-demand deployment is kept only by the run's choice, untagged as keep afterwards
    options = runner.RunOptions(dataset=VALID, config={"deployment": {"mode": "on-demand", "keep": True}})
    with runner.local_aws_session(options, tmp_path / "lambda.log") as deployed:
        model_arn, _ = _train_and_untag(deployed)
        bedrock = local_iam.admin_client("bedrock", stack.REGION)
        # When the model is deleted while the deployment still serves it (the wrong order)
        # Then the local Bedrock refuses, as Bedrock does
        with pytest.raises(ClientError) as refused:
            bedrock.delete_custom_model(modelIdentifier=model_arn)
        assert refused.value.response["Error"]["Code"] == "ConflictException"

        # When the retire state machine runs without force
        sfn = boto3.client("stepfunctions", region_name=stack.REGION)
        execution = sfn.start_execution(
            stateMachineArn=deployed.physical["RetireStateMachine"],
            name="retire-1",
            input=f'{{"retire": "{model_arn}"}}',
        )["executionArn"]
        status = runner.wait_for_execution(sfn, execution, timeout=60)

        # Then the deployment and the model are gone
        assert status == "SUCCEEDED", sfn.describe_execution(executionArn=execution).get("cause")
        assert bedrock.list_custom_model_deployments()["modelDeploymentSummaries"] == []
        assert bedrock.list_custom_models()["modelSummaries"] == []


def _train_and_untag(deployed: stack.Stack) -> tuple[str, str]:
    """A console run that keeps its on-demand deployment; then the keep tag is taken off the deployment."""
    s3 = boto3.client("s3", region_name=stack.REGION)
    sfn = boto3.client("stepfunctions", region_name=stack.REGION)
    s3.put_object(Bucket=deployed.bucket, Key="uploads/support-chat.jsonl", Body=VALID.read_bytes())
    execution = sfn.start_execution(
        stateMachineArn=deployed.state_machine_arn,
        name="console-retire-me",
        input=(
            f'{{"datasetUri": "s3://{deployed.bucket}/uploads/support-chat.jsonl", '
            '"deployment": {"mode": "on-demand", "keep": true}}'
        ),
    )["executionArn"]
    assert runner.wait_for_execution(sfn, execution, timeout=120) == "SUCCEEDED"
    bedrock = local_iam.admin_client("bedrock", stack.REGION)
    (summary,) = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    bedrock.untag_resource(resourceARN=summary["customModelDeploymentArn"], tagKeys=["keep"])
    return str(summary["modelArn"]), str(summary["customModelDeploymentArn"])
