"""Shared builders for the validator tests: records per dataset format, and a one-call validation of in-memory lines.

Test modules here import constants and builders with `from conftest import ...`: tests/unit has no __init__.py and
this is the only conftest.py outside a package, so the name is unambiguous.
"""

from __future__ import annotations

import io
import json
from collections.abc import Callable, Iterable, Mapping
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune.catalog import get_model
from bedrock_finetune.validation import DatasetSource, ValidationReport, validate_dataset

REPO = Path(__file__).resolve().parents[2]
CLAUDE = "anthropic.claude-3-haiku-20240307-v1:0:200k"
NOVA_MICRO = "amazon.nova-micro-v1:0:128k"
NOVA_LITE = "amazon.nova-lite-v1:0:300k"
NOVA_2_LITE = "amazon.nova-2-lite-v1:0:256k"
TITAN_EXPRESS = "amazon.titan-text-express-v1:0:8k"
TITAN_LITE = "amazon.titan-text-lite-v1:0:4k"
TITAN_IMAGE_V1 = "amazon.titan-image-generator-v1:0"
TITAN_EMBEDDINGS = "amazon.titan-embed-image-v1:0"
COHERE = "cohere.command-text-v14:7:4k"
LLAMA_31_8B = "meta.llama3-1-8b-instruct-v1:0:128k"
LLAMA_32_1B = "meta.llama3-2-1b-instruct-v1:0:128k"
LLAMA_32_11B = "meta.llama3-2-11b-instruct-v1:0:128k"
LLAMA_32_90B = "meta.llama3-2-90b-instruct-v1:0:128k"

Line = Mapping[str, Any] | list[Any] | str | bytes


def to_bytes(lines: Iterable[Line], *, newline: bytes = b"\n", final_newline: bool = True) -> bytes:
    """Objects become JSON lines; str and bytes are written as they are (to build broken lines)."""
    encoded = [
        line if isinstance(line, bytes) else (line if isinstance(line, str) else json.dumps(line)).encode()
        for line in lines
    ]
    return newline.join(encoded) + (newline if final_newline else b"")


def run_validation(
    train: Iterable[Line] | bytes,
    model_id: str,
    *,
    customization_type: str = "FINE_TUNING",
    validation: Iterable[Line] | bytes | None = None,
    hyperparameters: Mapping[str, str | int | float] | None = None,
    train_name: str = "train.jsonl",
    max_errors: int = 100,
) -> ValidationReport:
    def source(name: str, lines: Iterable[Line] | bytes) -> DatasetSource:
        data = lines if isinstance(lines, bytes) else to_bytes(lines)
        return DatasetSource(name=name, stream=io.BytesIO(data), size=len(data))

    return validate_dataset(
        train=source(train_name, train),
        model=get_model(model_id),
        customization_type=customization_type,
        validation=source("validation.jsonl", validation) if validation is not None else None,
        hyperparameters=hyperparameters,
        max_errors=max_errors,
    )


class Records:
    """Valid records, unique per index, for each dataset format."""

    @staticmethod
    def claude(index: int, *, exchanges: int = 1) -> dict[str, Any]:
        messages: list[dict[str, Any]] = []
        for turn in range(exchanges):
            messages.append({"role": "user", "content": f"Question {index}.{turn} about the order status."})
            messages.append({"role": "assistant", "content": f"Answer {index}.{turn}: it ships tomorrow."})
        return {"system": "You are a helpful support agent.", "messages": messages}

    @staticmethod
    def converse(index: int, *, user_content: list[dict[str, Any]] | None = None) -> dict[str, Any]:
        return {
            "schemaVersion": "bedrock-conversation-2024",
            "system": [{"text": "You are a helpful support agent."}],
            "messages": [
                {"role": "user", "content": user_content or [{"text": f"Question {index} about returns."}]},
                {"role": "assistant", "content": [{"text": f"Answer {index}: within 30 days."}]},
            ],
        }

    @staticmethod
    def image(bucket: str = "example-bucket", key: str = "images/photo.png") -> dict[str, Any]:
        return {"image": {"format": "png", "source": {"s3Location": {"uri": f"s3://{bucket}/{key}"}}}}

    @staticmethod
    def prompt_completion(index: int) -> dict[str, Any]:
        return {"prompt": f"Summarise ticket {index}.", "completion": f"Ticket {index} is about a late parcel."}

    @staticmethod
    def cpt(index: int) -> dict[str, Any]:
        return {"input": f"Document {index}: kettles boil water faster at sea level."}

    @staticmethod
    def image_caption(index: int) -> dict[str, Any]:
        return {"image-ref": f"s3://example-bucket/images/{index}.png", "caption": f"A red kettle, photo {index}."}


Validate = Callable[..., ValidationReport]


@pytest.fixture(scope="session")
def validate() -> Validate:
    return run_validation


@pytest.fixture(scope="session")
def records() -> type[Records]:
    return Records


def codes_at(report: ValidationReport) -> list[tuple[str, int | None]]:
    """(code, line) of every listed error, in order."""
    return [(issue.code, issue.line) for issue in report.errors]


@pytest.fixture(scope="session")
def error_codes() -> Callable[[ValidationReport], list[tuple[str, int | None]]]:
    return codes_at
