"""ClaimTraining: the same content and settings train once (a conditional write in DynamoDB)."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import boto3
import pytest

from bedrock_finetune.config import RunConfig, StackSettings
from bedrock_finetune.logic import claims, stage_dataset
from bedrock_finetune.logic.validate_dataset import validate
from bedrock_finetune.models import ExecutionContext, StageDatasetOutput
from bedrock_finetune_local import stack

from .conftest import REGION, Account
from .test_stage_and_train import make_config

TABLE = "training-table"


def create_training_table() -> None:
    """The template's TrainingTable, created by the local deployer from template.yaml (no second copy)."""
    properties = stack.load_template(stack.project_root())["Resources"]["TrainingTable"]["Properties"]
    stack._CREATORS["AWS::DynamoDB::Table"](
        stack.Stack(name="test", parameters={}), "TrainingTable", {**properties, "TableName": TABLE}
    )


def with_training_table(account: Account, monkeypatch: pytest.MonkeyPatch) -> StackSettings:
    create_training_table()
    monkeypatch.setenv("TRAINING_TABLE_NAME", TABLE)
    return account.settings.model_copy(update={"training_table_name": TABLE})


@pytest.fixture
def settings(account: Account, monkeypatch: pytest.MonkeyPatch) -> StackSettings:
    return with_training_table(account, monkeypatch)


def run_of(account: Account, key: str, name: str, **overrides: object) -> tuple[RunConfig, StageDatasetOutput]:
    """A run (its own execution) of the 40-record dataset under ``key``, validated and staged."""
    execution = ExecutionContext(
        Id=f"arn:aws:states:us-east-1:123456789012:execution:finetune:{name}",
        Name=name,
        StartTime="2026-11-29T17:00:00Z",
    )
    account = Account(s3=account.s3, bedrock=account.bedrock, settings=account.settings, execution=execution)
    config = make_config(account, key, 40, **overrides)
    return config, stage_dataset.stage(config, validate(config))


def test_the_same_content_under_another_key_is_a_duplicate_naming_the_earlier_run_and_model(
    account: Account, settings: StackSettings
) -> None:
    # Given a run that claimed its content and settings
    first_config, first_staged = run_of(account, "inbox/orders.jsonl", "run-a")
    first = claims.claim(first_config, first_staged, settings)
    assert first.claimed

    # When the same bytes are dropped under another key while it runs
    second_config, second_staged = run_of(account, "inbox/orders-copy.jsonl", "run-b")
    second = claims.claim(second_config, second_staged, settings)

    # Then the second run does not train: it names the first run, which is RUNNING, and the model it will produce
    assert not second.claimed
    assert second.fingerprint == first.fingerprint
    assert (second.duplicate_of, second.duplicate_status) == ("run-a", "RUNNING")
    assert second.duplicate_model_name == claims.model_name(first_config)

    # And once the first run succeeded, a third drop names its model's ARN
    model_arn = "arn:aws:bedrock:us-east-1:123456789012:custom-model/amazon.nova-micro-v1:0:128k/abc"
    assert claims.complete(first, first_config, model_arn, settings)
    third_config, third_staged = run_of(account, "inbox/orders-again.jsonl", "run-c")
    third = claims.claim(third_config, third_staged, settings)
    assert (third.duplicate_of, third.duplicate_status, third.duplicate_model_arn) == ("run-a", "SUCCEEDED", model_arn)


def test_other_hyperparameters_or_another_model_are_another_training(account: Account, settings: StackSettings) -> None:
    # Given a run that claimed the dataset with the defaults
    config, staged = run_of(account, "inbox/orders.jsonl", "run-a")
    assert claims.claim(config, staged, settings).claimed

    # When the same dataset comes with other hyperparameters, and with no validation split
    epochs_config, epochs_staged = run_of(account, "inbox/o2.jsonl", "run-b", hyperParameters={"epochCount": 3})
    nosplit_config, nosplit_staged = run_of(account, "inbox/o3.jsonl", "run-c", validationSplitPercent=0)

    # Then each trains: what decides the model differs
    assert claims.claim(epochs_config, epochs_staged, settings).claimed
    assert claims.claim(nosplit_config, nosplit_staged, settings).claimed


def test_force_trains_anyway_without_taking_the_claim(account: Account, settings: StackSettings) -> None:
    # Given a run holding the claim
    config, staged = run_of(account, "inbox/orders.jsonl", "run-a")
    held = claims.claim(config, staged, settings)

    # When the same content is dropped with "force": true
    forced_config, forced_staged = run_of(account, "inbox/copy.jsonl", "run-b", force=True)
    forced = claims.claim(forced_config, forced_staged, settings)

    # Then it trains (no duplicate) and the first run still holds the claim
    assert (forced.claimed, forced.forced, forced.duplicate_of) == (False, True, None)
    again_config, again_staged = run_of(account, "inbox/third.jsonl", "run-c")
    assert claims.claim(again_config, again_staged, settings).duplicate_of == "run-a"
    assert held.claimed


def test_two_identical_drops_at_the_same_moment_give_one_claim(account: Account, settings: StackSettings) -> None:
    # Given eight runs of the same content, each about to claim
    runs = [run_of(account, f"inbox/copy-{index}.jsonl", f"run-{index}") for index in range(8)]
    barrier = threading.Barrier(len(runs))

    def claim(run: tuple[RunConfig, StageDatasetOutput]) -> bool:
        barrier.wait()
        return claims.claim(run[0], run[1], settings).claimed

    # When they claim at the same moment, each in its own thread
    with ThreadPoolExecutor(max_workers=len(runs)) as pool:
        claimed = list(pool.map(claim, runs))

    # Then exactly one holds the claim: the conditional write lets one through
    assert claimed.count(True) == 1


def test_a_failed_run_releases_its_claim_and_a_retry_trains(account: Account, settings: StackSettings) -> None:
    # Given a run holding the claim, and a duplicate of it
    config, staged = run_of(account, "inbox/orders.jsonl", "run-a")
    assert claims.claim(config, staged, settings).claimed

    # When the run fails and Cleanup releases the claim (twice: Cleanup may be retried)
    done = claims.release(config.run_id, config.execution_arn, settings)
    assert claims.release(config.run_id, config.execution_arn, settings) == []

    # Then a new drop of the same content trains
    assert any("released the training claim" in action for action in done)
    retry_config, retry_staged = run_of(account, "inbox/retry.jsonl", "run-b")
    assert claims.claim(retry_config, retry_staged, settings).claimed


def test_release_never_frees_a_succeeded_claim_or_another_runs_claim(account: Account, settings: StackSettings) -> None:
    # Given a run that succeeded, and one that holds a claim of other content
    done_config, done_staged = run_of(account, "inbox/orders.jsonl", "run-a")
    done = claims.claim(done_config, done_staged, settings)
    claims.complete(done, done_config, "arn:aws:bedrock:us-east-1:123456789012:custom-model/x/y", settings)

    # When Cleanup runs for the succeeded run (a late failure) and another execution names the same run id
    claims.release(done_config.run_id, done_config.execution_arn, settings)
    claims.release(done_config.run_id, "arn:aws:states:us-east-1:123456789012:execution:finetune:other", settings)

    # Then the claim still stands: the same content is a duplicate
    copy_config, copy_staged = run_of(account, "inbox/copy.jsonl", "run-b")
    assert claims.claim(copy_config, copy_staged, settings).duplicate_status == "SUCCEEDED"


def test_a_claim_past_its_lifetime_is_free_before_ttl_deletes_it(account: Account, settings: StackSettings) -> None:
    # Given a claim of a run that died without releasing it, long ago
    config, staged = run_of(account, "inbox/orders.jsonl", "run-a")
    long_ago = datetime.now(UTC) - timedelta(seconds=claims.claim_lifetime_seconds(config, settings) + 60)
    assert claims.claim(config, staged, settings, now=long_ago).claimed

    # When the same content is dropped now
    later_config, later_staged = run_of(account, "inbox/copy.jsonl", "run-b")
    later = claims.claim(later_config, later_staged, settings)

    # Then it trains, and holds the claim
    assert later.claimed
    item = boto3.client("dynamodb", region_name=REGION).get_item(
        TableName=TABLE, Key={"pk": {"S": f"claim#{later.fingerprint}"}, "sk": {"S": "claim"}}
    )["Item"]
    assert item["runId"]["S"] == "run-b"
    assert int(item["expiresAt"]["N"]) > datetime.now(UTC).timestamp()
