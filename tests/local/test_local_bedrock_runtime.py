"""The local bedrock-runtime: Converse and InvokeModel against local provisioned models and deployments."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from typing import Any

import pytest
from botocore.exceptions import ClientError

from bedrock_finetune_local import aws
from bedrock_finetune_local.clock import CLOCK

ANSWER = re.compile(r"local-model answer #[0-9a-f]{8} to a (\d+)-word prompt")


def user(text: str) -> dict[str, Any]:
    return {"role": "user", "content": [{"text": text}]}


@pytest.fixture
def provisioned_model(bedrock: Any, completed_model: Callable[..., str]) -> Callable[[], str]:
    """Create provisioned throughput on a completed model (still Creating) and return its ARN."""

    def create() -> str:
        model_arn = completed_model()
        return str(
            bedrock.create_provisioned_model_throughput(modelUnits=1, provisionedModelName="pt-1", modelId=model_arn)[
                "provisionedModelArn"
            ]
        )

    return create


@pytest.fixture
def in_service_pt(bedrock: Any, provisioned_model: Callable[[], str]) -> str:
    pt_arn = provisioned_model()
    CLOCK.advance(aws.current_settings().deploy_seconds)
    assert bedrock.get_provisioned_model_throughput(provisionedModelId=pt_arn)["status"] == "InService"
    return pt_arn


def test_converse_answers_deterministically_from_an_in_service_pt(runtime: Any, in_service_pt: str) -> None:
    # Given an InService provisioned model
    # When the same prompt is sent twice and another prompt once
    first = runtime.converse(modelId=in_service_pt, messages=[user("What is the capital of France?")])
    second = runtime.converse(modelId=in_service_pt, messages=[user("What is the capital of France?")])
    other = runtime.converse(modelId=in_service_pt, messages=[user("Name a prime number")])

    # Then the answers are deterministic, depend on the prompt, and carry usage and latency
    text = first["output"]["message"]["content"][0]["text"]
    match = ANSWER.fullmatch(text)
    assert match is not None
    assert match.group(1) == "6"
    assert second["output"]["message"]["content"][0]["text"] == text
    assert other["output"]["message"]["content"][0]["text"] != text
    assert first["output"]["message"]["role"] == "assistant"
    assert first["stopReason"] == "end_turn"
    usage = first["usage"]
    assert (usage["inputTokens"], usage["outputTokens"]) == (6, len(text.split()))
    assert usage["totalTokens"] == usage["inputTokens"] + usage["outputTokens"]
    assert first["metrics"]["latencyMs"] > 0


def test_converse_answers_from_an_active_deployment_and_a_foundation_model(
    bedrock: Any, runtime: Any, completed_model: Callable[..., str]
) -> None:
    # Given an Active custom model deployment
    model_arn = completed_model()
    deployment = bedrock.create_custom_model_deployment(modelDeploymentName="od-1", modelArn=model_arn)
    deployment_arn = deployment["customModelDeploymentArn"]
    CLOCK.advance(aws.current_settings().deploy_seconds)
    assert bedrock.get_custom_model_deployment(customModelDeploymentIdentifier=deployment_arn)["status"] == "Active"

    # When it and an on-demand foundation model are asked the same thing
    from_deployment = runtime.converse(modelId=deployment_arn, messages=[user("hello")])
    from_foundation = runtime.converse(modelId="amazon.nova-micro-v1:0", messages=[user("hello")])

    # Then both answer with text
    for response in (from_deployment, from_foundation):
        assert ANSWER.fullmatch(response["output"]["message"]["content"][0]["text"])


def test_converse_empty_answer_switch(runtime: Any, in_service_pt: str) -> None:
    # Given the scenario where the local model answers with empty text
    aws.configure(runtime_answer="empty")

    # When it is asked something
    response = runtime.converse(modelId=in_service_pt, messages=[user("Say something")])

    # Then the answer is empty text and no output tokens
    assert response["output"]["message"]["content"] == [{"text": ""}]
    assert response["usage"]["outputTokens"] == 0


def test_converse_honours_max_tokens(runtime: Any, in_service_pt: str) -> None:
    # Given an InService model
    # When the answer is limited to 3 tokens
    response = runtime.converse(modelId=in_service_pt, messages=[user("hi")], inferenceConfig={"maxTokens": 3})

    # Then it is cut and says so
    assert len(response["output"]["message"]["content"][0]["text"].split()) == 3
    assert response["stopReason"] == "max_tokens"


def test_converse_fails_on_a_pt_that_is_not_in_service(runtime: Any, provisioned_model: Callable[[], str]) -> None:
    # Given a provisioned model that is still Creating
    pt_arn = provisioned_model()

    # When it is invoked
    with pytest.raises(ClientError) as error:
        runtime.converse(modelId=pt_arn, messages=[user("hello")])

    # Then Bedrock refuses with a ValidationException naming the status
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "Creating" in error.value.response["Error"]["Message"]


def test_converse_fails_on_deleted_and_unknown_models(
    bedrock: Any, runtime: Any, in_service_pt: str, completed_model: Callable[..., str]
) -> None:
    # Given a PT that is deleted afterwards, an unknown deployment and a custom model without PT
    bedrock.delete_provisioned_model_throughput(provisionedModelId=in_service_pt)
    custom_model_arn = bedrock.list_custom_models()["modelSummaries"][0]["modelArn"]
    unknown_deployment = "arn:aws:bedrock:us-east-1:123456789012:custom-model-deployment/abcdefabcdef"

    for model_id in (in_service_pt, unknown_deployment, custom_model_arn, "ft-model-1", "acme.unknown-v1:0"):
        # When each is invoked
        with pytest.raises(ClientError) as error:
            runtime.converse(modelId=model_id, messages=[user("hello")])

        # Then it is Bedrock's "invalid model identifier" ValidationException
        assert error.value.response["Error"]["Code"] == "ValidationException"
        assert error.value.response["Error"]["Message"] == "The provided model identifier is invalid."


def test_converse_requires_the_conversation_to_start_with_the_user(runtime: Any, in_service_pt: str) -> None:
    # Given a conversation that starts with the assistant
    messages = [{"role": "assistant", "content": [{"text": "hi"}]}, user("hello")]

    # When it is sent
    with pytest.raises(ClientError) as error:
        runtime.converse(modelId=in_service_pt, messages=messages)

    # Then Bedrock refuses it
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert "must start with a user message" in error.value.response["Error"]["Message"]


def test_invoke_model_with_a_nova_messages_body(runtime: Any, in_service_pt: str) -> None:
    # Given a Nova messages-v1 request body
    body = {
        "schemaVersion": "messages-v1",
        "system": [{"text": "You are terse."}],
        "messages": [user("What is two plus two?")],
        "inferenceConfig": {"maxTokens": 64},
    }

    # When it is sent to the provisioned model
    response = runtime.invoke_model(modelId=in_service_pt, body=json.dumps(body), contentType="application/json")
    payload = json.loads(response["body"].read())

    # Then the answer has Nova's response shape, and the same text Converse gives for the same prompt
    assert response["contentType"] == "application/json"
    text = payload["output"]["message"]["content"][0]["text"]
    assert ANSWER.fullmatch(text)
    assert payload["stopReason"] == "end_turn"
    assert payload["usage"]["inputTokens"] == 8
    converse = runtime.converse(
        modelId=in_service_pt, system=[{"text": "You are terse."}], messages=[user("What is two plus two?")]
    )
    assert converse["output"]["message"]["content"][0]["text"] == text


def test_invoke_model_with_a_claude_messages_body(runtime: Any, in_service_pt: str) -> None:
    # Given a Claude Messages API body with string content
    body = {
        "anthropic_version": "bedrock-2023-05-31",
        "max_tokens": 200,
        "system": "Be brief.",
        "messages": [{"role": "user", "content": "Summarize this sentence please"}],
    }

    # When it is sent
    payload = json.loads(runtime.invoke_model(modelId=in_service_pt, body=json.dumps(body))["body"].read())

    # Then the answer has the Claude response shape
    assert payload["type"] == "message"
    assert payload["role"] == "assistant"
    assert payload["content"][0]["type"] == "text"
    assert ANSWER.fullmatch(payload["content"][0]["text"])
    assert payload["stop_reason"] == "end_turn"
    assert payload["usage"]["input_tokens"] == 6


def test_invoke_model_empty_answer_switch_applies_too(runtime: Any, in_service_pt: str) -> None:
    # Given the empty-answer scenario
    aws.configure(runtime_answer="empty")
    body = {"anthropic_version": "bedrock-2023-05-31", "max_tokens": 10, "messages": [{"role": "user", "content": "x"}]}

    # When InvokeModel is called
    payload = json.loads(runtime.invoke_model(modelId=in_service_pt, body=json.dumps(body))["body"].read())

    # Then the text is empty
    assert payload["content"] == [{"type": "text", "text": ""}]


@pytest.mark.parametrize(
    "body",
    [
        pytest.param(b"not json", id="not-json"),
        pytest.param(
            json.dumps({"anthropic_version": "bedrock-2023-05-31", "messages": []}).encode(), id="claude-no-max"
        ),
        pytest.param(json.dumps({"foo": "bar"}).encode(), id="unknown-shape"),
    ],
)
def test_invoke_model_rejects_malformed_bodies(runtime: Any, in_service_pt: str, body: bytes) -> None:
    # Given a malformed body
    # When it is sent
    with pytest.raises(ClientError) as error:
        runtime.invoke_model(modelId=in_service_pt, body=body)

    # Then it is a ValidationException about the input
    assert error.value.response["Error"]["Code"] == "ValidationException"
    assert error.value.response["Error"]["Message"].startswith("Malformed input request")
