"""Hyperparameters: defaults filled, names, types, ranges and model rules checked, canonical strings out."""

from __future__ import annotations

import pytest

from bedrock_finetune.catalog import HyperparameterSpec, all_models, get_model
from bedrock_finetune.errors import HyperparameterError
from bedrock_finetune.hyperparameters import resolve_hyperparameters

CLAUDE = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")
COHERE = get_model("cohere.command-text-v14:7:4k")
TITAN_IMAGE = get_model("amazon.titan-image-generator-v1:0")
EMBEDDINGS = get_model("amazon.titan-embed-image-v1:0")
PARAMETERS = [
    pytest.param(spec.id, customization_type, param, id=f"{spec.id}-{customization_type}-{param.name}")
    for spec in all_models()
    for customization_type, customization in spec.customizations.items()
    for param in customization.hyperparameters
]


def test_defaults_are_filled_as_strings() -> None:
    # Given no overrides for Claude / When resolved / Then every default comes back, as a canonical string
    assert resolve_hyperparameters(CLAUDE, "FINE_TUNING", None) == {
        "epochCount": "2",
        "batchSize": "32",
        "learningRateMultiplier": "1.0",
        "earlyStoppingThreshold": "0.001",
        "earlyStoppingPatience": "2",
    }


@pytest.mark.parametrize(
    ("given", "expected"),
    [(3, "3"), ("3", "3"), (" 3 ", "3"), (3.0, "3"), ("+3", "3")],
)
def test_int_values_are_canonical(given: str | int | float, expected: str) -> None:
    # Given an integer epochCount written several ways / When resolved / Then it is always the same string
    assert resolve_hyperparameters(CLAUDE, "FINE_TUNING", {"epochCount": given})["epochCount"] == expected


@pytest.mark.parametrize(
    ("given", "expected"),
    [("1e-5", "1e-05"), (0.00001, "1e-05"), ("0.0001", "0.0001"), (" 2E-5 ", "2e-05"), (0.1, "0.1")],
)
def test_float_values_are_canonical(given: str | float, expected: str) -> None:
    # Given a learning rate as a string or a number / When resolved / Then it is Python's shortest round-trip repr
    model = get_model("meta.llama3-1-8b-instruct-v1:0:128k")
    assert resolve_hyperparameters(model, "FINE_TUNING", {"learningRate": given})["learningRate"] == expected


@pytest.mark.parametrize("bad", [2.5, "2.5", "abc", "", True, "1e1"])
def test_int_parameters_reject_non_integers(bad: str | float | bool) -> None:
    # Given a non-integer epochCount / When resolved / Then HyperparameterError names the parameter and the range
    with pytest.raises(HyperparameterError) as raised:
        resolve_hyperparameters(CLAUDE, "FINE_TUNING", {"epochCount": bad})
    (problem,) = raised.value.problems
    assert "epochCount" in problem
    assert "an integer from 1 to 10" in problem
    assert CLAUDE.id in problem


@pytest.mark.parametrize("bad", ["abc", "nan", "inf", False])
def test_float_parameters_reject_non_numbers(bad: str | bool) -> None:
    # Given a learning rate that is not a finite number / When resolved / Then it is refused
    with pytest.raises(HyperparameterError, match="learningRateMultiplier"):
        resolve_hyperparameters(CLAUDE, "FINE_TUNING", {"learningRateMultiplier": bad})


@pytest.mark.parametrize(("model_id", "customization_type", "param"), PARAMETERS)
def test_bounds_per_model(model_id: str, customization_type: str, param: HyperparameterSpec) -> None:
    # Given one hyperparameter of one model
    spec = get_model(model_id)
    required = {p.name: _valid_value(p) for p in spec.hyperparameters(customization_type) if p.required}

    # When its min and max are given / Then both are accepted
    for bound in (param.min, param.max):
        resolved = resolve_hyperparameters(spec, customization_type, {**required, param.name: bound})
        assert float(resolved[param.name]) == bound

    # When just outside the range / Then refused, naming the parameter, the range and the model
    step = 1 if param.type == "int" else max(abs(param.max) * 0.01, 1e-12)
    for outside in (param.min - step, param.max + step):
        with pytest.raises(HyperparameterError) as raised:
            resolve_hyperparameters(spec, customization_type, {**required, param.name: outside})
        (problem,) = raised.value.problems
        assert f"{param.name}=" in problem
        assert "out of range" in problem
        assert model_id in problem


def test_unknown_names_list_the_valid_ones() -> None:
    # Given a misspelt parameter / When resolved / Then the error lists the model's valid names
    with pytest.raises(HyperparameterError) as raised:
        resolve_hyperparameters(CLAUDE, "FINE_TUNING", {"epochs": 3})
    (problem,) = raised.value.problems
    assert "unknown hyperparameter 'epochs'" in problem
    assert "epochCount, batchSize, learningRateMultiplier" in problem


def test_every_problem_is_reported_at_once() -> None:
    # Given three bad parameters / When resolved / Then one error carries all three
    with pytest.raises(HyperparameterError) as raised:
        resolve_hyperparameters(CLAUDE, "FINE_TUNING", {"epochs": 1, "epochCount": 0, "batchSize": "x"})
    assert len(raised.value.problems) == 3


def test_required_parameter_without_value_is_an_error() -> None:
    # Given Titan Image Generator, whose stepCount is required / When nothing is given / Then an error says so
    with pytest.raises(HyperparameterError, match=r"stepCount is required .* or 'auto'"):
        resolve_hyperparameters(TITAN_IMAGE, "FINE_TUNING", {})


@pytest.mark.parametrize(
    ("model_id", "name", "given", "expected"),
    [(TITAN_IMAGE.id, "stepCount", "AUTO", "auto"), (EMBEDDINGS.id, "epochCount", "auto", "Auto")],
)
def test_special_strings_are_accepted_in_catalog_spelling(model_id: str, name: str, given: str, expected: str) -> None:
    # Given 'auto' in any case for a parameter that accepts it / When resolved / Then the catalog's spelling is sent
    assert resolve_hyperparameters(get_model(model_id), "FINE_TUNING", {name: given})[name] == expected


def test_cohere_learning_rate_is_refused_with_validation_data() -> None:
    # Given Cohere with a validation dataset
    # When learningRate is set / Then refused (AWS advises against it)
    with pytest.raises(HyperparameterError, match=r"learningRate must not be set .* validation dataset"):
        resolve_hyperparameters(COHERE, "FINE_TUNING", {"learningRate": "1e-5"}, has_validation=True)

    # When nothing is set / Then neither learningRate nor evalPercentage is sent
    resolved = resolve_hyperparameters(COHERE, "FINE_TUNING", None, has_validation=True)
    assert "learningRate" not in resolved
    assert "evalPercentage" not in resolved


def test_cohere_eval_percentage_applies_only_without_validation_data() -> None:
    # Given Cohere without validation data / When resolved / Then evalPercentage and learningRate get their defaults
    assert resolve_hyperparameters(COHERE, "FINE_TUNING", None)["evalPercentage"] == "20.0"
    # Given validation data / When evalPercentage is set / Then it is refused
    with pytest.raises(HyperparameterError, match="evalPercentage"):
        resolve_hyperparameters(COHERE, "FINE_TUNING", {"evalPercentage": 10}, has_validation=True)


def test_cohere_light_allows_a_larger_batch_than_command() -> None:
    # Given batchSize 32 / When resolved for Command Light and Command / Then only Light accepts it
    light = get_model("cohere.command-light-text-v14:7:4k")
    assert resolve_hyperparameters(light, "FINE_TUNING", {"batchSize": 32})["batchSize"] == "32"
    with pytest.raises(HyperparameterError, match="from 8 to 8"):
        resolve_hyperparameters(COHERE, "FINE_TUNING", {"batchSize": 32})


def _valid_value(param: HyperparameterSpec) -> str | float:
    return param.accepted_strings[0] if param.accepted_strings else param.min
