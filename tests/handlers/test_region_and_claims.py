"""Catalog claims that change what a run does: the stack's Region must be able to customize the base model, on-demand
deployment only where the AWS docs list it, and compare-with-base through the ARN the base model is invoked by."""

from __future__ import annotations

from typing import Any

import pytest

from bedrock_finetune.config import RunOverrides, S3Location
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.logic import smoke_test
from bedrock_finetune.logic.resolve_config import build_config, resolve
from bedrock_finetune.models import DeploymentInfo, StageDatasetOutput

from .conftest import BUCKET, Account
from .test_smoke_and_notify import deployed

CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0:200k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
LLAMA_33 = "meta.llama3-3-70b-instruct-v1:0:128k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
ACCOUNT = "123456789012"
PROFILE = f"arn:aws:bedrock:{{region}}:{ACCOUNT}:inference-profile/{{profile}}"


def console(**fields: Any) -> dict[str, Any]:
    return {"datasetUri": f"s3://{BUCKET}/uploads/train.jsonl", **fields}


@pytest.mark.parametrize(
    ("model_id", "region", "can"),
    [(CLAUDE, "us-east-1", "us-west-2"), (NOVA_MICRO, "us-west-2", "us-east-1"), (LLAMA_33, "eu-west-1", "us-west-2")],
)
def test_a_base_model_the_stacks_region_cannot_customize_is_refused(
    account: Account, model_id: str, region: str, can: str
) -> None:
    # Given a console start asking for a model the stack's Region does not customize
    account.put("uploads/train.jsonl", b"{}\n")

    # When resolved, Then ConfigInvalid names the model, the stack's Region and the Regions that can
    with pytest.raises(ConfigInvalid) as raised:
        resolve(console(baseModelId=model_id), account.execution, account.settings, region)
    message = str(raised.value)
    assert message.startswith("baseModelId: ")
    assert model_id in message
    assert f"cannot be customized in {region}" in message
    assert f"can be customized in {can}" in message
    # ... and nothing was created
    assert account.bedrock.list_model_customization_jobs()["modelCustomizationJobSummaries"] == []


def test_the_refusal_lists_what_the_region_can_customize(account: Account) -> None:
    # Given Claude asked for in us-east-1 / When resolved / Then the message offers the models us-east-1 customizes
    account.put("uploads/train.jsonl", b"{}\n")
    with pytest.raises(ConfigInvalid, match=r"models us-east-1 can customize: .*amazon\.nova-micro-v1:0:128k"):
        resolve(console(baseModelId=CLAUDE), account.execution, account.settings, "us-east-1")


@pytest.mark.parametrize(("model_id", "region"), [(LLAMA_33, "us-west-2"), (NOVA_2_LITE, "us-east-1")])
def test_on_demand_is_refused_where_the_docs_do_not_list_it_and_auto_means_provisioned(
    account: Account, model_id: str, region: str
) -> None:
    # Given a model the on-demand deployment page does not list (Llama 3.3 70B, Nova 2 Lite)
    account.put("uploads/train.jsonl", b"{}\n")

    # When on-demand is asked for, Then it is refused naming the field; auto picks provisioned throughput
    with pytest.raises(ConfigInvalid, match=r"deployment\.mode"):
        resolve(
            console(baseModelId=model_id, deployment={"mode": "on-demand"}),
            account.execution,
            account.settings,
            region,
        )
    config = resolve(console(baseModelId=model_id), account.execution, account.settings, region)
    assert config.deployment.mode == "provisioned"


def stub_run(
    account: Account, monkeypatch: pytest.MonkeyPatch, model_id: str, region: str, deployment_arn: str
) -> tuple[list[str], Any]:
    """Run the smoke test with compareWithBase, recording each Converse modelId (the runtime is stubbed)."""
    config = build_config(
        source=S3Location(bucket=BUCKET, key="inbox/x.jsonl"),
        trigger="inbox",
        overrides=RunOverrides.model_validate(
            {"baseModelId": model_id, "smokeTest": {"prompts": ["hello"], "compareWithBase": True}}
        ),
        execution=account.execution,
        settings=account.settings,
        region=region,
    )
    called: list[str] = []

    def converse(model: str, prompt: str) -> tuple[str, int]:
        called.append(model)
        return "an answer", 5

    monkeypatch.setattr(smoke_test, "converse", converse)
    staged = StageDatasetOutput(
        sha256="a" * 64,
        train=S3Location(bucket=BUCKET, key=f"datasets/{'a' * 64}/train.jsonl"),
        validation=None,
        train_records=1,
        validation_records=0,
        split=None,
    )
    info = DeploymentInfo.model_validate(
        {
            "mode": "provisioned",
            "arn": deployment_arn,
            "name": "ft-x",
            "modelArn": f"arn:aws:bedrock:{region}:{ACCOUNT}:custom-model/x",
        }
    )
    return called, smoke_test.run(config, staged, info)


@pytest.mark.parametrize(
    ("model_id", "region", "base_arn"),
    [
        (LLAMA_33, "us-west-2", PROFILE.format(region="us-west-2", profile="us.meta.llama3-3-70b-instruct-v1:0")),
        (NOVA_2_LITE, "us-east-1", PROFILE.format(region="us-east-1", profile="us.amazon.nova-2-lite-v1:0")),
        (NOVA_MICRO, "us-east-1", "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0"),
        (CLAUDE, "us-west-2", "arn:aws:bedrock:us-west-2::foundation-model/anthropic.claude-3-haiku-20240307-v1:0"),
    ],
)
def test_compare_with_base_invokes_the_inference_profile_where_the_base_model_needs_one(
    account: Account, monkeypatch: pytest.MonkeyPatch, model_id: str, region: str, base_arn: str
) -> None:
    # Given a model deployed as provisioned throughput in the stack's account and Region, compareWithBase on
    deployment_arn = f"arn:aws:bedrock:{region}:{ACCOUNT}:provisioned-model/abc123"

    # When the smoke test runs
    called, result = stub_run(account, monkeypatch, model_id, region, deployment_arn)

    # Then the custom model is asked through its deployment, the base model through its profile or foundation ARN
    assert called == [deployment_arn, base_arn]
    assert result.base_model_answered == 1


def test_compare_with_base_gets_answers_from_the_local_runtime_for_nova_micro(account: Account) -> None:
    # Given a Nova Micro model deployed on the local Bedrock, compareWithBase on
    config, staged, info = deployed(account)
    config = config.model_copy(  # type: ignore[attr-defined]
        update={"smoke_test": config.smoke_test.model_copy(update={"compare_with_base": True})}  # type: ignore[attr-defined]
    )

    # When the smoke test runs against the real (local) runtime
    result = smoke_test.run(config, staged, info)  # type: ignore[arg-type]

    # Then the base model (its foundation-model ARN) answered every prompt too
    assert result.base_model_answered == result.prompts == 3
