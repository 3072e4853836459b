"""SmokeTest: Converse with the deployed model; every answer must be non-empty.

Prompts come from the configuration, else from the staged validation set, else the training set (the first user
turn of the first records). Prompts and answers are dataset-derived, so they are written only to the private
``reports/<run>/smoke-test.json``; the step's output and the logs carry counts and latencies.
"""

from __future__ import annotations

import json
import statistics
import time
from typing import Any, Literal

from botocore.exceptions import ClientError

from bedrock_finetune import aws, naming
from bedrock_finetune.catalog import get_model
from bedrock_finetune.config import RunConfig, S3Location
from bedrock_finetune.errors import SmokeTestFailed, TransientAwsError
from bedrock_finetune.models import DeploymentInfo, SmokeTestOutput, StageDatasetOutput

TEXT_FORMATS = frozenset({"prompt-completion", "claude-messages", "converse", "cpt-input"})
MAX_PROMPT_CHARS = 2000
MAX_RECORDS_SCANNED = 200
RESULTS_NAME = "smoke-test.json"
PromptSource = Literal["config", "validation", "train", "none"]


def base_inference_id(customization_id: str) -> str:
    """``amazon.nova-micro-v1:0:128k`` → ``amazon.nova-micro-v1:0`` (the context suffix is for customization)."""
    parts = customization_id.split(":")
    return ":".join(parts[:2]) if len(parts) > 2 else customization_id


def base_model_arn(base_model_id: str, deployed_arn: str) -> str:
    """The ARN compare-with-base invokes: the base model's system-defined inference profile where it can be invoked
    on demand only through one (Llama 3.2 / 3.3, Nova 2 Lite), else its foundation-model ARN; in the partition, Region
    and account of the deployed model (``arn:aws:bedrock:us-west-2:123456789012:provisioned-model/...``)."""
    fields = deployed_arn.split(":")
    if len(fields) < 6 or fields[2] != "bedrock":
        raise ValueError(f"not a Bedrock ARN: {deployed_arn}")
    partition, region, account = fields[1], fields[3], fields[4]
    return get_model(base_model_id).base_inference_arn(partition=partition, region=region, account=account)


def first_user_text(record: dict[str, Any], dataset_format: str) -> str | None:
    """The prompt a record starts with, in the record's own format."""
    if dataset_format == "prompt-completion":
        value = record.get("prompt")
    elif dataset_format == "cpt-input":
        value = record.get("input")
    else:
        messages = record.get("messages") or []
        first = next((m for m in messages if isinstance(m, dict) and m.get("role") == "user"), None)
        content = first.get("content") if first else None
        if isinstance(content, list):
            value = " ".join(block["text"] for block in content if isinstance(block, dict) and "text" in block)
        else:
            value = content
    return value[:MAX_PROMPT_CHARS] if isinstance(value, str) and value.strip() else None


def dataset_prompts(location: S3Location, dataset_format: str, count: int) -> list[str]:
    """Read records from the start of the object until ``count`` prompts are found (the object is not downloaded)."""
    body, _ = aws.open_object(location)
    prompts: list[str] = []
    try:
        for index, line in enumerate(body.iter_lines()):
            if len(prompts) >= count or index >= MAX_RECORDS_SCANNED:
                break
            try:
                record = json.loads(line)
            except ValueError:
                continue
            prompt = first_user_text(record, dataset_format) if isinstance(record, dict) else None
            if prompt:
                prompts.append(prompt)
    finally:
        body.close()
    return prompts


def choose_prompts(
    config: RunConfig, staged: StageDatasetOutput, dataset_format: str
) -> tuple[PromptSource, list[str]]:
    if config.smoke_test.prompts:
        return "config", list(config.smoke_test.prompts)
    if config.smoke_test.count == 0:
        return "none", []
    if staged.validation is not None:
        found = dataset_prompts(staged.validation, dataset_format, config.smoke_test.count)
        if found:
            return "validation", found
    return "train", dataset_prompts(staged.train, dataset_format, config.smoke_test.count)


def converse(model_id: str, prompt: str) -> tuple[str, int]:
    """The answer's text and the latency in ms."""
    started = time.perf_counter()
    with aws.transient_errors():
        response = aws.client("bedrock-runtime").converse(
            modelId=model_id,
            messages=[{"role": "user", "content": [{"text": prompt}]}],
            inferenceConfig={"maxTokens": 256, "temperature": 0.0},
        )
    latency = int((time.perf_counter() - started) * 1000)
    blocks = response.get("output", {}).get("message", {}).get("content", [])
    text = "".join(block.get("text", "") for block in blocks if isinstance(block, dict))
    return text, int(response.get("metrics", {}).get("latencyMs", latency))


def run(config: RunConfig, staged: StageDatasetOutput, deployment: DeploymentInfo) -> SmokeTestOutput:
    spec = get_model(config.base_model_id)
    dataset_format = spec.dataset_format(config.customization_type)
    if dataset_format not in TEXT_FORMATS:
        return SmokeTestOutput(
            model_id=deployment.arn,
            prompt_source="none",
            prompts=0,
            answered=0,
            latencies_ms=[],
            median_latency_ms=None,
            skipped_reason=f"{dataset_format} models have no text conversation to test",
        )
    source, prompts = choose_prompts(config, staged, dataset_format)
    base_arn = base_model_arn(config.base_model_id, deployment.arn) if config.smoke_test.compare_with_base else None
    results: list[dict[str, Any]] = []
    for prompt in prompts:
        answer, latency = converse(deployment.arn, prompt)
        result: dict[str, Any] = {"prompt": prompt, "answer": answer, "latencyMs": latency}
        if base_arn is not None:
            result["baseAnswer"] = _base_answer(base_arn, prompt)
        results.append(result)
    key = naming.report_key(config.run_id, RESULTS_NAME)
    details: dict[str, Any] = {"modelId": deployment.arn, "results": results}
    if base_arn is not None:
        details["baseModelId"] = base_arn
    aws.put_json(config.bucket, key, json.dumps(details, indent=2))
    latencies = [item["latencyMs"] for item in results]
    answered = sum(1 for item in results if item["answer"].strip())
    output = SmokeTestOutput(
        model_id=deployment.arn,
        prompt_source=source,
        prompts=len(results),
        answered=answered,
        latencies_ms=latencies,
        median_latency_ms=int(statistics.median(latencies)) if latencies else None,
        base_model_answered=(
            sum(1 for item in results if item.get("baseAnswer")) if config.smoke_test.compare_with_base else None
        ),
        results_key=key,
    )
    if source != "none" and not results:
        raise SmokeTestFailed(f"no prompt could be taken from the {source} set; set smokeTest.prompts")
    if answered < len(results):
        raise SmokeTestFailed(
            f"{len(results) - answered} of {len(results)} smoke-test answers were empty (details: s3://{config.bucket}/{key})"
        )
    return output


def _base_answer(base_arn: str, prompt: str) -> str | None:
    """The base model's answer, for the report only: its failure never fails the run."""
    try:
        return converse(base_arn, prompt)[0]
    except (ClientError, TransientAwsError):
        return None
