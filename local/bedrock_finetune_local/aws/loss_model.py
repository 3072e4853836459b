"""The local Bedrock's loss model: training and validation curves that respond to the dataset and the hyperparameters.

A hyperparameter sweep (change one hyperparameter, keep the value with the lowest final validation loss) needs losses
where the hyperparameters matter and the best value is not simply a range end. The curves are a pure, deterministic
function of the dataset (the sha256 of the training data: two jobs on the same data get the same curves whatever
their names) and the hyperparameters (strings, as in ``CreateModelCustomizationJob``; a missing or unreadable value
takes the base model's catalog default).

The formula, with ``t`` the epochs done (``step + 1`` over the steps per epoch; a validation row is at ``t = epoch +
1``) and ``u(label)`` a number in [0, 1) drawn from sha256(dataset sha256 + label)::

    training(t)   = F + P + A·exp(-R·t) + M·exp(-t/T)
    validation(t) = F + P + A·exp(-R·t) + M + G + B·t

    F = 0.30 + 0.30·u("floor")     what no tuning removes (the dataset's difficulty)
    A = 1.60 + 0.40·u("fit")       what training can learn from the data
    G = 0.05 + 0.05·u("gap")       held-out data is a little harder than the training data
    M = 0.15, T = 8 epochs         memorization: training keeps falling, validation never gets it
    R = 1.25 per epoch             how fast the learnable part is learned
    B = R·A·exp(-R·m)              overfitting cost per epoch, chosen so that validation is lowest at t = m
    m = 2.5 + u("epochs")          the best epoch count, in [2.5, 3.5) (kept inside the model's epochCount range)
    P = sum of one bowl per tuned hyperparameter: weight·(x - c)²

Training loss therefore falls at every step, while validation loss falls until ``m`` epochs and rises after: the
best ``epochCount`` is ``floor(m)`` or ``ceil(m)``, never a range end of 1-5. The epoch count only decides where the
curves stop; the rows are otherwise the same curves, so a sweep over ``epochCount`` compares points of one U.

Each bowl measures the hyperparameter's position ``x`` in its catalog range, 0 at the minimum and 1 at the maximum
(clamped), and its optimum ``c`` moves a little with the dataset, never to a range end:

    =========================  ==========  =====================  ======
    hyperparameter             x is        c                      weight
    =========================  ==========  =====================  ======
    learningRate               log scale   0.40 + 0.20·u(name)    1.00
    learningRateMultiplier     log scale   0.40 + 0.20·u(name)    1.00
    batchSize                  log scale   0.35 + 0.30·u(name)    0.08
    learningRateWarmupSteps    linear      0.10 + 0.20·u(name)    0.06
    =========================  ==========  =====================  ======

Everything else adds the same amount to every run, so among learning rates the one closest in log space to the
optimum ``low·(high/low)^c`` has the lowest final validation loss. The geometric middle of the range (x = 0.5, at most
0.1 from c) always beats both ends (at least 0.4 from c): for Nova (1e-06 to 0.0001) a sweep of 1e-06, 1e-05, 0.0001
is won by 1e-05, whatever the dataset. A range starting at 0 (Titan Text's learning rate; a rate of 0 trains nothing)
is read in log space from a hundredth of the default. A hyperparameter with a single allowed value (batchSize 1 for
Llama) costs nothing; one that is not in the model's catalog entry, or not listed above (early stopping,
evalPercentage, stepCount), has no effect. An unknown base model uses Nova-like ranges.

Rough bounds: losses stay between 0.3 and 3.5 for every catalog model and any allowed values up to 20 epochs.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache

__all__ = [
    "BOWLS",
    "Bowl",
    "LossCurves",
    "ParamRange",
    "best_epochs",
    "bowl_optimum",
    "hyperparameter_ranges",
    "loss_curves",
]

# The constants of the formula in the module docstring.
_FLOOR, _FLOOR_SPREAD = 0.30, 0.30
_FIT, _FIT_SPREAD = 1.60, 0.40
_GAP, _GAP_SPREAD = 0.05, 0.05
_MEMORY, _MEMORY_EPOCHS = 0.15, 8.0
_RATE = 1.25
_BEST_EPOCHS = 2.5
#: Where a log-scale range that starts at 0 starts instead, as a share of the default (log(0) has no position).
_ZERO_LOW_SHARE_OF_DEFAULT = 0.01


@dataclass(frozen=True)
class ParamRange:
    """One hyperparameter's allowed values, as the catalog lists them."""

    low: float
    high: float
    default: float | None


@dataclass(frozen=True)
class Bowl:
    """The extra loss of one hyperparameter: ``weight·(x - c)²`` with ``c = centre + spread·u(name)``."""

    weight: float
    centre: float
    spread: float
    log_scale: bool


BOWLS: dict[str, Bowl] = {
    "learningRate": Bowl(weight=1.0, centre=0.40, spread=0.20, log_scale=True),
    "learningRateMultiplier": Bowl(weight=1.0, centre=0.40, spread=0.20, log_scale=True),
    "batchSize": Bowl(weight=0.08, centre=0.35, spread=0.30, log_scale=True),
    "learningRateWarmupSteps": Bowl(weight=0.06, centre=0.10, spread=0.20, log_scale=False),
}

# Nova-like ranges for a base model the catalog does not know (the local default model is Nova Micro). The optional
# ones count only when the request names them, so an unknown model is not charged for a multiplier it never had.
_FALLBACK_RANGES = {
    "epochCount": ParamRange(1, 5, 2),
    "learningRate": ParamRange(1e-6, 1e-4, 1e-5),
    "learningRateWarmupSteps": ParamRange(0, 100, 10),
}
_FALLBACK_OPTIONAL = {
    "learningRateMultiplier": ParamRange(0.1, 2, 1),
    "batchSize": ParamRange(1, 64, 8),
}


@dataclass(frozen=True)
class LossCurves:
    """One training loss per step and one validation loss per epoch (unrounded)."""

    training: tuple[float, ...]
    validation: tuple[float, ...]


def loss_curves(
    *,
    dataset_sha256: str,
    base_model_id: str,
    hyper_parameters: Mapping[str, str],
    epochs: int,
    steps_per_epoch: int,
    customization_type: str = "FINE_TUNING",
) -> LossCurves:
    """The curves of a job that trained ``epochs`` epochs of ``steps_per_epoch`` steps (see the module docstring)."""
    ranges = hyperparameter_ranges(base_model_id, customization_type, hyper_parameters)
    penalty = sum(
        _bowl_loss(bowl, name, ranges[name], hyper_parameters.get(name), dataset_sha256)
        for name, bowl in BOWLS.items()
        if name in ranges
    )
    floor = _FLOOR + _FLOOR_SPREAD * _unit(dataset_sha256, "floor") + penalty
    fit = _FIT + _FIT_SPREAD * _unit(dataset_sha256, "fit")
    gap = _GAP + _GAP_SPREAD * _unit(dataset_sha256, "gap")
    best = best_epochs(dataset_sha256, ranges.get("epochCount"))
    overfit = _RATE * fit * math.exp(-_RATE * best)

    def training(t: float) -> float:
        return floor + fit * math.exp(-_RATE * t) + _MEMORY * math.exp(-t / _MEMORY_EPOCHS)

    def validation(t: float) -> float:
        return floor + fit * math.exp(-_RATE * t) + _MEMORY + gap + overfit * t

    return LossCurves(
        training=tuple(training((step + 1) / steps_per_epoch) for step in range(epochs * steps_per_epoch)),
        validation=tuple(validation(epoch + 1.0) for epoch in range(epochs)),
    )


def best_epochs(dataset_sha256: str, epoch_range: ParamRange | None = None) -> float:
    """``m``: the (fractional) epoch count with the lowest validation loss, kept half an epoch inside the range."""
    best = _BEST_EPOCHS + _unit(dataset_sha256, "epochs")
    if epoch_range is not None and epoch_range.high - epoch_range.low > 1:
        best = min(max(best, epoch_range.low + 0.5), epoch_range.high - 0.5)
    return best


def bowl_optimum(name: str, allowed: ParamRange, dataset_sha256: str) -> float:
    """The value of hyperparameter ``name`` at the bottom of its bowl (inside the range unless it has one value)."""
    bowl = BOWLS[name]
    centre = _centre(bowl, name, dataset_sha256)
    if bowl.log_scale:
        low = _log_low(allowed)
        return low * math.exp(centre * math.log(allowed.high / low))
    return allowed.low + centre * (allowed.high - allowed.low)


def hyperparameter_ranges(
    base_model_id: str, customization_type: str = "FINE_TUNING", given: Mapping[str, str] | None = None
) -> dict[str, ParamRange]:
    """The catalog ranges for the base model (by id or foundation-model ARN), or Nova-like ones if it is unknown."""
    known = _catalog_ranges(base_model_id, customization_type)
    if known is not None:
        return dict(known)
    optional = {name: allowed for name, allowed in _FALLBACK_OPTIONAL.items() if name in (given or {})}
    return {**_FALLBACK_RANGES, **optional}


@cache
def _catalog_ranges(base_model_id: str, customization_type: str) -> tuple[tuple[str, ParamRange], ...] | None:
    # Imported here: the emulator may use the shipped catalog, and only a completing job needs it (cheap imports).
    from bedrock_finetune.catalog import get_model  # noqa: PLC0415
    from bedrock_finetune.errors import ConfigInvalid  # noqa: PLC0415

    try:
        spec = get_model(base_model_id)
        params = spec.hyperparameters(customization_type if spec.supports(customization_type) else "FINE_TUNING")
    except ConfigInvalid:  # an unknown model (UnknownModelError), or one without FINE_TUNING
        return None
    if not params:
        return None
    return tuple((p.name, ParamRange(p.min, p.max, p.default)) for p in params)


def _bowl_loss(bowl: Bowl, name: str, allowed: ParamRange, raw: str | None, dataset_sha256: str) -> float:
    if allowed.high <= allowed.low:
        return 0.0  # a single allowed value is the best one by definition
    value = _number(raw)
    if value is None:
        value = allowed.default
    if value is None:
        return 0.0  # no value and no default (a required one the request left out): nothing to compare
    position = _position(bowl, allowed, value)
    return bowl.weight * (position - _centre(bowl, name, dataset_sha256)) ** 2


def _position(bowl: Bowl, allowed: ParamRange, value: float) -> float:
    """0 at the range's low end, 1 at its high end, clamped (values out of range cost what the nearer end costs)."""
    if bowl.log_scale:
        low = _log_low(allowed)
        position = math.log(max(value, low) / low) / math.log(allowed.high / low)
    else:
        position = (value - allowed.low) / (allowed.high - allowed.low)
    return min(max(position, 0.0), 1.0)


def _log_low(allowed: ParamRange) -> float:
    if allowed.low > 0:
        return allowed.low
    default = allowed.default if allowed.default is not None and allowed.default > 0 else allowed.high * 1e-4
    return min(default * _ZERO_LOW_SHARE_OF_DEFAULT, allowed.high * _ZERO_LOW_SHARE_OF_DEFAULT)


def _centre(bowl: Bowl, name: str, dataset_sha256: str) -> float:
    return bowl.centre + bowl.spread * _unit(dataset_sha256, name)


def _number(raw: str | None) -> float | None:
    """A finite number from the request's string, or None (missing, ``Auto``, not a number)."""
    if raw is None:
        return None
    try:
        value = float(raw)
    except (TypeError, ValueError):
        return None
    return value if math.isfinite(value) else None


def _unit(dataset_sha256: str, label: str) -> float:
    """A number in [0, 1) that depends only on the dataset and the label (one independent draw per label)."""
    digest = hashlib.sha256(f"{dataset_sha256}:{label}".encode()).hexdigest()
    return int(digest[:12], 16) / 16**12
