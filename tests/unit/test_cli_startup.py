"""Every command starts fast: only ``local`` subcommands import the local AWS (moto, the runner, the emulated
Bedrock), and only the stack commands import boto3 (when they run, not when the parser is built). Each command runs
in a fresh interpreter, which then reports the modules it imported."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path
from typing import Any

import pytest
from conftest import NOVA_MICRO, REPO

HEAVY = ("moto", "bedrock_finetune_local.runner", "bedrock_finetune_local.stack", "bedrock_finetune_local.seams")
# Runs main() with the given arguments, then prints which of the heavy modules were imported.
PROBE = textwrap.dedent(
    """
    import json, sys
    from bedrock_finetune_cli.main import main
    code = main(sys.argv[1:])
    heavy = sorted(name for name in sys.modules if name.split(".")[0] == "moto" or name in {heavy!r})
    boto = sorted(name for name in sys.modules if name in {{"boto3", "botocore"}})
    sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "heavy": heavy, "boto": boto}}) + "\\n")
    """
).format(heavy=set(HEAVY[1:]))


def run_probe(*argv: str, env: dict[str, str] | None = None) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env=env,
    )
    line = next(line for line in done.stderr.splitlines() if line.startswith("PROBE "))
    return dict(json.loads(line.removeprefix("PROBE ")))


@pytest.mark.parametrize(
    "argv",
    [
        ["--help"],
        ["models"],
        ["models", "--json"],
        ["validate", "events/datasets/support-chat.jsonl", "--base-model", NOVA_MICRO],
        ["validate", "events/datasets/support-chat-broken.jsonl", "--base-model", NOVA_MICRO, "--json"],
        ["local", "run", "--help"],
        ["submit", "--help"],
        ["runs", "--help"],
    ],
)
def test_commands_other_than_local_runs_do_not_import_the_local_aws(argv: list[str]) -> None:
    # Given a fresh interpreter / When the command runs
    probe = run_probe(*argv)

    # Then it did its job without importing moto or the local runner, nor boto3
    assert probe["code"] in (0, 1)
    assert probe["heavy"] == []
    assert probe["boto"] == []


def test_a_stack_command_imports_boto3_but_not_the_local_aws() -> None:
    # Given no AWS credentials / When `runs` runs
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(AWS_CONFIG_FILE=os.devnull, AWS_SHARED_CREDENTIALS_FILE=os.devnull, AWS_EC2_METADATA_DISABLED="true")
    probe = run_probe("runs", "--stack", "s", "--region", "us-east-1", env=env)

    # Then it fails as a usage error (no credentials), with boto3 loaded and moto not
    assert probe["code"] == 2
    assert probe["heavy"] == []
    assert "boto3" in probe["boto"]


def test_the_probe_sees_the_local_aws_when_a_local_run_starts() -> None:
    # Given a local run (its dataset is missing, so it stops with a usage error right after the imports)
    probe = run_probe("local", "run", "--dataset", "does-not-exist.jsonl")

    # Then the probe reports moto and the runner: it would catch an eager import
    assert probe["code"] == 2
    heavy = probe["heavy"]
    assert isinstance(heavy, list)
    assert "moto" in heavy
    assert "bedrock_finetune_local.runner" in heavy


def test_a_local_run_removes_the_folders_of_runs_older_than_a_day(tmp_path: Path, monkeypatch: Any) -> None:
    import tempfile

    from bedrock_finetune_local import runner

    # Given the folders of an old run, an old demo and a recent run
    monkeypatch.setattr(tempfile, "tempdir", str(tmp_path))
    old_run, old_demo, recent = (
        tmp_path / "bedrock-finetune-local-old",
        tmp_path / "bedrock-finetune-demo-old",
        tmp_path / "bedrock-finetune-local-new",
    )
    for folder in (old_run, old_demo, recent):
        folder.mkdir()
        (folder / "lambda.log").write_text("{}")
    two_days_ago = 1_000_000.0 - 2 * 86400
    os.utime(old_run, (two_days_ago, two_days_ago))
    os.utime(old_demo, (two_days_ago, two_days_ago))
    os.utime(recent, (1_000_000.0 - 60, 1_000_000.0 - 60))

    # When the next run cleans up
    removed = runner.remove_old_run_folders(now=1_000_000.0)

    # Then only the folders older than a day are gone
    assert sorted(removed) == sorted([old_run, old_demo])
    assert recent.exists()
    assert not old_run.exists()
