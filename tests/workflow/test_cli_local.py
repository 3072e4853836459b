"""``bedrock-finetune local run`` and ``demo`` as a user calls them."""

from __future__ import annotations

import json
import urllib.parse
from pathlib import Path

import pytest

from bedrock_finetune_cli.main import main

ROOT = Path(__file__).resolve().parents[2]
VALID = str(ROOT / "events" / "datasets" / "support-chat.jsonl")
BROKEN = str(ROOT / "events" / "datasets" / "support-chat-broken.jsonl")
JSON_KEYS = {
    "status",
    "states",
    "error",
    "resources",
    "dataset",
    "report",
    "notifications",
    "faults_fired",
    "access_denied",
    "executions_started",
    "max_concurrent_jobs",
    "reconciler",
    "price_refresh",
    "artifacts_dir",
    # measured on the virtual clock
    "transitions",
    "detection_lag_seconds",
    "simulated_seconds",
    "jobs",
}
RESOURCE_KEYS = {"provisioned_throughputs", "custom_model_deployments", "jobs_in_progress", "custom_models"}


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, object]]:
    code = main(["local", "run", *args, "--json"])
    out = capsys.readouterr().out
    return code, json.loads(out)  # exactly one JSON object: json.loads fails on anything else


def test_json_output_of_a_successful_console_run(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a console run with a config file
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"deployment": {"mode": "none"}}))

    # When run with --json
    code, result = run_json(capsys, "--dataset", VALID, "--via", "console", "--config", str(config))

    # Then exit 0 and exactly the documented object; mode none skips deploy and smoke test
    assert code == 0
    assert set(result) == JSON_KEYS
    assert result["status"] == "SUCCEEDED"
    assert result["error"] is None
    assert set(result["resources"]) == RESOURCE_KEYS  # type: ignore[arg-type]
    states = result["states"]
    assert isinstance(states, list)
    assert "DeployModel" not in states
    assert states[-3:] == ["Finalize", "NotifySuccess", "Succeeded"]
    assert result["dataset"] == {"s3_uri": result["report"]["dataset"]["finalUri"]}  # type: ignore[index]
    # And the local account's numbers: one execution, one job at a time, a reconciler sweep that found nothing
    assert (result["executions_started"], result["max_concurrent_jobs"]) == (1, 1)
    assert result["reconciler"]["acted"] == []  # type: ignore[index]


def test_json_output_of_a_failed_run_exits_1(capsys: pytest.CaptureFixture[str]) -> None:
    # Given the invalid sample
    code, result = run_json(capsys, "--dataset", BROKEN)

    # Then exit 1, FAILED with the original error, nothing left running, one failure notification
    assert code == 1
    assert result["status"] == "FAILED"
    assert result["error"]["error"] == "DatasetInvalid"  # type: ignore[index]
    resources = result["resources"]
    assert isinstance(resources, dict)
    assert all(resources[name] == [] for name in RESOURCE_KEYS)
    assert len(result["notifications"]) == 1  # type: ignore[arg-type]


def test_a_key_outside_the_inbox_reports_no_execution(capsys: pytest.CaptureFixture[str]) -> None:
    code, result = run_json(capsys, "--dataset", VALID, "--key", "notinbox/support-chat.jsonl")
    assert code == 1
    assert result["status"] == "NO_EXECUTION"
    assert result["states"] == []


@pytest.mark.parametrize(
    "args",
    [
        ["--dataset", "missing.jsonl"],
        ["--dataset", VALID, "--fault", "bedrock:NoSuchOperation=ThrottlingException"],
        ["--dataset", VALID, "--fault", "bedrock:CreateProvisionedModelThroughput"],
        ["--dataset", VALID, "--job-outcome", "Exploded"],
    ],
)
def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str], args: list[str]) -> None:
    assert main(["local", "run", *args]) == 2
    assert "error" in capsys.readouterr().err


@pytest.mark.parametrize(
    "args",
    [
        ["--dataset", "missing.jsonl"],
        ["--dataset", VALID, "--job-outcome", "Exploded"],
        ["--dataset", VALID, "--fault", "bedrock:CreateProvisionedModelThroughput"],
    ],
)
def test_usage_errors_with_json_print_exactly_one_json_object(
    capsys: pytest.CaptureFixture[str], args: list[str]
) -> None:
    # Given a bad local run with --json / When run / Then exit 2, and stdout is one {"error", "exitCode"} object
    assert main(["local", "run", *args, "--json"]) == 2
    captured = capsys.readouterr()
    payload = json.loads(captured.out)
    assert list(payload) == ["error", "exitCode"]
    assert payload["exitCode"] == 2
    assert payload["error"] in captured.err


def test_config_that_is_not_utf8_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    # Given a --config file in Latin-1 / When run / Then exit 2 with one line naming the file
    config = tmp_path / "config.json"
    config.write_bytes(b'{"modelName": "caf\xe9"}')
    assert main(["local", "run", "--dataset", VALID, "--config", str(config)]) == 2
    err = capsys.readouterr().err
    assert f"--config {config}: not UTF-8 text" in err
    assert "Traceback" not in err


def test_config_with_dataset_uri_is_a_usage_error(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"datasetUri": "s3://x/y.jsonl"}))
    assert main(["local", "run", "--dataset", VALID, "--config", str(config)]) == 2
    assert "datasetUri" in capsys.readouterr().err


def test_timeline_for_a_person(capsys: pytest.CaptureFixture[str]) -> None:
    # Given a run with a failed job
    code = main(["local", "run", "--dataset", VALID, "--job-outcome", "Failed"])

    # Then each state has a line with its outcome and duration, and the summary says nothing is left
    out = capsys.readouterr().out
    assert code == 1
    assert "ok     ValidateDataset" in out
    assert "Cleanup" in out
    assert "Result: FAILED" in out
    assert "Still running:  nothing" in out


def test_demo_shows_success_and_the_cleanup_path(capsys: pytest.CaptureFixture[str]) -> None:
    # When the demo runs
    code = main(["demo"])

    # Then every scenario ended as expected, with a success and failures cleaned up
    out = capsys.readouterr().out
    assert code == 0
    assert "Result: SUCCEEDED" in out
    assert "Result: FAILED" in out
    assert "every scenario ended as expected" in out
    # And the several-drop scenario shows duplicate deliveries starting one execution per drop, and a queued run
    assert "Duplicates:     2 deliveries of each of 2 drops started 2 execution(s)" in out
    assert "Queued:         0 wait(s)" not in out
    # And the iteration scenario shows the sweep's table of losses, the best of each stage marked, and the retrain
    # moving the kept deployment to the new model
    assert "stage 1: learningRate" in out
    assert "stage 2: epochCount" in out
    assert out.count("  * ") >= 2
    assert "deployment Swapped: now serves" in out
    # And it ends pointing at the successful run's HTML report, a local copy with its charts
    last = out.rstrip("\n").splitlines()[-1]
    assert last.startswith("Open the report of the successful run: file:///"), last
    page = Path(urllib.parse.unquote(urllib.parse.urlparse(last.split(": ", 1)[1]).path))
    assert page.name == "report.html"
    assert "<svg" in page.read_text()


def test_then_chains_a_retrain_and_a_retire_and_json_has_one_object_per_execution(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    # Given a run keeping its on-demand deployment, then a retrain that swaps it, then a retire of the first model
    config = tmp_path / "config.json"
    config.write_text(json.dumps({"deployment": {"mode": "on-demand", "keep": True}}))
    retrain = tmp_path / "retrain.json"
    retrain.write_text(
        json.dumps(
            {
                "stateMachine": "FineTuneStateMachine",
                "input": {"retrainFrom": "{{run.0.runId}}", "excludeRecords": {"lines": [1]}, "swapDeployment": True},
            }
        )
    )
    retire = tmp_path / "retire.json"
    retire.write_text(json.dumps({"stateMachine": "RetireStateMachine", "input": {"retire": "{{run.0.modelArn}}"}}))

    # When they run
    code, payload = run_json(
        capsys, "--dataset", VALID, "--config", str(config), "--then", str(retrain), "--then", str(retire)
    )

    # Then one object: status, one of today's objects per execution in order, and what is left
    assert code == 0, payload
    assert set(payload) == {"status", "runs", "resources"}
    runs = payload["runs"]
    assert isinstance(runs, list)
    assert len(runs) == 3
    assert all(set(run) == JSON_KEYS for run in runs)
    assert [run["status"] for run in runs] == ["SUCCEEDED"] * 3
    first, retrained, retired = (run["report"] for run in runs)
    assert retrained["retrain"]["fromRun"] == first["runId"]
    assert retired["models"][0]["arn"] == first["model"]["arn"]
    # And the resources name the model each deployment serves: the kept one now serves the retrained model
    resources = payload["resources"]
    assert isinstance(resources, dict)
    (deployment,) = resources["custom_model_deployments"]
    assert set(deployment) == {"arn", "status", "modelArn"}
    assert (deployment["arn"], deployment["modelArn"]) == (first["deployment"]["arn"], retrained["model"]["arn"])


def test_then_refuses_an_unknown_state_machine_and_a_placeholder_nothing_fills(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    step = tmp_path / "step.json"
    step.write_text(json.dumps({"stateMachine": "NoSuchMachine", "input": {}}))
    assert main(["local", "run", "--dataset", VALID, "--then", str(step)]) == 2
    assert "NoSuchMachine is not a state machine of the stack" in capsys.readouterr().err
    step.write_text(json.dumps({"stateMachine": "RetireStateMachine", "input": {"retire": "{{run.5.runId}}"}}))
    assert main(["local", "run", "--dataset", VALID, "--then", str(step)]) == 2
    assert "refers to execution 5" in capsys.readouterr().err
