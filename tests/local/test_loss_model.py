"""The local Bedrock's loss model: curves that depend on the dataset and every hyperparameter, with optima inside the
catalog ranges (a hyperparameter sweep has a real winner), and the local Bedrock writing them at Completed."""

from __future__ import annotations

import hashlib
import itertools
import math
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune.catalog import HyperparameterSpec, ModelSpec, all_models
from bedrock_finetune_local import aws
from bedrock_finetune_local.aws import loss_model
from bedrock_finetune_local.clock import CLOCK

from .conftest import BUCKET, OUTPUT_URI, job_request

ROOT = Path(__file__).resolve().parents[2]
SAMPLE_SHA = hashlib.sha256((ROOT / "events" / "datasets" / "support-chat.jsonl").read_bytes()).hexdigest()
OTHER_SHAS = [hashlib.sha256(f"another dataset {n}".encode()).hexdigest() for n in range(40)]
NOVA = "amazon.nova-micro-v1:0:128k"
LEARNING_RATES = ("learningRate", "learningRateMultiplier")
#: The local Bedrock trains at most this many epochs (it clamps epochCount as Bedrock's quotas do by default).
MAX_LOCAL_EPOCHS = 20


def curves(
    hyper_parameters: Mapping[str, str] | None = None,
    *,
    model: str = NOVA,
    epochs: int = 2,
    sha: str = SAMPLE_SHA,
    customization_type: str = "FINE_TUNING",
    steps_per_epoch: int = 4,
) -> loss_model.LossCurves:
    return loss_model.loss_curves(
        dataset_sha256=sha,
        base_model_id=model,
        hyper_parameters=dict(hyper_parameters or {}),
        epochs=epochs,
        steps_per_epoch=steps_per_epoch,
        customization_type=customization_type,
    )


def final_validation(hyper_parameters: Mapping[str, str] | None = None, **kwargs: Any) -> float:
    return curves(hyper_parameters, **kwargs).validation[-1]


def text(param: HyperparameterSpec, value: float) -> str:
    """A value as the workflow sends it (hyperparameters.py: ints in decimal, floats as repr)."""
    return str(int(value)) if param.type == "int" else repr(float(value))


def catalog_params(names: tuple[str, ...], *, tunable_only: bool = False) -> list[Any]:
    """(model, customization type, hyperparameter) for every catalog hyperparameter called one of ``names``
    (``tunable_only``: with more than one allowed value)."""
    return [
        pytest.param(spec, customization_type, param, id=f"{spec.id}-{customization_type}-{param.name}")
        for spec in all_models()
        for customization_type, customization in spec.customizations.items()
        for param in customization.hyperparameters
        if param.name in names and (param.min < param.max or not tunable_only)
    ]


def falling(values: Sequence[float]) -> bool:
    return all(later < earlier for earlier, later in itertools.pairwise(values))


def rising(values: Sequence[float]) -> bool:
    return all(later > earlier for earlier, later in itertools.pairwise(values))


def epochs_in_range(param: HyperparameterSpec) -> list[int]:
    return list(range(int(param.min), min(int(param.max), MAX_LOCAL_EPOCHS) + 1))


# --- determinism and the dataset ------------------------------------------------------------------------------------
def test_curves_are_a_deterministic_function_of_their_inputs() -> None:
    # Given one dataset, model and set of hyperparameters
    hyper_parameters = {"epochCount": "3", "learningRate": "2e-05", "learningRateWarmupSteps": "5"}

    # When the curves are computed twice
    first, second = curves(hyper_parameters, epochs=3), curves(hyper_parameters, epochs=3)

    # Then they are identical, with one training loss per step and one validation loss per epoch
    assert first == second
    assert len(first.training) == 3 * 4
    assert len(first.validation) == 3


def test_curves_depend_on_the_dataset() -> None:
    # Given the sample dataset and others
    # When the same job is computed for each
    finals = {sha: final_validation(sha=sha) for sha in [SAMPLE_SHA, *OTHER_SHAS]}

    # Then every dataset has its own final validation loss
    assert len(set(finals.values())) == len(finals)


# --- every hyperparameter matters -----------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("spec", "customization_type", "param"), catalog_params(tuple(loss_model.BOWLS), tunable_only=True)
)
def test_each_tunable_hyperparameter_changes_the_final_validation_loss(
    spec: ModelSpec, customization_type: str, param: HyperparameterSpec
) -> None:
    # Given the hyperparameter at each end of the model's range, everything else at its default
    # When the final validation losses are computed
    low, high = (
        final_validation({param.name: text(param, value)}, model=spec.id, customization_type=customization_type)
        for value in (param.min, param.max)
    )

    # Then they differ by more than the CSV's rounding
    assert abs(low - high) > 1e-4


def test_epoch_count_changes_the_final_validation_loss() -> None:
    # Given the same job trained for 1 to 5 epochs
    # When the final validation losses are computed
    finals = [final_validation(epochs=epochs) for epochs in range(1, 6)]

    # Then each epoch count gives its own loss
    assert len({round(loss, 6) for loss in finals}) == 5


# --- optima inside the ranges ---------------------------------------------------------------------------------------
@pytest.mark.parametrize(("spec", "customization_type", "param"), catalog_params(LEARNING_RATES))
@pytest.mark.parametrize("sha", [SAMPLE_SHA, *OTHER_SHAS[:3]], ids=["sample", "other-0", "other-1", "other-2"])
def test_the_learning_rate_optimum_lies_strictly_inside_the_range(
    spec: ModelSpec, customization_type: str, param: HyperparameterSpec, sha: str
) -> None:
    # Given a fine grid of learning rates over the model's whole range, both ends included (a range may start at 0)
    start = param.min if param.min > 0 else (param.default or param.max) / 1000
    grid = sorted({param.min, param.max, *(start * (param.max / start) ** (i / 200) for i in range(201))})

    # When the final validation loss is computed for each
    losses = [
        final_validation({param.name: repr(rate)}, model=spec.id, customization_type=customization_type, sha=sha)
        for rate in grid
    ]

    # Then the best rate is at neither end, and both ends are clearly worse than it
    best = min(range(len(grid)), key=losses.__getitem__)
    assert 0 < best < len(grid) - 1
    assert min(losses[0], losses[-1]) > losses[best] + 0.1
    # And the documented optimum is inside the range, no worse than the best of the grid
    optimum = loss_model.bowl_optimum(param.name, loss_model.ParamRange(param.min, param.max, param.default), sha)
    assert param.min < optimum < param.max
    at_optimum = final_validation(
        {param.name: repr(optimum)}, model=spec.id, customization_type=customization_type, sha=sha
    )
    assert at_optimum <= losses[best] + 1e-9


@pytest.mark.parametrize(
    ("spec", "customization_type", "param"),
    catalog_params(("batchSize", "learningRateWarmupSteps"), tunable_only=True),
)
def test_batch_size_and_warm_up_have_a_mild_optimum_inside_the_range(
    spec: ModelSpec, customization_type: str, param: HyperparameterSpec
) -> None:
    # Given every allowed integer value (or a log grid of them for wide ranges)
    low, high = int(param.min), int(param.max)
    values = sorted({low, high, *(round(max(low, 1) * (high / max(low, 1)) ** (i / 100)) for i in range(101))})

    # When the final validation loss is computed for each
    losses = [
        final_validation({param.name: str(value)}, model=spec.id, customization_type=customization_type)
        for value in values
    ]

    # Then the best value is at neither end, and the effect is mild (well under the learning rate's)
    best = min(range(len(values)), key=losses.__getitem__)
    assert 0 < best < len(values) - 1
    assert losses[best] < min(losses[0], losses[-1])
    assert max(losses) - losses[best] < 0.1


# --- epochs: training falls, validation is U-shaped -----------------------------------------------------------------
@pytest.mark.parametrize(("spec", "customization_type", "param"), catalog_params(("epochCount",)))
@pytest.mark.parametrize("sha", [SAMPLE_SHA, *OTHER_SHAS[:3]], ids=["sample", "other-0", "other-1", "other-2"])
def test_validation_loss_is_u_shaped_in_epoch_count_while_training_loss_falls(
    spec: ModelSpec, customization_type: str, param: HyperparameterSpec, sha: str
) -> None:
    # Given the model's epochCount range (up to the local Bedrock's cap)
    counts = epochs_in_range(param)

    # When a job is computed for each epoch count
    runs = [curves(model=spec.id, customization_type=customization_type, epochs=n, sha=sha) for n in counts]
    training = [run.training[-1] for run in runs]
    validation = [run.validation[-1] for run in runs]

    # Then the final training loss keeps falling with more epochs
    assert falling(training)
    # And the final validation loss falls to a minimum at neither end of the range, then rises
    best = min(range(len(counts)), key=validation.__getitem__)
    assert 0 < best < len(counts) - 1
    assert falling(validation[: best + 1])
    assert rising(validation[best:])


def test_within_one_job_training_falls_every_step_and_validation_turns_after_the_best_epoch() -> None:
    # Given a Nova job trained for the maximum of 5 epochs on the sample dataset
    run = curves(epochs=5)

    # Then every step lowers the training loss, and every validation loss is above the training loss at that point
    assert falling(run.training)
    assert all(run.validation[epoch] > run.training[(epoch + 1) * 4 - 1] for epoch in range(5))
    # And the validation loss is lowest at the epoch next to the best epoch count m, not at the last epoch
    m = loss_model.best_epochs(SAMPLE_SHA)
    best = min(range(5), key=run.validation.__getitem__) + 1
    assert best in (math.floor(m), math.ceil(m))
    assert best < 5


# --- the sweeps the product runs ------------------------------------------------------------------------------------
def test_a_three_learning_rate_sweep_is_won_by_the_geometric_middle_of_the_range() -> None:
    # Given Nova Micro's learning-rate range (1e-06 to 0.0001) and the sample dataset
    rates = ["1e-06", "1e-05", "0.0001"]

    # When one job per rate is computed, everything else at the catalog defaults
    finals = {rate: final_validation({"epochCount": "2", "learningRate": rate}) for rate in rates}

    # Then the geometric middle wins, and by a clear margin
    assert min(finals, key=finals.__getitem__) == "1e-05"
    assert min(finals["1e-06"], finals["0.0001"]) > finals["1e-05"] + 0.1


@pytest.mark.parametrize(("spec", "customization_type", "param"), catalog_params(LEARNING_RATES))
def test_the_geometric_middle_beats_both_range_ends_for_every_dataset(
    spec: ModelSpec, customization_type: str, param: HyperparameterSpec
) -> None:
    # Given a three-value sweep (min, geometric middle, max) for many datasets; a range from 0 (Titan Text) has no
    # geometric middle, so its sweep starts where the bowl's log scale does (a hundredth of the default)
    low = param.min if param.min > 0 else (param.default or param.max) / 100
    middle = math.sqrt(low * param.max)
    for sha in [SAMPLE_SHA, *OTHER_SHAS]:
        # When each value is computed
        finals = [
            final_validation({param.name: repr(rate)}, model=spec.id, customization_type=customization_type, sha=sha)
            for rate in (low, middle, param.max)
        ]

        # Then the middle one wins (what the docstring promises)
        assert finals[1] < min(finals[0], finals[2]), sha


def test_an_epoch_count_sweep_on_the_sample_dataset_is_won_by_three_epochs() -> None:
    # Given Nova Micro's epochCount range (1 to 5) and the sample dataset (its best epoch count m is about 2.63)
    # When one job per epoch count is computed
    finals = {epochs: final_validation({"epochCount": str(epochs)}, epochs=epochs) for epochs in range(1, 6)}

    # Then 3 epochs wins: more epochs overfit, fewer underfit
    assert min(finals, key=finals.__getitem__) == 3
    assert 2.5 <= loss_model.best_epochs(SAMPLE_SHA) < 3.5


# --- plausibility and robustness ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    "spec", [pytest.param(spec, id=spec.id) for spec in all_models() if any(spec.customizations.values())]
)
def test_losses_stay_positive_and_plausible_at_the_range_ends(spec: ModelSpec) -> None:
    for customization_type, customization in spec.customizations.items():
        ends = [
            {param.name: text(param, value) for param, value in zip(customization.hyperparameters, choice, strict=True)}
            for choice in (
                [param.min for param in customization.hyperparameters],
                [param.max for param in customization.hyperparameters],
            )
        ]
        for hyper_parameters in ends:
            for sha in [SAMPLE_SHA, *OTHER_SHAS[:10]]:
                for epochs in (1, MAX_LOCAL_EPOCHS):
                    # Given extreme hyperparameters, few or many epochs and fine-grained steps
                    run = curves(
                        hyper_parameters,
                        model=spec.id,
                        customization_type=customization_type,
                        epochs=epochs,
                        sha=sha,
                        steps_per_epoch=50,
                    )
                    # Then every loss is in a plausible range
                    assert all(0.1 <= loss <= 3.5 for loss in run.training + run.validation)


@pytest.mark.parametrize(
    ("model", "hyper_parameters"),
    [
        ("unknown.model-v9:0", {"learningRate": "1e-05", "batchSize": "8", "learningRateMultiplier": "1"}),
        ("unknown.model-v9:0", {}),
        ("arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k", {"learningRate": "1e-05"}),
        ("amazon.titan-embed-image-v1:0", {"epochCount": "Auto", "batchSize": "576"}),
        ("amazon.titan-image-generator-v1:0", {"stepCount": "auto", "learningRate": "0.00001"}),
        ("cohere.command-text-v14:7:4k", {"earlyStoppingThreshold": "0.01", "evalPercentage": "20"}),
        (NOVA, {"learningRate": "not-a-number", "learningRateWarmupSteps": "", "somethingNew": "1"}),
        (NOVA, {"learningRate": "nan", "learningRateWarmupSteps": "1e9"}),
    ],
)
def test_unknown_models_and_odd_values_give_plausible_curves(model: str, hyper_parameters: dict[str, str]) -> None:
    # When the curves are computed for an unknown model, special strings or unreadable values
    run = curves(hyper_parameters, model=model, epochs=3)

    # Then they exist and are plausible
    assert len(run.training) == 12
    assert all(0.1 <= loss <= 3.5 for loss in run.training + run.validation)


def test_a_missing_hyperparameter_takes_the_catalog_default() -> None:
    # Given Nova's catalog defaults (learningRate 1e-05, learningRateWarmupSteps 10)
    # When one job leaves them out and another sets them to the defaults
    # Then both have the same curves, and a non-default value gives others
    assert curves({}) == curves({"learningRate": "1e-05", "learningRateWarmupSteps": "10"})
    assert curves({}) != curves({"learningRateWarmupSteps": "50"})


def test_ignored_hyperparameters_are_ignored_and_the_one_value_batch_size_costs_nothing() -> None:
    # Given Llama (batchSize fixed at 1) and Cohere (early stopping)
    llama = "meta.llama3-2-1b-instruct-v1:0:128k"
    cohere = "cohere.command-text-v14:7:4k"

    # Then neither the fixed batch size nor the early-stopping parameters change the curves
    assert curves({"batchSize": "1"}, model=llama) == curves({}, model=llama)
    assert curves({"earlyStoppingPatience": "10"}, model=cohere) == curves({}, model=cohere)


# --- the local Bedrock writes these curves ----------------------------------------------------------------------------
def test_the_local_bedrock_seeds_the_curves_with_the_data_not_the_job_name(bedrock: Any, s3: Any) -> None:
    # Given two datasets
    s3.create_bucket(Bucket=BUCKET)
    data = {"a": b'{"prompt": "a", "completion": "b"}\n', "b": b'{"prompt": "x", "completion": "y"}\n'}
    for name, body in data.items():
        s3.put_object(Bucket=BUCKET, Key=f"datasets/{name}.jsonl", Body=body)
    aws.configure(job_duration_seconds=3600, steps_per_epoch=3)

    def run(job: str, dataset: str, learning_rate: str) -> dict[str, Any]:
        request = job_request(
            jobName=job,
            customModelName=f"model-{job}",
            trainingDataConfig={"s3Uri": f"s3://{BUCKET}/datasets/{dataset}.jsonl"},
            validationDataConfig={"validators": [{"s3Uri": f"s3://{BUCKET}/datasets/b.jsonl"}]},
            outputDataConfig={"s3Uri": OUTPUT_URI},
            hyperParameters={"epochCount": "3", "learningRate": learning_rate},
        )
        arn = bedrock.create_model_customization_job(**request)["jobArn"]
        CLOCK.advance(3600)  # the job's hour passes: it completes
        return dict(bedrock.get_model_customization_job(jobIdentifier=arn))

    # When jobs with different names run on the same data and hyperparameters, on other data, and at another rate
    first, renamed = run("sweep-a", "a", "1e-05"), run("sweep-b", "a", "1e-05")
    other_data, other_rate = run("sweep-c", "b", "1e-05"), run("sweep-d", "a", "0.0001")

    # Then the name does not matter, the data and the learning rate do
    assert first["status"] == renamed["status"] == "Completed"
    assert first["validationMetrics"] == renamed["validationMetrics"]
    assert first["trainingMetrics"] == renamed["trainingMetrics"]
    assert other_data["validationMetrics"] != first["validationMetrics"]
    assert other_rate["validationMetrics"][0]["validationLoss"] > first["validationMetrics"][0]["validationLoss"]
    # And the job's losses are the loss model's, seeded with the sha256 of the training bytes (rounded as in the CSV)
    expected = curves(
        {"epochCount": "3", "learningRate": "1e-05"},
        epochs=3,
        sha=hashlib.sha256(data["a"]).hexdigest(),
        steps_per_epoch=3,
    )
    assert first["trainingMetrics"]["trainingLoss"] == pytest.approx(round(expected.training[-1], 6))
    assert first["validationMetrics"][0]["validationLoss"] == pytest.approx(round(expected.validation[-1], 6))
