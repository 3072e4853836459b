"""Every command starts fast: only ``local`` subcommands import the local AWS (moto, the runner, the emulated
Bedrock). Each command runs in a fresh interpreter, which then reports the modules it imported."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest
from conftest import NOVA_MICRO, REPO

HEAVY = ("moto", "bedrock_finetune_local.runner", "bedrock_finetune_local.stack", "bedrock_finetune_local.seams")
# Runs main() with the given arguments, then prints which of the heavy modules were imported.
PROBE = textwrap.dedent(
    """
    import json, sys
    from bedrock_finetune_local.cli import main
    code = main(sys.argv[1:])
    heavy = sorted(name for name in sys.modules if name.split(".")[0] == "moto" or name in {heavy!r})
    sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "heavy": heavy}}) + "\\n")
    """
).format(heavy=set(HEAVY[1:]))


def run_probe(*argv: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", PROBE, *argv], cwd=REPO, capture_output=True, text=True, timeout=120, check=False
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
    ],
)
def test_commands_other_than_local_runs_do_not_import_the_local_aws(argv: list[str]) -> None:
    # Given a fresh interpreter / When the command runs
    probe = run_probe(*argv)

    # Then it did its job without importing moto or the local runner
    assert probe["code"] in (0, 1)
    assert probe["heavy"] == []


def test_the_probe_sees_the_local_aws_when_a_local_run_starts() -> None:
    # Given a local run (its dataset is missing, so it stops with a usage error right after the imports)
    probe = run_probe("local", "run", "--dataset", "does-not-exist.jsonl")

    # Then the probe reports moto and the runner: it would catch an eager import
    assert probe["code"] == 2
    heavy = probe["heavy"]
    assert isinstance(heavy, list)
    assert "moto" in heavy
    assert "bedrock_finetune_local.runner" in heavy
