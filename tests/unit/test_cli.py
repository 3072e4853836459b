"""The ``bedrock-finetune`` CLI: exit codes, the exact JSON shape, the human report, golden outputs.

Golden files live in tests/golden/. After an intended change of output, regenerate them with
``UPDATE_GOLDEN=1 .venv/bin/pytest tests/unit/test_cli.py`` and review the diff.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import sys
import types
from pathlib import Path

import pytest
from conftest import CLAUDE, NOVA_MICRO, REPO, Records

import bedrock_finetune_local
from bedrock_finetune.catalog import all_models
from bedrock_finetune_cli.main import main

GOLDEN = REPO / "tests" / "golden"
DATASETS = "events/datasets"
ISSUE_KEYS = ["file", "line", "code", "message", "path"]


@pytest.fixture(autouse=True)
def _in_repo(monkeypatch: pytest.MonkeyPatch) -> None:
    # Paths in reports are as given on the command line: run from the repository root, colour off by default.
    monkeypatch.chdir(REPO)
    monkeypatch.delenv("NO_COLOR", raising=False)


def write(tmp_path: Path, name: str, lines: list[dict[str, object]]) -> str:
    path = tmp_path / name
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    return str(path)


def check_golden(name: str, actual: str) -> None:
    path = GOLDEN / name
    if os.environ.get("UPDATE_GOLDEN"):
        path.parent.mkdir(exist_ok=True)
        path.write_text(actual)
    assert actual == path.read_text(), f"{name} changed; UPDATE_GOLDEN=1 regenerates it"


@pytest.mark.parametrize(("dataset", "exit_code"), [("support-chat", 0), ("support-chat-broken", 1)])
def test_golden_json_report(capsys: pytest.CaptureFixture[str], dataset: str, exit_code: int) -> None:
    # Given a sample dataset / When validated with --json
    code = main(["validate", f"{DATASETS}/{dataset}.jsonl", "--base-model", NOVA_MICRO, "--json"])

    # Then the exit code is right and stdout is exactly the golden JSON
    assert code == exit_code
    check_golden(f"{dataset}.json", capsys.readouterr().out)


@pytest.mark.parametrize(("dataset", "exit_code"), [("support-chat", 0), ("support-chat-broken", 1)])
def test_golden_human_report(capsys: pytest.CaptureFixture[str], dataset: str, exit_code: int) -> None:
    # Given a sample dataset / When validated without --json (stdout is not a terminal)
    code = main(["validate", f"{DATASETS}/{dataset}.jsonl", "--base-model", NOVA_MICRO])

    # Then the exit code is right and the report is exactly the golden text, without colour
    assert code == exit_code
    out = capsys.readouterr().out
    assert "\033[" not in out
    check_golden(f"{dataset}.txt", out)


def test_json_output_is_one_object_of_the_documented_shape(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the broken sample / When validated with --json
    main(["validate", f"{DATASETS}/support-chat-broken.jsonl", "--base-model", NOVA_MICRO, "--json"])
    report = json.loads(capsys.readouterr().out)

    # Then exactly these keys, issues with exactly file/line/code/message/path, and null lines for file-level ones
    assert list(report) == ["valid", "errors", "warnings", "stats", "hyperparameters"]
    assert report["valid"] is False
    for issue in report["errors"] + report["warnings"]:
        assert list(issue) == ISSUE_KEYS
    assert any(issue["line"] is None for issue in report["warnings"])
    assert report["stats"]["files"][0]["name"] == f"{DATASETS}/support-chat-broken.jsonl"
    assert report["hyperparameters"] == {"epochCount": "2", "learningRate": "1e-05", "learningRateWarmupSteps": "10"}


def test_human_report_groups_errors_by_code_with_lines(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the broken sample / When validated
    main(["validate", f"{DATASETS}/support-chat-broken.jsonl", "--base-model", NOVA_MICRO])
    out = capsys.readouterr().out

    # Then the verdict comes first, then errors grouped by code with file:line, then statistics
    assert out.startswith("INVALID")
    assert out.index("Errors") < out.index("Warnings") < out.index("Statistics")
    assert "  E_ROLE_LAST (3): last message not from the assistant\n" in out
    assert f"    {DATASETS}/support-chat-broken.jsonl:4  blank line" in out


def test_validation_file_and_hyperparameters(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given Claude train and validation files and two hyperparameters
    train = write(tmp_path, "train.jsonl", [Records.claude(index) for index in range(40)])
    validation = write(tmp_path, "val.jsonl", [Records.claude(100 + index) for index in range(5)])

    # When validated with --json
    code = main(
        ["validate", train, "--base-model", CLAUDE, "--validation", validation, "--json",
         "--hyperparameters", "epochCount=3", "learningRateMultiplier=0.5"]
    )  # fmt: skip
    report = json.loads(capsys.readouterr().out)

    # Then valid, both files read, hyperparameters resolved as strings
    assert code == 0
    assert [file["role"] for file in report["stats"]["files"]] == ["train", "validation"]
    assert report["hyperparameters"]["epochCount"] == "3"
    assert report["hyperparameters"]["learningRateMultiplier"] == "0.5"


def test_invalid_hyperparameters_exit_1(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    # Given a valid file and epochCount 99 / When validated / Then exit 1 with E_HYPERPARAMETER in the report
    train = write(tmp_path, "train.jsonl", [Records.claude(index) for index in range(40)])
    assert main(["validate", train, "--base-model", CLAUDE, "--hyperparameters", "epochCount=99", "--json"]) == 1
    assert [error["code"] for error in json.loads(capsys.readouterr().out)["errors"]] == ["E_HYPERPARAMETER"]


def test_continued_pre_training(tmp_path: Path) -> None:
    # Given a CPT file / When validated for Titan Express continued pre-training / Then exit 0
    train = write(tmp_path, "cpt.jsonl", [Records.cpt(index) for index in range(10)])
    args = ["validate", train, "--base-model", "amazon.titan-text-express-v1:0:8k"]
    assert main([*args, "--customization-type", "CONTINUED_PRE_TRAINING"]) == 0


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", "amazon.nova-micro"], "unknown base model id"),
        (["validate", "missing.jsonl", "--base-model", NOVA_MICRO], "cannot read missing.jsonl"),
        (["validate", DATASETS, "--base-model", NOVA_MICRO], f"cannot read {DATASETS}"),
        (["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", NOVA_MICRO, "--validation", "nope.jsonl"],
         "cannot read nope.jsonl"),
        (["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", NOVA_MICRO, "--hyperparameters", "epochs"],
         "expects KEY=VALUE"),
        (["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", NOVA_MICRO,
          "--customization-type", "CONTINUED_PRE_TRAINING"], "does not support customization type"),
        (["validate", f"{DATASETS}/support-chat.jsonl"], "--base-model"),
        (["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", NOVA_MICRO, "--customization-type", "X"],
         "invalid choice"),
        ([], "usage:"),
    ],
)  # fmt: skip
def test_usage_errors_exit_2_with_the_reason_on_stderr(
    capsys: pytest.CaptureFixture[str], args: list[str], reason: str
) -> None:
    # Given bad arguments / When run / Then exit 2, nothing on stdout, the reason on stderr
    assert main(args) == 2
    captured = capsys.readouterr()
    assert captured.out == ""
    assert reason in captured.err


def test_help_exits_0(capsys: pytest.CaptureFixture[str]) -> None:
    # Given --help / When run / Then exit 0 and usage on stdout
    assert main(["validate", "--help"]) == 0
    assert "--base-model" in capsys.readouterr().out


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(("no_color", "coloured"), [(None, True), ("1", False)])
def test_colour_only_on_a_terminal_without_no_color(
    monkeypatch: pytest.MonkeyPatch, no_color: str | None, coloured: bool
) -> None:
    # Given stdout is a terminal, with or without NO_COLOR
    terminal = Terminal()
    monkeypatch.setattr(sys, "stdout", terminal)
    if no_color is not None:
        monkeypatch.setenv("NO_COLOR", no_color)

    # When a dataset is validated / Then ANSI colour appears only without NO_COLOR
    main(["validate", f"{DATASETS}/support-chat-broken.jsonl", "--base-model", NOVA_MICRO])
    assert ("\033[31m" in terminal.getvalue()) is coloured


def test_models_lists_the_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the catalog / When `models` runs / Then one line per model and customization type, with its details
    assert main(["models"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["MODEL", "ID", "CUSTOMIZATION", "FORMAT", "RECORDS", "DEPLOYMENT"]
    assert len(out) == 1 + sum(len(spec.customizations) for spec in all_models())
    claude = next(line for line in out if line.startswith(CLAUDE))
    assert "claude-messages" in claude
    assert "train 32-10,000; validation <= 1,000; total <= 10,000" in claude
    assert claude.endswith("provisioned")


def test_models_json_is_the_full_catalog(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the catalog / When `models --json` runs / Then one JSON array of every spec, hyperparameters included
    assert main(["models", "--json"]) == 0
    models = json.loads(capsys.readouterr().out)
    assert [model["id"] for model in models] == [spec.id for spec in all_models()]
    nova = next(model for model in models if model["id"] == NOVA_MICRO)
    assert nova["deployment_modes"] == ["on-demand", "provisioned"]
    assert nova["customizations"]["FINE_TUNING"]["dataset_format"] == "converse"
    assert nova["customizations"]["FINE_TUNING"]["hyperparameters"][0]["name"] == "epochCount"


def test_extensions_register_subcommands_that_return_exit_codes(monkeypatch: pytest.MonkeyPatch) -> None:
    # Given an extension module whose register() adds a subcommand returning 7
    def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
        subparsers.add_parser("hello").set_defaults(func=lambda args: 7)

    monkeypatch.setattr(bedrock_finetune_local, "cli_local", types.SimpleNamespace(register=register), raising=False)

    # When that subcommand runs / Then its exit code is main's
    assert main(["hello"]) == 7


def test_the_cli_works_without_the_extension_module(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the extension module cannot be imported
    monkeypatch.delattr(bedrock_finetune_local, "cli_local", raising=False)
    monkeypatch.setitem(sys.modules, "bedrock_finetune_local.cli_local", None)

    # When the validator runs / Then it works as usual
    assert main(["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", NOVA_MICRO, "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["valid"] is True


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["validate", "missing.jsonl", "--base-model", NOVA_MICRO, "--json"], "cannot read missing.jsonl"),
        (["validate", f"{DATASETS}/support-chat.jsonl", "--json"], "--base-model"),
        (["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", "amazon.nova-micro", "--json"],
         "unknown base model id"),
        (["validate", f"{DATASETS}/support-chat.jsonl", "--base-model", NOVA_MICRO, "--json",
          "--hyperparameters", "epochs"], "expects KEY=VALUE"),
        (["models", "--json", "--nope"], "unrecognized arguments: --nope"),
    ],
)  # fmt: skip
def test_usage_errors_with_json_print_exactly_one_json_object(
    capsys: pytest.CaptureFixture[str], args: list[str], reason: str
) -> None:
    # Given bad arguments and --json / When run / Then exit 2, stdout is one {"error", "exitCode"} object
    assert main(args) == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert list(payload) == ["error", "exitCode"]
    assert payload["exitCode"] == 2
    assert reason in payload["error"]
    # and the reason is on stderr, for a person, as without --json
    assert reason in captured.err


def test_the_parser_spells_the_catalogs_customization_types() -> None:
    # The parser lists the types without importing the catalog: both lists must agree
    from bedrock_finetune.catalog import CUSTOMIZATION_TYPES
    from bedrock_finetune_cli.validate import CUSTOMIZATION_TYPES as PARSER_TYPES

    assert PARSER_TYPES == CUSTOMIZATION_TYPES


def test_the_former_module_re_exports_the_cli() -> None:
    # Code that imports bedrock_finetune_local.cli keeps working
    from bedrock_finetune_local import cli

    assert cli.main is main
    assert cli.UsageError.__module__ == "bedrock_finetune_cli.common"
