"""Sweeps, one hyperparameter at a time (issue: iterate as the how-to teaches), on the IAM-enforcing local AWS: every
variant's job really runs in the local Bedrock, whose losses depend on the hyperparameters
(local/bedrock_finetune_local/aws/loss_model.py), so the winner is decided by the numbers, not by the test."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from bedrock_finetune_local import runner

ROOT = Path(__file__).resolve().parents[2]
VALID = ROOT / "events" / "datasets" / "support-chat.jsonl"
# amazon.nova-micro-v1:0:128k (the stack's default model): learningRate 1e-06..1e-04, epochCount 1..5
LEARNING_RATES = [1e-6, 1e-5, 1e-4]


def sweep(*stages: tuple[str, list[Any]], **extra: Any) -> dict[str, Any]:
    return {"sweep": {"vary": [{"parameter": name, "values": values} for name, values in stages], **extra}}


def losses(stage: dict[str, Any]) -> dict[str, float]:
    return {variant["value"]: variant["validationLoss"] for variant in stage["variants"]}


def test_a_one_stage_sweep_of_three_learning_rates_deploys_only_the_variant_with_the_lowest_validation_loss() -> None:
    # Given a run configuration that sweeps three learning rates and keeps its on-demand deployment
    config = {**sweep(("learningRate", LEARNING_RATES)), "deployment": {"mode": "on-demand", "keep": True}}

    # When it runs
    result = runner.run(runner.RunOptions(dataset=VALID, config=config))

    # Then it succeeds with three jobs, one per learning rate, every other hyperparameter at the run's value
    assert result.status == "SUCCEEDED", result.error
    assert result.jobs_created == 3
    report = result.report or {}
    (stage,) = report["sweep"]["stages"]
    assert stage["parameter"] == "learningRate"
    assert [v["value"] for v in stage["variants"]] == ["1e-06", "1e-05", "0.0001"]
    assert all(v["status"] == "Completed" for v in stage["variants"])
    others = {k: v for k, v in report["hyperParameters"].items() if k != "learningRate"}
    assert all({k: v["hyperParameters"][k] for k in others} == others for v in stage["variants"])
    # And the losses differ, and the best value is the one with the lowest final validation loss
    by_value = losses(stage)
    assert len(set(by_value.values())) == 3
    best = min(by_value, key=by_value.__getitem__)
    assert stage["best"] == best
    assert report["sweep"]["lossUsed"] == "validation"
    winner = next(v for v in stage["variants"] if v["value"] == best)
    assert report["sweep"]["winner"]["modelArn"] == winner["modelArn"] == report["model"]["arn"]
    assert report["sweep"]["winner"]["hyperParameters"]["learningRate"] == best
    # And only the winner is deployed (and smoke-tested), and it is the only custom model left
    (deployment,) = result.resources["custom_model_deployments"]
    assert deployment["arn"] == report["deployment"]["arn"]
    assert report["smokeTest"]["answered"] >= 1
    assert [model["arn"] for model in result.resources["custom_models"]] == [winner["modelArn"]]
    assert sorted(report["sweep"]["deletedModels"]) == sorted(
        v["modelArn"] for v in stage["variants"] if v["value"] != best
    )
    # And the stage's jobs ran in parallel up to the local Bedrock's job quota (2), through the training queue
    # (the third variant waited for a slot in its own child execution: the Map is Distributed)
    assert result.max_concurrent_jobs == 2
    assert "TrainSweepVariants" in result.states
    waits = [
        line for line in Path(result.log_file).read_text().splitlines() if "waiting for a training job slot" in line
    ]
    assert waits
    # And the notification carries the table of losses
    (message,) = result.notification_messages
    assert "stage 1: learningRate" in message
    assert f"* {best:>12}" in message


def test_a_two_stage_sweep_gives_every_stage_two_variant_stage_ones_best_value_and_keep_all_keeps_every_model() -> None:
    # Given a sweep of learning rate, then epochs, keeping every variant's model, and no deployment
    config = {
        **sweep(("learningRate", LEARNING_RATES[1:]), ("epochCount", [1, 3, 5]), keepAll=True),
        "deployment": {"mode": "none"},
    }

    # When it runs
    result = runner.run(runner.RunOptions(dataset=VALID, config=config))

    # Then five jobs ran: two learning rates, then three epoch counts
    assert result.status == "SUCCEEDED", result.error
    assert result.jobs_created == 5
    first, second = (result.report or {})["sweep"]["stages"]
    assert [v["value"] for v in second["variants"]] == ["1", "3", "5"]
    # And every stage-2 variant carries stage 1's best learning rate
    assert {v["hyperParameters"]["learningRate"] for v in second["variants"]} == {first["best"]}
    # And stage 2's best is its lowest validation loss, and the winner has both best values
    by_epochs = losses(second)
    assert second["best"] == min(by_epochs, key=by_epochs.__getitem__)
    winner = (result.report or {})["sweep"]["winner"]["hyperParameters"]
    assert (winner["learningRate"], winner["epochCount"]) == (first["best"], second["best"])
    # And overfitting is visible: the most epochs is not the best
    assert second["best"] != "5"
    # And with keepAll nothing was deleted: five custom models
    assert (result.report or {})["sweep"]["deletedModels"] == []
    assert len(result.resources["custom_models"]) == 5


def test_a_sweep_value_outside_the_models_range_is_refused_before_any_job_starts() -> None:
    # Given a sweep with one learning rate above Nova Micro's maximum (1e-04) and an unknown parameter
    config = sweep(("learningRate", [1e-5, 0.5]), ("dropout", [0.1]))

    # When it runs
    result = runner.run(runner.RunOptions(dataset=VALID, config=config))

    # Then it fails in ResolveConfig, naming each bad place, and no job was created
    assert result.status == "FAILED"
    assert result.jobs_created == 0
    cause = (result.error or {}).get("cause", "")
    assert "sweep.vary[0].values[1]" in cause
    assert "sweep.vary[1].parameter: dropout is not a hyperparameter" in cause
    assert "ResolveConfig" in [line.name for line in result.timeline if line.outcome == "caught"]


def test_a_variant_whose_job_fails_is_reported_and_skipped_and_the_others_decide() -> None:
    # Given a sweep of three learning rates where the middle variant's job fails in Bedrock
    config = {**sweep(("learningRate", LEARNING_RATES)), "deployment": {"mode": "none"}}

    # When it runs
    result = runner.run(runner.RunOptions(dataset=VALID, config=config, failing_jobs=["-s1v2-"]))

    # Then the sweep succeeds on the two others, the failed one reported with Bedrock's message and no model
    assert result.status == "SUCCEEDED", result.error
    (stage,) = (result.report or {})["sweep"]["stages"]
    failed = stage["variants"][1]
    assert (failed["status"], failed["modelArn"], failed["validationLoss"]) == ("Failed", None, None)
    assert failed["message"]
    rest = {v["value"]: v["validationLoss"] for v in stage["variants"] if v["status"] == "Completed"}
    assert set(rest) == {"1e-06", "0.0001"}
    assert stage["best"] == min(rest, key=rest.__getitem__)


def test_a_sweep_whose_every_variant_fails_is_cleaned_up_and_notified() -> None:
    # Given a sweep whose every variant's job fails
    config = {**sweep(("learningRate", LEARNING_RATES[:2])), "deployment": {"mode": "none"}}

    # When it runs
    result = runner.run(runner.RunOptions(dataset=VALID, config=config, job_outcome="Failed"))

    # Then it fails with SweepStageFailed naming each variant, through Cleanup, with a failure notice
    assert result.status == "FAILED"
    assert (result.error or {}).get("error") == "SweepStageFailed"
    cause = (result.error or {}).get("cause", "")
    assert "s1v1 (1e-06): Failed" in cause
    assert "s1v2 (1e-05): Failed" in cause
    assert "Cleanup" in result.states
    assert any("FAILED" in subject for subject in result.notifications)
    assert result.resources["jobs_in_progress"] == []
    # And the dataset is safe: moved to failed/, never deleted
    assert result.dataset_uri is not None
    assert "/failed/" in result.dataset_uri
