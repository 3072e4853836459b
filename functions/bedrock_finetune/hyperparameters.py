"""Resolve user hyperparameters against a base model's catalog entry into the string map Bedrock requires.

Canonical values: an int parameter is written in decimal (``"2"``); a float parameter as Python's shortest
round-trip ``repr`` (``"1e-05"``, ``"0.0001"``, ``"1.0"``), so the same input always gives the same string.
Special strings the catalog accepts (``auto``) are matched case-insensitively and written as the catalog spells them.

Model rules: a parameter marked ``forbidden_with_validation`` (Cohere ``learningRate`` and ``evalPercentage``) is
an error when the user sets it and a validation dataset is given, and its default is then left out. We chose an
error over a warning because AWS advises against the combination and a job that fails later costs money.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from bedrock_finetune.catalog import HyperparameterSpec, ModelSpec
from bedrock_finetune.errors import HyperparameterError

HyperparameterValue = str | int | float
_INTEGER = re.compile(r"^[+-]?\d+$")


@dataclass(frozen=True)
class HyperparameterProblem:
    """One problem with one parameter (``name``), described for a person."""

    name: str
    message: str


def resolve_hyperparameters(
    spec: ModelSpec,
    customization_type: str,
    overrides: Mapping[str, HyperparameterValue] | None,
    *,
    has_validation: bool = False,
) -> dict[str, str]:
    """The full string map to send (defaults filled in); HyperparameterError listing every problem otherwise."""
    resolved, problems = check_hyperparameters(spec, customization_type, overrides, has_validation=has_validation)
    if problems:
        raise HyperparameterError([problem.message for problem in problems])
    return resolved


def check_hyperparameters(
    spec: ModelSpec,
    customization_type: str,
    overrides: Mapping[str, HyperparameterValue] | None,
    *,
    has_validation: bool = False,
) -> tuple[dict[str, str], list[HyperparameterProblem]]:
    """Like :func:`resolve_hyperparameters` but returns the problems instead of raising (for the validator)."""
    params = spec.hyperparameters(customization_type)
    given = dict(overrides or {})
    context = f"{spec.id} ({customization_type})"
    known = {param.name for param in params}
    problems = [
        HyperparameterProblem(name, f"unknown hyperparameter {name!r} for {context}; valid names: {_names(params)}")
        for name in given
        if name not in known
    ]
    resolved: dict[str, str] = {}
    for param in params:
        if param.name in given:
            value, problem = _resolve_given(param, given[param.name], context, has_validation=has_validation)
        else:
            value, problem = _resolve_default(param, context, has_validation=has_validation)
        if problem:
            problems.append(HyperparameterProblem(param.name, problem))
        elif value is not None:
            resolved[param.name] = value
    return resolved, problems


def _resolve_given(
    param: HyperparameterSpec, raw: HyperparameterValue, context: str, *, has_validation: bool
) -> tuple[str | None, str | None]:
    if param.forbidden_with_validation and has_validation:
        return None, f"{param.name} must not be set for {context} when a validation dataset is given"
    special = _special_string(param, raw)
    if special is not None:
        return special, None
    number = _parse(param, raw)
    if number is None:
        return None, f"{param.name}={raw!r} is not {_kind(param)} for {context}; allowed: {_allowed(param)}"
    if not param.min <= number <= param.max:
        return None, f"{param.name}={raw!r} is out of range for {context}; allowed: {_allowed(param)}"
    return _format(param, number), None


def _resolve_default(param: HyperparameterSpec, context: str, *, has_validation: bool) -> tuple[str | None, str | None]:
    if param.forbidden_with_validation and has_validation:
        return None, None
    if param.required:
        return None, f"{param.name} is required for {context}; allowed: {_allowed(param)}"
    if param.default is None:
        return None, None
    return _format(param, param.default), None


def _special_string(param: HyperparameterSpec, raw: HyperparameterValue) -> str | None:
    if not isinstance(raw, str):
        return None
    wanted = raw.strip().lower()
    return next((accepted for accepted in param.accepted_strings if accepted.lower() == wanted), None)


def _parse(param: HyperparameterSpec, raw: HyperparameterValue) -> float | None:
    """The numeric value, or None if it is not a number of the parameter's type (bools are never numbers)."""
    if isinstance(raw, bool):
        return None
    if param.type == "int":
        if isinstance(raw, int):
            return raw
        if isinstance(raw, float):
            return raw if raw.is_integer() else None
        text = raw.strip()
        return int(text) if _INTEGER.match(text) else None
    try:
        number = float(raw)
    except ValueError:
        return None
    return number if math.isfinite(number) else None


def _format(param: HyperparameterSpec, number: float) -> str:
    return str(int(number)) if param.type == "int" else repr(float(number))


def _kind(param: HyperparameterSpec) -> str:
    return "an integer" if param.type == "int" else "a number"


def _allowed(param: HyperparameterSpec) -> str:
    low, high = (_format(param, bound) for bound in (param.min, param.max))
    text = f"{_kind(param)} from {low} to {high}"
    if param.accepted_strings:
        text += " or " + " or ".join(repr(accepted) for accepted in param.accepted_strings)
    return text


def _names(params: tuple[HyperparameterSpec, ...]) -> str:
    return ", ".join(param.name for param in params)
