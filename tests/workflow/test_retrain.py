"""Retrain without records and swap the kept deployment in place (issue: iterate as the how-to teaches), on the
IAM-enforcing local AWS: the earlier run's staged data is rebuilt line for line, the excluded records are left out,
the new model is smoke-tested on a deployment of its own, and only then does the kept deployment move to it."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import pytest

from bedrock_finetune_local import runner, stack
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.aws import iam as local_iam

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
LINES = VALID.read_bytes().splitlines()


@dataclass
class Account:
    deployed: stack.Stack
    s3: Any
    sfn: Any
    bedrock: Any

    def start(self, name: str, execution_input: dict[str, Any]) -> dict[str, Any]:
        arn = self.sfn.start_execution(
            stateMachineArn=self.deployed.state_machine_arn, name=name, input=json.dumps(execution_input)
        )["executionArn"]
        status = runner.wait_for_execution(self.sfn, arn, timeout=120)
        described = self.sfn.describe_execution(executionArn=arn)
        report = self.report(name)
        return {"status": status, "error": described.get("error"), "cause": described.get("cause"), "report": report}

    def report(self, name: str) -> dict[str, Any]:
        body = self.s3.get_object(Bucket=self.deployed.bucket, Key=f"reports/{name}/report.json")["Body"].read()
        return dict(json.loads(body))

    def object_bytes(self, location: dict[str, Any]) -> bytes:
        return bytes(self.s3.get_object(Bucket=location["bucket"], Key=location["key"])["Body"].read())


@contextmanager
def local_account(tmp_path: Path) -> Iterator[Account]:
    options = runner.RunOptions(dataset=VALID)
    with runner.local_aws_session(options, tmp_path / "lambda.log") as deployed:
        s3 = boto3.client("s3", region_name=stack.REGION)
        s3.put_object(Bucket=deployed.bucket, Key="uploads/support-chat.jsonl", Body=VALID.read_bytes())
        yield Account(
            deployed=deployed,
            s3=s3,
            sfn=boto3.client("stepfunctions", region_name=stack.REGION),
            bedrock=local_iam.admin_client("bedrock", stack.REGION),
        )


def first_run(account: Account, mode: str) -> dict[str, Any]:
    uri = f"s3://{account.deployed.bucket}/uploads/support-chat.jsonl"
    result = account.start("first", {"datasetUri": uri, "deployment": {"mode": mode, "keep": True}})
    assert result["status"] == "SUCCEEDED", result["cause"]
    return result["report"]


def serving(account: Account, mode: str, arn: str) -> str:
    if mode == "provisioned":
        return str(account.bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["modelArn"])
    return str(account.bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["modelArn"])


@pytest.mark.parametrize("mode", ["on-demand", "provisioned"])
def test_retraining_without_three_lines_swaps_the_kept_deployment_in_place(tmp_path: Path, mode: str) -> None:
    with local_account(tmp_path) as account:
        # Given a run that kept its deployment, and the bytes of its staged data
        earlier = first_run(account, mode)
        kept = earlier["deployment"]["arn"]
        staged = earlier["dataset"]["staged"]
        staged_before = {role: account.object_bytes(staged[role]) for role in ("train", "validation")}

        # When it is retrained without lines 2, 5 and 7 of the original file, swapping the deployment
        result = account.start(
            "retrain",
            {"retrainFrom": "first", "excludeRecords": {"lines": [2, 5, 7]}, "swapDeployment": True},
        )

        # Then the retrain succeeds with three records fewer, staged under its own content address
        assert result["status"] == "SUCCEEDED", result["cause"]
        report = result["report"]
        retrain = report["retrain"]
        assert (retrain["recordsBefore"], retrain["recordsAfter"]) == (len(LINES), len(LINES) - 3)
        new_staged = report["dataset"]["staged"]
        assert new_staged["trainRecords"] + new_staged["validationRecords"] == len(LINES) - 3
        assert new_staged["sha256"] != staged["sha256"]
        # And the excluded records are named by line and hash, never by their text
        assert retrain["excludedRecords"] == [
            {"line": n, "sha256": hashlib.sha256(LINES[n - 1]).hexdigest()} for n in (2, 5, 7)
        ]
        assert LINES[1].decode()[:40] not in json.dumps(report)
        # And the earlier staged data is byte-for-byte unchanged
        assert {role: account.object_bytes(staged[role]) for role in ("train", "validation")} == staged_before
        # And the kept deployment keeps its ARN and now serves the new model; the smoke test's own deployment is gone
        new_model = report["model"]["arn"]
        assert new_model != earlier["model"]["arn"]
        assert retrain["previousModelArn"] == earlier["model"]["arn"]
        assert retrain["swap"] == {
            "deploymentArn": kept,
            "mode": mode,
            "status": "Swapped",
            "fromModelArn": earlier["model"]["arn"],
            "toModelArn": new_model,
        }
        assert serving(account, mode, kept) == new_model
        if mode == "provisioned":
            throughputs = account.bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
            assert [item["provisionedModelArn"] for item in throughputs] == [kept]
        else:
            deployments = account.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
            assert [item["customModelDeploymentArn"] for item in deployments] == [kept]
        # And the trained data really lacks the three records (Bedrock read the new staged files)
        trained = account.object_bytes(new_staged["train"]) + account.object_bytes(new_staged["validation"])
        assert all(LINES[n - 1] not in trained for n in (2, 5, 7))


def test_when_the_new_model_fails_its_smoke_test_the_deployment_stays_on_the_old_model(tmp_path: Path) -> None:
    with local_account(tmp_path) as account:
        # Given a run that kept its on-demand deployment
        earlier = first_run(account, "on-demand")
        kept = earlier["deployment"]["arn"]

        # When the retrain's new model answers nothing to the smoke test
        local_bedrock.configure(local_bedrock.current_settings(), runtime_answer="empty")
        result = account.start(
            "retrain", {"retrainFrom": "first", "excludeRecords": {"lines": [1]}, "swapDeployment": True}
        )

        # Then the retrain fails in its smoke test, the kept deployment still serves the old model, and the
        # temporary deployment of the new model is gone
        assert (result["status"], result["error"]) == ("FAILED", "SmokeTestFailed")
        assert serving(account, "on-demand", kept) == earlier["model"]["arn"]
        deployments = account.bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
        assert [item["customModelDeploymentArn"] for item in deployments] == [kept]
        assert result["report"]["retrain"]["swap"]["status"] == "NotSwapped"


def test_excluding_by_hash_and_refusing_what_does_not_exist(tmp_path: Path) -> None:
    with local_account(tmp_path) as account:
        earlier = first_run(account, "none")
        # Given a record hash of the original file, and one that is in no record
        digest = hashlib.sha256(LINES[3]).hexdigest()
        # When retraining without the existing one (no swap: the earlier run kept no deployment)
        result = account.start("by-hash", {"retrainFrom": "first", "excludeRecords": {"sha256": [digest.upper()]}})
        # Then that record (line 4) is the one left out
        assert result["status"] == "SUCCEEDED", result["cause"]
        assert result["report"]["retrain"]["excludedRecords"] == [{"line": 4, "sha256": digest}]
        # And an unknown hash, a line beyond the file, and a swap without a kept deployment are refused by name
        unknown = account.start("unknown", {"retrainFrom": "first", "excludeRecords": {"sha256": ["0" * 64]}})
        assert "excludeRecords.sha256: no record" in (unknown["cause"] or "")
        beyond = account.start("beyond", {"retrainFrom": "first", "excludeRecords": {"lines": [10_000]}})
        assert f"10000 beyond the {len(LINES)} records" in (beyond["cause"] or "")
        no_swap = account.start(
            "no-swap", {"retrainFrom": "first", "excludeRecords": {"lines": [1]}, "swapDeployment": True}
        )
        assert "kept no deployment" in (no_swap["cause"] or "")
        assert earlier["deployment"]["arn"] is None
