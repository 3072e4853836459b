"""AWS's own sample datasets (../shared/peer-data, see its README) must validate for the models they were shipped for:
a rule stricter than Bedrock shows up here first."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from conftest import COHERE, NOVA_MICRO, TITAN_IMAGE_V1, Validate

PEER_DATA = Path(__file__).resolve().parents[3] / "shared" / "peer-data"
NOVA_CANVAS = "amazon.nova-canvas-v1:0"
COHERE_LIGHT = "cohere.command-light-text-v14:7:4k"

pytestmark = pytest.mark.skipif(not PEER_DATA.is_dir(), reason="../shared/peer-data is not checked out here")


@pytest.mark.parametrize(
    ("file_name", "model_id"),
    [
        ("cohere-summarization-training-data.jsonl", COHERE_LIGHT),
        ("cohere-summarization-training-data.jsonl", COHERE),
        ("nova-tooluse-formatted_test_ft.jsonl", NOVA_MICRO),
    ],
)
def test_aws_sample_jsonl_datasets_validate(validate: Validate, file_name: str, model_id: str) -> None:
    # Given an AWS sample dataset, unchanged / When validated for its model / Then valid
    report = validate((PEER_DATA / file_name).read_bytes(), model_id)
    assert report.valid, [(issue.code, issue.line, issue.message) for issue in report.errors]


@pytest.mark.parametrize(
    ("model_id", "hyperparameters"),
    [(TITAN_IMAGE_V1, {"stepCount": "auto"}), (NOVA_CANVAS, None)],  # Titan requires stepCount (a number or 'auto')
)
def test_aws_sample_image_captions_validate(
    validate: Validate, model_id: str, hyperparameters: dict[str, str] | None
) -> None:
    # Given the Titan captions as AWS's notebook turns them into JSONL (one {"image-ref", "caption"} per image)
    captions = json.loads((PEER_DATA / "titan-image-ron-smila-captions.json").read_text(encoding="utf-8"))
    lines = [{"image-ref": f"s3://example-bucket/ron/{name}", "caption": caption} for name, caption in captions.items()]

    # When validated / Then valid, and the .jpg keys raise no image-ref warning
    report = validate(lines, model_id, hyperparameters=hyperparameters)
    assert report.valid, [(issue.code, issue.line, issue.message) for issue in report.errors]
    assert not [issue for issue in report.warnings if issue.code == "W_IMAGE_REF_EXTENSION"]
