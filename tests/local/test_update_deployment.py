"""Moving a kept deployment to a new custom model in place: UpdateCustomModelDeployment (on-demand) and
UpdateProvisionedModelThroughput with desiredModelId (provisioned throughput), as botocore models them."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import botocore.session
import pytest
from botocore.exceptions import ClientError

from bedrock_finetune_local import aws
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.aws import iam
from bedrock_finetune_local.clock import CLOCK

from .conftest import ACCOUNT, BASE_MODEL, REGION, client_as, lambda_role

OTHER_BASE_MODEL = "amazon.nova-lite-v1:0:300k"
HTTP_STATUS = {"ValidationException": 400, "ConflictException": 400, "ResourceNotFoundException": 404}


def refusal(call: Callable[[], Any]) -> tuple[str, int]:
    """The error code and HTTP status botocore parsed from a refused call."""
    with pytest.raises(ClientError) as caught:
        call()
    response = caught.value.response
    return str(response["Error"]["Code"]), int(response["ResponseMetadata"]["HTTPStatusCode"])


def modelled(code: str) -> tuple[str, int]:
    return code, HTTP_STATUS[code]


def modelled_errors(operation: str) -> set[str]:
    model = botocore.session.get_session().get_service_model("bedrock").operation_model(operation)
    return {shape.name for shape in model.error_shapes}


def deploy_time_passes() -> None:
    """The time a throughput or deployment created (or updated) now takes to settle: the scenario's deploy_seconds."""
    CLOCK.advance(aws.current_settings().deploy_seconds)


def deployment_of(bedrock: Any, model_arn: str, name: str = "od-1") -> str:
    """An Active on-demand deployment of ``model_arn`` (created, then its creation time passes)."""
    arn = str(
        bedrock.create_custom_model_deployment(modelDeploymentName=name, modelArn=model_arn)["customModelDeploymentArn"]
    )
    deploy_time_passes()
    assert bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=arn)["status"] == "Active"
    return arn


def get_deployment(bedrock: Any, identifier: str) -> dict[str, Any]:
    return dict(bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=identifier))


def listed_deployment(bedrock: Any) -> dict[str, Any]:
    (summary,) = bedrock.list_custom_model_deployments()["modelDeploymentSummaries"]
    return dict(summary)


@pytest.fixture
def two_models(completed_model: Callable[..., str]) -> tuple[str, str]:
    """Two Active custom models customized from the same base model (the earlier run's and the retrained one)."""
    return completed_model(), completed_model(jobName="ft-job-2", customModelName="ft-model-2")


# --- on-demand: UpdateCustomModelDeployment --------------------------------------------------------------------------
def test_the_operation_is_modelled_as_the_local_bedrock_implements_it() -> None:
    # botocore: PATCH answering 202; Updating is not a deployment status but an update status; no ConflictException
    model = botocore.session.get_session().get_service_model("bedrock")
    operation = model.operation_model("UpdateCustomModelDeployment")
    assert (operation.http["method"], operation.http["responseCode"]) == ("PATCH", 202)
    assert operation.output_shape.required_members == ["customModelDeploymentArn"]
    assert model.shape_for("CustomModelDeploymentStatus").enum == ["Creating", "Active", "Failed"]
    assert model.shape_for("CustomModelDeploymentUpdateStatus").enum == ["Updating", "UpdateCompleted", "UpdateFailed"]
    assert "ConflictException" not in modelled_errors("UpdateCustomModelDeployment")
    assert "ConflictException" in modelled_errors("DeleteCustomModelDeployment")
    assert "ConflictException" in modelled_errors("DeleteCustomModel")


def test_deployment_swap_rolls_out_then_serves_the_new_model(
    bedrock: Any, runtime: Any, two_models: tuple[str, str]
) -> None:
    # Given an Active deployment of the first model, and an update that takes 15 minutes
    old, new = two_models
    deployment_arn = deployment_of(bedrock, old)
    aws.configure(deploy_seconds=900)

    # When it is moved to the second model (by deployment name)
    response = bedrock.update_custom_model_deployment(customModelDeploymentIdentifier="od-1", modelArn=new)
    rolling = get_deployment(bedrock, deployment_arn)

    # Then the answer is 202 with the deployment's ARN, and while the update rolls out the deployment is Active on
    # the old model, with the new one in updateDetails
    assert response["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert response["customModelDeploymentArn"] == deployment_arn
    assert (rolling["status"], rolling["modelArn"]) == ("Active", old)
    assert rolling["updateDetails"] == {"modelArn": new, "updateStatus": "Updating"}
    assert "failureMessage" not in rolling
    assert listed_deployment(bedrock)["modelArn"] == old
    # the ARN applications call keeps answering during the swap
    answer = runtime.converse(modelId=deployment_arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])
    assert answer["output"]["message"]["content"][0]["text"]
    # and neither model, nor the deployment, can be deleted while the update is in progress
    assert refusal(lambda: bedrock.delete_custom_model(modelIdentifier=old)) == modelled("ConflictException")
    assert refusal(lambda: bedrock.delete_custom_model(modelIdentifier=new)) == modelled("ConflictException")
    assert refusal(
        lambda: bedrock.delete_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)
    ) == modelled("ConflictException")

    # When 14 minutes pass, Then it still rolls out
    CLOCK.advance(840)
    assert get_deployment(bedrock, deployment_arn)["updateDetails"]["updateStatus"] == "Updating"

    # When the 15th minute passes
    CLOCK.advance(60)
    done = get_deployment(bedrock, deployment_arn)

    # Then it serves the new model, in Get and List, and the update is reported completed, 15 minutes after it began
    assert (done["status"], done["modelArn"]) == ("Active", new)
    assert done["updateDetails"] == {"modelArn": new, "updateStatus": "UpdateCompleted"}
    assert (done["lastUpdatedAt"] - rolling["lastUpdatedAt"]).total_seconds() == pytest.approx(900, abs=1)
    assert listed_deployment(bedrock)["modelArn"] == new
    assert [
        d["modelArn"] for d in bedrock.list_custom_model_deployments(modelArnEquals=new)["modelDeploymentSummaries"]
    ] == [new]
    assert bedrock.list_custom_model_deployments(modelArnEquals=old)["modelDeploymentSummaries"] == []

    # And the old model can now be deleted, while the new one cannot
    bedrock.delete_custom_model(modelIdentifier=old)
    assert [m["modelArn"] for m in bedrock.list_custom_models()["modelSummaries"]] == [new]
    assert refusal(lambda: bedrock.delete_custom_model(modelIdentifier=new)) == modelled("ConflictException")


def test_a_repeated_update_is_idempotent(bedrock: Any, two_models: tuple[str, str]) -> None:
    # Given a deployment whose update to the second model is still rolling out
    old, new = two_models
    deployment_arn = deployment_of(bedrock, old)
    bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=new)

    # When the same update is sent again (the operation is modelled idempotent), during and after the rollout
    during = bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=new)
    deploy_time_passes()
    finished = get_deployment(bedrock, deployment_arn)
    after = bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=new)

    # Then both are accepted and change nothing
    assert during["customModelDeploymentArn"] == after["customModelDeploymentArn"] == deployment_arn
    assert finished["updateDetails"] == {"modelArn": new, "updateStatus": "UpdateCompleted"}
    assert get_deployment(bedrock, deployment_arn)["updateDetails"]["updateStatus"] == "UpdateCompleted"


def test_a_failed_swap_leaves_the_deployment_active_on_the_old_model(bedrock: Any, two_models: tuple[str, str]) -> None:
    # Given an Active deployment and a scenario where the update fails
    old, new = two_models
    deployment_arn = deployment_of(bedrock, old)
    aws.configure(deploy_outcome="Failed")

    # When it is moved to the second model and the update's time passes
    bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=new)
    deploy_time_passes()
    failed = get_deployment(bedrock, deployment_arn)

    # Then the update failed, the deployment still serves the old model, and the new model is free again
    assert (failed["status"], failed["modelArn"]) == ("Active", old)
    assert failed["updateDetails"] == {"modelArn": new, "updateStatus": "UpdateFailed"}
    assert "failureMessage" not in failed
    bedrock.delete_custom_model(modelIdentifier=new)
    assert refusal(lambda: bedrock.delete_custom_model(modelIdentifier=old)) == modelled("ConflictException")


@pytest.mark.parametrize("state", ["Creating", "Failed", "another update in progress"])
def test_update_refuses_a_deployment_that_is_not_settled_and_active(
    bedrock: Any, completed_model: Callable[..., str], state: str
) -> None:
    # Given a deployment that is still Creating, has Failed, or is already being moved to a third model
    old = completed_model()
    new = completed_model(jobName="ft-job-2", customModelName="ft-model-2")
    if state == "Creating":
        deployment_arn = bedrock.create_custom_model_deployment(modelDeploymentName="od-1", modelArn=old)[
            "customModelDeploymentArn"
        ]
        assert get_deployment(bedrock, deployment_arn)["status"] == "Creating"
    elif state == "Failed":
        aws.configure(deploy_outcome="Failed")
        deployment_arn = bedrock.create_custom_model_deployment(modelDeploymentName="od-1", modelArn=old)[
            "customModelDeploymentArn"
        ]
        deploy_time_passes()
        assert get_deployment(bedrock, deployment_arn)["status"] == "Failed"
    else:
        third = completed_model(jobName="ft-job-3", customModelName="ft-model-3")
        deployment_arn = deployment_of(bedrock, old)
        bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=third)
        assert get_deployment(bedrock, deployment_arn)["updateDetails"]["updateStatus"] == "Updating"

    # When it is moved to the new model
    code = refusal(
        lambda: bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=new)
    )

    # Then it is refused with ValidationException: botocore models no ConflictException for this operation
    assert code == modelled("ValidationException")
    assert get_deployment(bedrock, deployment_arn)["modelArn"] == old


def test_update_refuses_a_model_customized_from_another_base_model(
    bedrock: Any, completed_model: Callable[..., str]
) -> None:
    # Given a deployment of a Nova Micro model and a model customized from Nova Lite
    old = completed_model()
    other = completed_model(jobName="ft-job-2", customModelName="ft-lite", baseModelIdentifier=OTHER_BASE_MODEL)
    deployment_arn = deployment_of(bedrock, old)

    # When the deployment is moved to the Nova Lite model
    code = refusal(
        lambda: bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=other)
    )

    # Then it is refused, and the deployment is untouched
    assert code == modelled("ValidationException")
    described = get_deployment(bedrock, deployment_arn)
    assert (described["status"], described["modelArn"]) == ("Active", old)
    assert "updateDetails" not in described


def test_update_refuses_a_custom_model_that_is_not_active(bedrock: Any, two_models: tuple[str, str]) -> None:
    # Given an Active deployment and a second model that is not Active (the local models are Active once they exist,
    # so the backend's record is changed directly)
    old, new = two_models
    deployment_arn = deployment_of(bedrock, old)
    local_bedrock.backend_for(ACCOUNT, REGION).models[new].status = "Creating"

    # When the deployment is moved to it
    code = refusal(
        lambda: bedrock.update_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn, modelArn=new)
    )

    # Then it is refused and nothing changes
    assert code == modelled("ValidationException")
    assert "updateDetails" not in get_deployment(bedrock, deployment_arn)


def test_update_of_unknown_resources_is_not_found_and_a_malformed_model_arn_is_invalid(
    bedrock: Any, two_models: tuple[str, str]
) -> None:
    old, new = two_models
    deployment_arn = deployment_of(bedrock, old)
    missing_deployment = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model-deployment/abcdefabcdef"
    missing_model = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/{BASE_MODEL}/abcdefabcdef"
    foundation = f"arn:aws:bedrock:{REGION}::foundation-model/{BASE_MODEL}"

    def update(identifier: str, model_arn: str) -> Callable[[], Any]:
        return lambda: bedrock.update_custom_model_deployment(
            customModelDeploymentIdentifier=identifier, modelArn=model_arn
        )

    # An unknown deployment (by ARN or name) and an unknown model are not found
    assert refusal(update(missing_deployment, new)) == modelled("ResourceNotFoundException")
    assert refusal(update("no-such-deployment", new)) == modelled("ResourceNotFoundException")
    assert refusal(update(deployment_arn, missing_model)) == modelled("ResourceNotFoundException")
    # modelArn is a CustomModelArn: a foundation model ARN fails the shape's pattern
    with pytest.raises(ClientError) as malformed:
        update(deployment_arn, foundation)()
    assert malformed.value.response["Error"]["Code"] == "ValidationException"
    assert malformed.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    assert "at 'modelArn' failed to satisfy constraint" in malformed.value.response["Error"]["Message"]
    assert "updateDetails" not in get_deployment(bedrock, deployment_arn)


def test_a_lambda_role_needs_the_deployment_and_the_new_model_to_update(
    bedrock: Any, two_models: tuple[str, str]
) -> None:
    # Given an Active deployment and IAM enforced, with one role allowed the deployment only and one allowed both
    old, new = two_models
    deployment_arn = deployment_of(bedrock, old)
    action = "bedrock:UpdateCustomModelDeployment"
    with iam.enforce():
        partial = lambda_role("swapper-partial", {"Effect": "Allow", "Action": action, "Resource": deployment_arn})
        full = lambda_role("swapper", {"Effect": "Allow", "Action": action, "Resource": [deployment_arn, new]})

        # When each role moves the deployment to the new model
        denied = refusal(
            lambda: client_as(partial, "bedrock").update_custom_model_deployment(
                customModelDeploymentIdentifier=deployment_arn, modelArn=new
            )
        )
        allowed = client_as(full, "bedrock").update_custom_model_deployment(
            customModelDeploymentIdentifier=deployment_arn, modelArn=new
        )

    # Then only the role allowed both resources may, and its call is the 202 botocore expects
    assert denied == ("AccessDeniedException", 403)
    assert allowed["ResponseMetadata"]["HTTPStatusCode"] == 202
    assert allowed["customModelDeploymentArn"] == deployment_arn


# --- provisioned throughput: UpdateProvisionedModelThroughput(desiredModelId) ---------------------------------------
def provisioned_of(bedrock: Any, model_id: str, name: str = "pt-1") -> str:
    """An InService throughput of ``model_id`` (created, then its creation time passes)."""
    arn = str(
        bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName=name, modelId=model_id)[
            "provisionedModelArn"
        ]
    )
    deploy_time_passes()
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=arn)["status"] == "InService"
    return arn


def test_provisioned_swap_shows_the_old_model_until_the_update_completes(
    bedrock: Any, runtime: Any, two_models: tuple[str, str]
) -> None:
    # Given an InService throughput on the first model and an update that takes 15 minutes
    old, new = two_models
    pt_arn = provisioned_of(bedrock, old)
    aws.configure(deploy_seconds=900)

    # When it is moved to the second model and read 14 minutes later
    bedrock.update_provisioned_model_throughput(provisionedModelId=pt_arn, desiredModelId=new)
    CLOCK.advance(840)
    updating = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)

    # Then it is Updating, still on the old model, with the new one desired (botocore: desiredModelArn "differs from
    # the modelArn if updating hasn't completed"); it still serves, and neither model can be deleted
    assert (updating["status"], updating["modelArn"], updating["desiredModelArn"]) == ("Updating", old, new)
    summary = bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"][0]
    assert (summary["modelArn"], summary["desiredModelArn"]) == (old, new)
    assert runtime.converse(modelId=pt_arn, messages=[{"role": "user", "content": [{"text": "hi"}]}])["output"]
    assert refusal(lambda: bedrock.delete_custom_model(modelIdentifier=old)) == modelled("ConflictException")
    assert refusal(lambda: bedrock.delete_custom_model(modelIdentifier=new)) == modelled("ConflictException")
    assert refusal(lambda: bedrock.delete_provisioned_model_throughput(provisionedModelId=pt_arn)) == modelled(
        "ConflictException"
    )

    # When the 15th minute passes
    CLOCK.advance(60)
    done = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)

    # Then it serves the new model and the old model can be deleted
    assert (done["status"], done["modelArn"], done["desiredModelArn"]) == ("InService", new, new)
    bedrock.delete_custom_model(modelIdentifier=old)
    assert refusal(lambda: bedrock.delete_custom_model(modelIdentifier=new)) == modelled("ConflictException")


def test_provisioned_swap_to_the_base_model_is_allowed(bedrock: Any, completed_model: Callable[..., str]) -> None:
    # Given a throughput on a custom model (botocore: desiredModelId may be "the base model from which the custom
    # model was customized")
    old = completed_model()
    pt_arn = provisioned_of(bedrock, old)
    foundation = f"arn:aws:bedrock:{REGION}::foundation-model/{BASE_MODEL}"

    # When it is moved to its base model and the update's time passes
    bedrock.update_provisioned_model_throughput(provisionedModelId=pt_arn, desiredModelId=foundation)
    deploy_time_passes()
    done = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)

    # Then it serves the base model
    assert (done["status"], done["modelArn"], done["foundationModelArn"]) == ("InService", foundation, foundation)


def test_a_failed_provisioned_swap_keeps_the_old_model(bedrock: Any, two_models: tuple[str, str]) -> None:
    # Given an InService throughput and a scenario where the update fails
    old, new = two_models
    pt_arn = provisioned_of(bedrock, old)
    aws.configure(deploy_outcome="Failed")

    # When it is moved to the second model and the update's time passes
    bedrock.update_provisioned_model_throughput(provisionedModelId=pt_arn, desiredModelId=new)
    deploy_time_passes()
    failed = bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)

    # Then it is Failed with the failure message, and its modelArn is still the old model
    assert (failed["status"], failed["modelArn"], failed["desiredModelArn"]) == ("Failed", old, new)
    assert failed["failureMessage"] == aws.current_settings().deploy_failure_message


@pytest.mark.parametrize(
    ("case", "code"),
    [
        pytest.param("other-base-model", "ValidationException", id="other-base-model"),
        pytest.param("model-not-active", "ValidationException", id="model-not-active"),
        pytest.param("throughput-on-a-base-model", "ValidationException", id="throughput-on-a-base-model"),
        pytest.param("throughput-creating", "ValidationException", id="throughput-creating"),
        pytest.param("unknown-model", "ResourceNotFoundException", id="unknown-model"),
        pytest.param("unknown-throughput", "ResourceNotFoundException", id="unknown-throughput"),
    ],
)
def test_provisioned_swap_refusals(bedrock: Any, completed_model: Callable[..., str], case: str, code: str) -> None:
    # Given an InService throughput on a custom model (or the case's variant of it)
    old = completed_model()
    new = completed_model(jobName="ft-job-2", customModelName="ft-model-2")
    pt_id = provisioned_of(bedrock, old)
    desired = new
    if case == "other-base-model":
        desired = completed_model(jobName="ft-job-3", customModelName="ft-lite", baseModelIdentifier=OTHER_BASE_MODEL)
    elif case == "model-not-active":
        local_bedrock.backend_for(ACCOUNT, REGION).models[new].status = "Creating"
    elif case == "throughput-on-a-base-model":
        # botocore, desiredModelId: "You can't specify this field if this Provisioned Throughput is associated with a
        # base model."
        pt_id = provisioned_of(bedrock, BASE_MODEL, name="pt-base")
    elif case == "throughput-creating":
        pt_id = bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-2", modelId=old)[
            "provisionedModelArn"
        ]
        assert bedrock.get_provisioned_model_throughput(provisionedModelId=pt_id)["status"] == "Creating"
    elif case == "unknown-model":
        desired = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:custom-model/{BASE_MODEL}/abcdefabcdef"
    elif case == "unknown-throughput":
        pt_id = f"arn:aws:bedrock:{REGION}:{ACCOUNT}:provisioned-model/abcdefabcdef"
    before = {
        p["provisionedModelArn"]: p for p in bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    }

    # When it is moved to the desired model
    got = refusal(lambda: bedrock.update_provisioned_model_throughput(provisionedModelId=pt_id, desiredModelId=desired))

    # Then the modelled error comes back, and nothing changed
    assert code in modelled_errors("UpdateProvisionedModelThroughput")
    assert got == modelled(code)
    after = {
        p["provisionedModelArn"]: p for p in bedrock.list_provisioned_model_throughputs()["provisionedModelSummaries"]
    }
    assert after == before
