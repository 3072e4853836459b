"""Acceptance (issue 7, item 6): a dataset dropped under an odd inbox key trains end to end on the local AWS."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bedrock_finetune_local.cli import main

ROOT = Path(__file__).resolve().parents[2]
VALID = str(ROOT / "events" / "datasets" / "support-chat.jsonl")
ODD_KEY = "inbox/Q4 reports/my data (v2)+ü.jsonl"


def test_an_odd_inbox_key_trains(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the sample dataset dropped under a key with spaces, brackets, '+' and 'ü'
    # When the whole workflow runs on the local AWS
    code = main(["local", "run", "--dataset", VALID, "--key", ODD_KEY, "--json"])
    result = json.loads(capsys.readouterr().out)

    # Then it succeeded (no file-name rule on the dropped key) and the dataset moved to processed/ under its name
    assert (code, result["status"], result["error"]) == (0, "SUCCEEDED", None)
    assert result["dataset"]["s3_uri"].endswith("/my data (v2)+ü.jsonl")
    assert "/processed/" in result["dataset"]["s3_uri"]
