"""The split path streams the training and validation files to S3 in multipart uploads; when a part fails, it aborts
the uploads (s3:AbortMultipartUpload on datasets/*) so no incomplete upload is left, and the state machine retries.
Before the template granted s3:AbortMultipartUpload, the abort itself was denied and turned a transient S3 error
into a failed run."""

from __future__ import annotations

from pathlib import Path

import pytest

from bedrock_finetune import aws
from bedrock_finetune_local import runner

from .test_iam_enforced import Permission, take_out

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
FAULT = "s3:UploadPart=InternalError*3"  # one Lambda attempt's 3 HTTP attempts: StageDataset is retried once


PART_SIZE = 5 * 1024 * 1024  # S3's minimum part size (moto enforces it: EntityTooSmall)


@pytest.fixture(autouse=True)
def small_parts(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(aws.MultipartWriter, "PART_SIZE", PART_SIZE)


@pytest.fixture
def large(tmp_path: Path) -> Path:
    """The sample's records repeated (each made unique) past one part: the training file is uploaded in 2 parts."""
    records = VALID.read_text().splitlines()
    out = tmp_path / "large.jsonl"
    size, index = 0, 0
    with out.open("w") as stream:
        while size < PART_SIZE * 1.3:
            line = records[index % len(records)].replace("NW-1", f"NW-{index}-1", 1) + "\n"
            stream.write(line)
            size += len(line.encode())
            index += 1
    return out


def test_a_failed_part_aborts_the_upload_and_the_retried_stage_succeeds(large: Path) -> None:
    # Given the first part upload failing for one whole Lambda attempt
    result = runner.run(runner.RunOptions(dataset=large, faults=[FAULT]))

    # Then StageDataset was retried after aborting its uploads, nothing was denied, and the run succeeded
    assert result.status == "SUCCEEDED", result.error
    assert result.faults_fired[FAULT] == 3
    assert any(line.name == "StageDataset" and line.outcome.startswith("retried") for line in result.timeline)
    assert not [d for d in result.access_denied if d["action"] == "s3:AbortMultipartUpload"]
    assert any(g.action == "s3:AbortMultipartUpload" for g in result.grants)


def test_without_abort_multipart_upload_the_same_transient_error_fails_the_run(large: Path) -> None:
    # Given the template without s3:AbortMultipartUpload for StageDataset (as it was before the fix)
    edit = take_out(Permission("StageDatasetFunctionRole", "s3:AbortMultipartUpload", "inbox", "StageDataset"))

    # When the same part fails
    result = runner.run(runner.RunOptions(dataset=large, faults=[FAULT], template_edit=edit))

    # Then the abort is denied, and what was a retryable error fails the run
    assert [d["action"] for d in result.access_denied] == ["s3:AbortMultipartUpload"]
    assert result.status == "FAILED"
