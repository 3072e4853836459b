"""The catalog of base models Bedrock can customize: one data table, ``models.json``, read once into frozen models.

Adding a model is adding a row to ``models.json``. A row's customization may name a ``profile`` (shared values) and
a ``hyperparameters`` set by name; :func:`_expand_row` resolves both before validation, so everything below sees
plain, complete :class:`ModelSpec` objects.
"""

from __future__ import annotations

import difflib
import json
import re
from functools import cache
from importlib import resources
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from bedrock_finetune.errors import ConfigInvalid, UnknownModelError

CustomizationType = Literal["FINE_TUNING", "CONTINUED_PRE_TRAINING"]
DatasetFormat = Literal["prompt-completion", "cpt-input", "claude-messages", "converse", "image-caption"]
DeploymentMode = Literal["on-demand", "provisioned"]

CUSTOMIZATION_TYPES: tuple[CustomizationType, ...] = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
_ARN = re.compile(r"^arn:aws[a-z-]*:bedrock:[a-z0-9-]*::foundation-model/(?P<id>.+)$")
_MAX_SUGGESTIONS = 3


class _Row(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class RecordBounds(_Row):
    """Record-count bounds; ``None`` means the documentation states no bound."""

    train_min: int | None = None
    train_max: int | None = None
    validation_min: int | None = None
    validation_max: int | None = None
    combined_min: int | None = None
    combined_max: int | None = None


class TokenLimit(_Row):
    """A per-record token limit that holds for batch sizes up to ``max_batch_size`` (``None``: any batch size)."""

    max_batch_size: int | None
    max_tokens: int


class TokenRules(_Row):
    """How tokens are estimated (characters / ``chars_per_token``) and the per-record limits they are checked with."""

    chars_per_token: int
    tokens_per_image: int = 0
    max_input: int | None = None
    max_output: int | None = None
    max_total: tuple[TokenLimit, ...] = ()

    @property
    def estimator(self) -> str:
        return f"characters/{self.chars_per_token}"

    def total_limit(self, batch_size: int | None) -> int | None:
        """The input + output limit at this batch size (the first row that covers it), or None if not stated."""
        for limit in self.max_total:
            if limit.max_batch_size is None or batch_size is None or batch_size <= limit.max_batch_size:
                return limit.max_tokens
        return None


class MediaRules(_Row):
    """Images and videos a record may reference; empty format lists mean the model takes none."""

    image_formats: tuple[str, ...] = ()
    video_formats: tuple[str, ...] = ()
    max_images_per_record: int | None = None
    max_videos_per_record: int | None = None
    same_bucket_as_dataset: bool = False
    uri_path_pattern: str | None = None


class FormatRules(_Row):
    """Model-specific rules on top of the dataset format."""

    reserved_keywords: tuple[str, ...] = ()
    max_system_blocks: int | None = None
    reasoning_allowed: bool = False
    caption_min_chars: int | None = None
    caption_max_chars: int | None = None
    media: MediaRules = MediaRules()


class HyperparameterSpec(_Row):
    """One hyperparameter as the Bedrock API names it."""

    name: str
    type: Literal["int", "float"]
    min: float
    max: float
    default: float | None = None
    required: bool = False
    accepted_strings: tuple[str, ...] = ()
    forbidden_with_validation: bool = False


class CustomizationSpec(_Row):
    """Everything that depends on the customization type: dataset format, limits, hyperparameters."""

    dataset_format: DatasetFormat
    records: RecordBounds = RecordBounds()
    recommended_min_records: int | None = None
    tokens: TokenRules
    max_train_bytes: int | None = None
    max_validation_bytes: int | None = None
    validation_allowed: bool
    hyperparameters: tuple[HyperparameterSpec, ...]
    rules: FormatRules = FormatRules()


class ModelSpec(_Row):
    """One base model: identity, where it runs, how it is customized and deployed.

    ``deployment_modes`` lists what Bedrock offers for a custom model of this base, preferred first (on-demand has no
    hourly charge). ``smoke_test_api`` is the runtime API that answers a prompt for it (Converse or InvokeModel).
    ``regions`` are the Regions where a customization job for this base can run. ``base_inference_profile`` is the
    system-defined inference profile the *base* model must be invoked through on demand (None: invoke the foundation
    model itself). ``sources`` maps each of these claims to the AWS pages it comes from.
    """

    id: str
    name: str
    provider: str
    family: str
    regions: tuple[str, ...]
    deployment_modes: tuple[DeploymentMode, ...]
    smoke_test_api: Literal["converse", "invoke"]
    output_modality: Literal["text", "image", "embedding"]
    listed_in_latest_docs: bool = True
    customizations: dict[CustomizationType, CustomizationSpec]
    base_inference_profile: str | None = None
    sources: dict[str, tuple[str, ...]]
    unverified: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def supports(self, customization_type: str) -> bool:
        return customization_type in self.customizations

    def customizable_in(self, region: str) -> bool:
        """Whether a customization job for this base model can run in ``region``."""
        return region in self.regions

    @property
    def base_inference_id(self) -> str:
        """The foundation model id that answers on demand: ``amazon.nova-micro-v1:0:128k`` → ``amazon.nova-micro-v1:0``
        (the context suffix names the variant that is customized or bought as Provisioned Throughput)."""
        parts = self.id.split(":")
        return ":".join(parts[:2]) if len(parts) > 2 else self.id

    def base_inference_arn(self, *, partition: str, region: str, account: str) -> str:
        """The ARN to invoke the base model with: its inference profile where it needs one, else the foundation model
        (the resource ``bedrock:InvokeModel`` is granted on)."""
        if self.base_inference_profile:
            return f"arn:{partition}:bedrock:{region}:{account}:inference-profile/{self.base_inference_profile}"
        return f"arn:{partition}:bedrock:{region}::foundation-model/{self.base_inference_id}"

    def customization(self, customization_type: str) -> CustomizationSpec:
        """The spec for one customization type; ConfigInvalid if the model does not support it."""
        for name, spec in self.customizations.items():
            if name == customization_type:
                return spec
        supported = ", ".join(self.customizations)
        raise ConfigInvalid(
            f"{self.id} does not support customization type {customization_type!r}; supported: {supported}"
        )

    def validation_allowed(self, customization_type: str) -> bool:
        return self.customization(customization_type).validation_allowed

    def record_bounds(self, customization_type: str) -> RecordBounds:
        return self.customization(customization_type).records

    def dataset_format(self, customization_type: str) -> DatasetFormat:
        return self.customization(customization_type).dataset_format

    def hyperparameters(self, customization_type: str) -> tuple[HyperparameterSpec, ...]:
        return self.customization(customization_type).hyperparameters


def get_model(model_id_or_arn: str) -> ModelSpec:
    """The spec of a base model by its customization id or foundation-model ARN; UnknownModelError otherwise."""
    model_id = _strip_arn(model_id_or_arn.strip())
    models = _models_by_id()
    spec = models.get(model_id)
    if spec is None:
        raise UnknownModelError(model_id, _suggestions(model_id, list(models)))
    return spec


def all_models() -> tuple[ModelSpec, ...]:
    """Every model in catalog order."""
    return tuple(_models_by_id().values())


def customizable_in(region: str) -> tuple[ModelSpec, ...]:
    """The models a customization job in ``region`` can start from, in catalog order."""
    return tuple(spec for spec in all_models() if spec.customizable_in(region))


def _strip_arn(value: str) -> str:
    match = _ARN.match(value)
    return match.group("id") if match else value


def _suggestions(model_id: str, known: list[str]) -> list[str]:
    """Known ids that extend the given one (a missing ``:0:8k`` suffix), then the closest by similarity."""
    extending = [known_id for known_id in known if known_id.startswith(model_id)] if model_id else []
    close = difflib.get_close_matches(model_id, known, n=_MAX_SUGGESTIONS, cutoff=0.5)
    ordered = list(dict.fromkeys(extending + close))
    return ordered[:_MAX_SUGGESTIONS]


@cache
def _models_by_id() -> dict[str, ModelSpec]:
    raw = json.loads(resources.files(__package__).joinpath("models.json").read_text(encoding="utf-8"))
    specs = [ModelSpec.model_validate(_expand_row(row, raw)) for row in raw["models"]]
    by_id = {spec.id: spec for spec in specs}
    if len(by_id) != len(specs):
        raise ValueError("models.json lists a model id twice")
    return by_id


def _expand_row(row: dict[str, Any], raw: dict[str, Any]) -> dict[str, Any]:
    """Resolve each customization's ``profile`` and named ``hyperparameters`` set into plain values, and each claim's
    source names into the cited pages."""
    customizations = {}
    for customization_type, entry in row["customizations"].items():
        merged = _merge_profile(raw["customization_profiles"], entry)
        set_name = merged.get("hyperparameters")
        merged["hyperparameters"] = raw["hyperparameter_sets"][set_name] if set_name else []
        customizations[customization_type] = merged
    sources = {claim: [raw["sources"][name] for name in names] for claim, names in row.get("sources", {}).items()}
    return {**row, "customizations": customizations, "sources": sources}


def _merge_profile(profiles: dict[str, dict[str, Any]], entry: dict[str, Any]) -> dict[str, Any]:
    """The profile's keys, then the entry's; object values are merged one level deep (``rules.media`` replaces)."""
    entry = dict(entry)
    merged = dict(profiles[entry.pop("profile")]) if "profile" in entry else {}
    for key, value in entry.items():
        base = merged.get(key)
        merged[key] = {**base, **value} if isinstance(base, dict) and isinstance(value, dict) else value
    return merged
