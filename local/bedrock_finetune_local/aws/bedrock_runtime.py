"""Local bedrock-runtime: Converse and InvokeModel answered by a deterministic local model.

moto routes ``bedrock-runtime`` to ``moto.bedrockruntime.responses.BedrockRuntimeResponse`` (its ``invoke_model``
returns ``{}``, ``converse`` does not exist). ``install_runtime()`` gives that class both operations.

The ``modelId`` must name something that can serve inference in the same account and Region of the local control
plane: an ``InService`` (or ``Updating``) provisioned model ARN, an ``Active`` custom model deployment ARN, or an
on-demand foundation model id or ARN from the local catalog (optionally with a cross-Region prefix such as ``us.``).
Anything else (unknown or deleted ARNs, a custom model ARN, a name) gets Bedrock's ``ValidationException: The provided
model identifier is invalid.``; a provisioned model or deployment that exists but is not ready gets a
``ValidationException`` naming its status (a guess at Bedrock's wording; ``ModelNotReadyException`` is avoided because
botocore retries it with backoff).

The answer is ``local-model answer #<8 hex of sha256(prompt)> to a <n>-word prompt``, where the prompt is the text of
the system blocks and all messages. Token counts are word counts; ``latencyMs`` is 40 + input tokens.
``LocalBedrockSettings.runtime_answer = "empty"`` makes every answer empty text (a smoke test must then fail).
"""

from __future__ import annotations

import hashlib
import itertools
import json
from typing import Any

from moto.bedrockruntime.responses import BedrockRuntimeResponse
from moto.core.responses import ActionResult

from bedrock_finetune_local.aws.bedrock import (
    FOUNDATION_MODELS,
    LocalBedrockBackend,
    ValidationException,
    backend_for,
    current_settings,
)

__all__ = ["INVALID_MODEL_MESSAGE", "answer_for", "install_runtime"]

INVALID_MODEL_MESSAGE = "The provided model identifier is invalid."
_ON_DEMAND_IDS = frozenset(m.model_id for m in FOUNDATION_MODELS if "ON_DEMAND" in m.inference_types)
_CROSS_REGION_PREFIXES = ("us.", "eu.", "apac.", "global.")


def answer_for(prompt: str) -> str:
    """The local model's answer to ``prompt`` under the current settings."""
    if current_settings().runtime_answer == "empty":
        return ""
    digest = hashlib.sha256(prompt.encode()).hexdigest()[:8]
    return f"local-model answer #{digest} to a {len(prompt.split())}-word prompt"


def _check_target(backend: LocalBedrockBackend, model_id: str) -> None:
    """Raise unless ``model_id`` can serve inference now."""
    if ":provisioned-model/" in model_id:
        pt = backend.provisioned.get(model_id)
        if pt is None:
            raise ValidationException(INVALID_MODEL_MESSAGE)
        if pt.status not in ("InService", "Updating"):
            raise ValidationException(
                f"The provisioned model {model_id} is not ready for inference (status {pt.status})."
            )
        return
    if ":custom-model-deployment/" in model_id:
        deployment = backend.deployments.get(model_id)
        if deployment is None:
            raise ValidationException(INVALID_MODEL_MESSAGE)
        if deployment.status != "Active":
            raise ValidationException(
                f"The custom model deployment {model_id} is not ready for inference (status {deployment.status})."
            )
        return
    if ":inference-profile/" in model_id:
        # A system-defined inference profile ARN: its id is the foundation id with a geography prefix.
        profile_id = model_id.split(":inference-profile/", 1)[1]
        foundation_id = next(
            (profile_id.removeprefix(p) for p in _CROSS_REGION_PREFIXES if profile_id.startswith(p)), ""
        )
    elif model_id.startswith("arn:"):
        # A custom model ARN cannot be invoked directly: it needs provisioned throughput or a deployment.
        _, marker, foundation_id = model_id.partition(":foundation-model/")
        foundation_id = foundation_id if marker else ""
    else:
        foundation_id = next(
            (model_id.removeprefix(p) for p in _CROSS_REGION_PREFIXES if model_id.startswith(p)), model_id
        )
    if foundation_id not in _ON_DEMAND_IDS:
        raise ValidationException(INVALID_MODEL_MESSAGE)


def _texts(blocks: Any) -> list[str]:
    """Text of Converse/Nova content blocks, Claude content (a string or typed blocks) or a plain string."""
    if isinstance(blocks, str):
        return [blocks]
    if not isinstance(blocks, list):
        return []
    return [block["text"] for block in blocks if isinstance(block, dict) and isinstance(block.get("text"), str)]


def _conversation_prompt(system: Any, messages: Any) -> str:
    if not isinstance(messages, list) or not messages:
        raise ValidationException(
            "Malformed input request: #: required key [messages] not found, please reformat your input and try again."
        )
    roles = [message.get("role") if isinstance(message, dict) else None for message in messages]
    if roles[0] != "user":
        raise ValidationException(
            "A conversation must start with a user message. "
            "Try again with a conversation that starts with a user message."
        )
    if any(role not in ("user", "assistant") for role in roles) or any(a == b for a, b in itertools.pairwise(roles)):
        raise ValidationException(
            "A conversation must alternate between user and assistant roles. Make sure the conversation alternates "
            "between user and assistant roles and try again."
        )
    parts = _texts(system)
    for message in messages:
        parts += _texts(message.get("content"))
    return "\n".join(parts)


def _generate(prompt: str, max_tokens: Any) -> tuple[str, int, int, bool]:
    """(answer, input tokens, output tokens, truncated) for ``prompt`` under a max-token limit."""
    words = answer_for(prompt).split()
    truncated = isinstance(max_tokens, int) and not isinstance(max_tokens, bool) and len(words) > max_tokens > 0
    if truncated:
        words = words[:max_tokens]
    return " ".join(words), max(len(prompt.split()), 1), len(words), truncated


def converse(self: BedrockRuntimeResponse) -> ActionResult:
    params = dict(self.params)
    backend = backend_for(self.current_account, self.region)
    with backend.lock:
        _check_target(backend, params["modelId"])
    prompt = _conversation_prompt(params.get("system"), params.get("messages"))
    answer, input_tokens, output_tokens, truncated = _generate(
        prompt, (params.get("inferenceConfig") or {}).get("maxTokens")
    )
    return ActionResult(
        {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "max_tokens" if truncated else "end_turn",
            "usage": {
                "inputTokens": input_tokens,
                "outputTokens": output_tokens,
                "totalTokens": input_tokens + output_tokens,
            },
            "metrics": {"latencyMs": 40 + input_tokens},
        }
    )


def _invoke_body(model_id: str, body: dict[str, Any]) -> dict[str, Any]:
    """The response body for the request body's family: Claude messages, Nova messages-v1, Titan text, Llama."""
    if "anthropic_version" in body:
        if body.get("anthropic_version") != "bedrock-2023-05-31" or not isinstance(body.get("max_tokens"), int):
            raise ValidationException(
                "Malformed input request: #: required key [max_tokens] not found or anthropic_version is not "
                "bedrock-2023-05-31, please reformat your input and try again."
            )
        answer, inputs, outputs, truncated = _generate(
            _conversation_prompt(body.get("system"), body.get("messages")), body["max_tokens"]
        )
        return {
            "id": "msg_bdrk_" + hashlib.sha256(f"{model_id}|{answer}".encode()).hexdigest()[:24],
            "type": "message",
            "role": "assistant",
            "model": model_id,
            "content": [{"type": "text", "text": answer}],
            "stop_reason": "max_tokens" if truncated else "end_turn",
            "stop_sequence": None,
            "usage": {"input_tokens": inputs, "output_tokens": outputs},
        }
    if "messages" in body:
        if body.get("schemaVersion", "messages-v1") != "messages-v1":
            raise ValidationException(
                f"Malformed input request: unsupported schemaVersion {body.get('schemaVersion')!r}."
            )
        config = body.get("inferenceConfig") or {}
        answer, inputs, outputs, truncated = _generate(
            _conversation_prompt(body.get("system"), body.get("messages")),
            config.get("maxTokens", config.get("max_new_tokens")),
        )
        return {
            "output": {"message": {"role": "assistant", "content": [{"text": answer}]}},
            "stopReason": "max_tokens" if truncated else "end_turn",
            "usage": {"inputTokens": inputs, "outputTokens": outputs, "totalTokens": inputs + outputs},
        }
    if isinstance(body.get("inputText"), str):
        config = body.get("textGenerationConfig") or {}
        answer, inputs, outputs, truncated = _generate(body["inputText"], config.get("maxTokenCount"))
        reason = "LENGTH" if truncated else "FINISHED"
        return {
            "inputTextTokenCount": inputs,
            "results": [{"tokenCount": outputs, "outputText": answer, "completionReason": reason}],
        }
    if isinstance(body.get("prompt"), str):
        answer, inputs, outputs, truncated = _generate(body["prompt"], body.get("max_gen_len"))
        return {
            "generation": answer,
            "prompt_token_count": inputs,
            "generation_token_count": outputs,
            "stop_reason": "length" if truncated else "stop",
        }
    raise ValidationException(
        "Malformed input request: #: required key [messages] not found, please reformat your input and try again."
    )


def invoke_model(self: BedrockRuntimeResponse) -> ActionResult:
    model_id = self._get_param("modelId")
    backend = backend_for(self.current_account, self.region)
    with backend.lock:
        _check_target(backend, model_id)
    content_type = self._get_param("contentType", "application/json")
    if content_type != "application/json":
        raise ValidationException(f"The provided contentType {content_type} is not supported; use application/json.")
    raw = self._get_param("body")
    try:
        body = json.loads(raw)
    except (TypeError, ValueError) as error:
        raise ValidationException(
            f"Malformed input request: {error}, please reformat your input and try again."
        ) from None
    if not isinstance(body, dict):
        raise ValidationException(
            "Malformed input request: #: expected type: JSONObject, please reformat your input and try again."
        )
    return ActionResult({"body": json.dumps(_invoke_body(model_id, body)), "contentType": "application/json"})


_installed = False


def install_runtime() -> None:
    """Give moto's bedrock-runtime Converse and a real InvokeModel (idempotent)."""
    global _installed  # noqa: PLW0603
    if _installed:
        return
    for name, method in (("converse", converse), ("invoke_model", invoke_model)):
        setattr(BedrockRuntimeResponse, name, method)
    _installed = True
