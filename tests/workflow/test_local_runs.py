"""Local runs of several drops in one account (issue 8, item 5): ``bedrock-finetune local run`` with repeated
``--dataset``, ``--deliveries``, ``--job-quota``, and the reconciler's schedule fired once after the executions."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune_local import runner, seams
from bedrock_finetune_local.aws import bedrock as local_bedrock
from bedrock_finetune_local.cli import main

from .test_cli_local import JSON_KEYS

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
BROKEN = ROOT / "events" / "datasets" / "support-chat-broken.jsonl"
# One run's JSON object has the same keys as a single-dataset `local run --json`.
RUN_KEYS = JSON_KEYS
MANY_KEYS = {
    "status",
    "runs",
    "executions_started",
    "max_concurrent_jobs",
    "reconciler",
    "price_refresh",
    "resources",
}
NO_DEPLOYMENT = {"deployment": {"mode": "none"}}


def other_content(tmp_path: Path, name: str, skip: int) -> Path:
    """The valid sample without its first ``skip`` records: another dataset (another sha256), still valid."""
    path = tmp_path / name
    path.write_bytes(b"".join(VALID.read_bytes().splitlines(keepends=True)[skip:]))
    return path


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["local", "run", *args, "--json"])
    return code, json.loads(capsys.readouterr().out)  # exactly one JSON object


def test_several_datasets_run_in_one_account_and_report_in_drop_order(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given two valid datasets and an invalid one, started from the console input in this order
    config = tmp_path / "config.json"
    config.write_text(json.dumps(NO_DEPLOYMENT))
    second = other_content(tmp_path, "second.jsonl", 1)

    # When run with --json
    code, result = run_json(
        capsys, "--dataset", str(VALID), "--dataset", str(BROKEN), "--dataset", str(second),
        "--via", "console", "--config", str(config),
    )  # fmt: skip

    # Then one object: FAILED because one run failed, one of today's objects per dataset in drop order
    assert code == 1
    assert set(result) == MANY_KEYS
    assert result["status"] == "FAILED"
    runs = result["runs"]
    assert [set(run) for run in runs] == [RUN_KEYS] * 3
    assert [run["status"] for run in runs] == ["SUCCEEDED", "FAILED", "SUCCEEDED"]
    assert [run["report"]["dataset"]["source"].rsplit("/", 1)[-1] for run in runs] == [
        "support-chat.jsonl",
        "support-chat-broken.jsonl",
        "second.jsonl",
    ]
    assert runs[1]["error"]["error"] == "DatasetInvalid"
    # And each run lists only its own notification
    assert [len(run["notifications"]) for run in runs] == [1, 1, 1]
    assert "support-chat-broken.jsonl" in runs[1]["notifications"][0]
    # And the account-wide numbers: three executions, at most the default quota of jobs at once, the reconciler ran
    assert result["executions_started"] == 3
    assert 1 <= result["max_concurrent_jobs"] <= 2
    assert result["reconciler"]["stack"] == "bedrock-finetune-local"
    assert result["reconciler"]["accessDenied"] == []
    assert result["resources"]["jobs_in_progress"] == []


def counting_deliveries(monkeypatch: pytest.MonkeyPatch) -> Counter[str]:
    """Count every delivery of an event to a rule's target, by the target's ARN."""
    counts: Counter[str] = Counter()
    deliver = seams._deliver

    def counted(target_arn: str, call: Callable[[], Any]) -> None:
        counts[target_arn] += 1
        deliver(target_arn, call)

    monkeypatch.setattr(seams, "_deliver", counted)
    return counts


def test_every_inbox_event_is_delivered_n_times(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given EventBridge delivering each inbox event three times
    counts = counting_deliveries(monkeypatch)

    # When one dataset is dropped and its run succeeds (no other rule matches a SUCCEEDED status change)
    result = runner.run(runner.RunOptions(dataset=VALID, config=NO_DEPLOYMENT, deliveries=3))

    # Then the inbox rule's one target received the drop's event three times (and the job's state change rule its
    # one event once: only inbox events are repeated), and the setting is back to one
    assert result.status == "SUCCEEDED"
    assert sorted(counts.values()) == [1, 3]
    assert seams.INBOX_DELIVERIES == 1


def test_the_job_quota_reaches_the_local_bedrock(tmp_path: Path) -> None:
    # Given a run asking for a quota of 3 concurrent jobs
    options = runner.RunOptions(dataset=VALID, job_quota=3)

    # When the local account is set up
    with runner.local_aws_session(options, tmp_path / "lambda.log"):
        settings = local_bedrock.current_settings()

    # Then the local Bedrock enforces that quota
    assert settings.job_quota == 3


def test_several_datasets_cannot_share_one_key(capsys: pytest.CaptureFixture[str]) -> None:
    # When --key is given with two datasets
    code = main(["local", "run", "--dataset", str(VALID), "--dataset", str(VALID), "--key", "inbox/a.jsonl"])

    # Then it is a usage error
    assert code == 2
    assert "--key" in capsys.readouterr().err


@pytest.mark.parametrize("args", [["--deliveries", "0"], ["--job-quota", "-1"], ["--deliveries", "two"]])
def test_counts_below_one_are_usage_errors(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["local", "run", "--dataset", str(VALID), *args]) == 2
    assert "error" in capsys.readouterr().err
