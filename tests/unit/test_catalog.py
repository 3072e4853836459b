"""The base-model catalog: one data table, read into frozen specs with the facts of the reference."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from bedrock_finetune.catalog import ModelSpec, all_models, get_model
from bedrock_finetune.errors import ConfigInvalid, UnknownModelError

EXPECTED_IDS = {
    "anthropic.claude-3-haiku-20240307-v1:0:200k",
    "amazon.nova-micro-v1:0:128k",
    "amazon.nova-lite-v1:0:300k",
    "amazon.nova-pro-v1:0:300k",
    "amazon.nova-2-lite-v1:0:256k",
    "amazon.nova-canvas-v1:0",
    "amazon.titan-text-express-v1:0:8k",
    "amazon.titan-text-lite-v1:0:4k",
    "amazon.titan-text-premier-v1:0:32k",
    "amazon.titan-image-generator-v1:0",
    "amazon.titan-image-generator-v2:0",
    "amazon.titan-embed-image-v1:0",
    "meta.llama3-1-8b-instruct-v1:0:128k",
    "meta.llama3-1-70b-instruct-v1:0:128k",
    "meta.llama3-2-1b-instruct-v1:0:128k",
    "meta.llama3-2-3b-instruct-v1:0:128k",
    "meta.llama3-2-11b-instruct-v1:0:128k",
    "meta.llama3-2-90b-instruct-v1:0:128k",
    "meta.llama3-3-70b-instruct-v1:0:128k",
    "cohere.command-text-v14:7:4k",
    "cohere.command-light-text-v14:7:4k",
}
FORMATS = {
    "anthropic.claude-3-haiku-20240307-v1:0:200k": "claude-messages",
    "amazon.nova-micro-v1:0:128k": "converse",
    "amazon.nova-2-lite-v1:0:256k": "converse",
    "amazon.nova-canvas-v1:0": "image-caption",
    "amazon.titan-text-express-v1:0:8k": "prompt-completion",
    "amazon.titan-image-generator-v2:0": "image-caption",
    "amazon.titan-embed-image-v1:0": "image-caption",
    "meta.llama3-1-70b-instruct-v1:0:128k": "prompt-completion",
    "meta.llama3-2-90b-instruct-v1:0:128k": "converse",
    "meta.llama3-3-70b-instruct-v1:0:128k": "converse",
    "cohere.command-light-text-v14:7:4k": "prompt-completion",
}
# deploy-custom-model-on-demand.html lists Nova Lite, Micro and Pro (us-east-1); see the catalog's "sources".
ON_DEMAND = {
    "amazon.nova-micro-v1:0:128k",
    "amazon.nova-lite-v1:0:300k",
    "amazon.nova-pro-v1:0:300k",
}


def test_catalog_holds_every_model_of_the_reference_exactly_once() -> None:
    # Given the catalog
    # When every model is listed
    ids = [spec.id for spec in all_models()]

    # Then each model of reference sections 1-4 is there, once
    assert set(ids) == EXPECTED_IDS
    assert len(ids) == len(set(ids))


@pytest.mark.parametrize(("model_id", "dataset_format"), FORMATS.items())
def test_dataset_format_per_model(model_id: str, dataset_format: str) -> None:
    # Given a model / When its fine-tuning format is asked / Then it is the one of reference section 2.1
    assert get_model(model_id).dataset_format("FINE_TUNING") == dataset_format


def test_only_titan_express_and_lite_support_continued_pre_training() -> None:
    # Given every model
    # When asked about continued pre-training
    cpt = {spec.id for spec in all_models() if spec.supports("CONTINUED_PRE_TRAINING")}

    # Then only Titan Text Express and Lite say yes, with the CPT input format
    assert cpt == {"amazon.titan-text-express-v1:0:8k", "amazon.titan-text-lite-v1:0:4k"}
    assert {get_model(model_id).dataset_format("CONTINUED_PRE_TRAINING") for model_id in cpt} == {"cpt-input"}
    assert all(spec.supports("FINE_TUNING") for spec in all_models())


def test_deployment_modes_follow_the_on_demand_table() -> None:
    # Given every model / When its deployment modes are read
    # Then on-demand is offered exactly for the models of reference section 6.2, preferred first
    for spec in all_models():
        assert ("on-demand" in spec.deployment_modes) == (spec.id in ON_DEMAND), spec.id
        if spec.id in ON_DEMAND:
            assert spec.deployment_modes[0] == "on-demand"


def test_regions_follow_the_reference() -> None:
    # Given Claude, Llama and Nova / When their Regions are read / Then Claude and Llama are us-west-2, Nova us-east-1
    for spec in all_models():
        if spec.provider in ("Anthropic", "Meta"):
            assert spec.regions == ("us-west-2",), spec.id
        if spec.family == "nova":
            assert spec.regions == ("us-east-1",), spec.id
        assert set(spec.regions) <= {"us-east-1", "us-west-2"}


def test_a_foundation_model_arn_resolves_to_its_id() -> None:
    # Given a foundation-model ARN / When it is looked up / Then the spec of the id it names comes back
    arn = "arn:aws:bedrock:us-east-1::foundation-model/amazon.nova-micro-v1:0:128k"
    assert get_model(arn).id == "amazon.nova-micro-v1:0:128k"


def test_an_unknown_id_lists_up_to_three_closest_ids() -> None:
    # Given the unsuffixed id the docs' own code sample uses
    # When it is looked up
    with pytest.raises(UnknownModelError) as raised:
        get_model("amazon.titan-text-express-v1")

    # Then the error names it and suggests the suffixed id first, at most three in all
    assert raised.value.model_id == "amazon.titan-text-express-v1"
    assert raised.value.suggestions[0] == "amazon.titan-text-express-v1:0:8k"
    assert 1 <= len(raised.value.suggestions) <= 3
    assert "amazon.titan-text-express-v1:0:8k" in str(raised.value)


def test_an_unrelated_id_has_no_suggestions() -> None:
    # Given an id like nothing in the catalog / When looked up / Then UnknownModelError with no suggestion
    with pytest.raises(UnknownModelError) as raised:
        get_model("zzzz")
    assert raised.value.suggestions == []


def test_an_unsupported_customization_type_is_a_config_error() -> None:
    # Given Claude, which supports fine-tuning only
    spec = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k")

    # When continued pre-training is asked for / Then ConfigInvalid names the model and what it supports
    assert not spec.supports("CONTINUED_PRE_TRAINING")
    with pytest.raises(ConfigInvalid, match="does not support customization type 'CONTINUED_PRE_TRAINING'"):
        spec.record_bounds("CONTINUED_PRE_TRAINING")


def test_record_bounds_and_validation_permission() -> None:
    # Given Claude, Llama and Nova 2 Lite / When their bounds are read / Then they carry reference section 3's numbers
    claude = get_model("anthropic.claude-3-haiku-20240307-v1:0:200k").record_bounds("FINE_TUNING")
    assert (claude.train_min, claude.train_max, claude.validation_max, claude.combined_max) == (
        32,
        10_000,
        1_000,
        10_000,
    )
    llama = get_model("meta.llama3-3-70b-instruct-v1:0:128k").record_bounds("FINE_TUNING")
    assert (llama.combined_min, llama.combined_max, llama.train_min) == (100, 10_000, None)
    nova2 = get_model("amazon.nova-2-lite-v1:0:256k")
    assert nova2.record_bounds("FINE_TUNING").train_min == 200
    assert not nova2.validation_allowed("FINE_TUNING")
    assert get_model("amazon.nova-micro-v1:0:128k").validation_allowed("FINE_TUNING")
    for image_model in ("amazon.titan-image-generator-v1:0", "amazon.titan-embed-image-v1:0"):
        assert not get_model(image_model).validation_allowed("FINE_TUNING")


@pytest.mark.parametrize(
    ("model_id", "chars_per_token"),
    [
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", 3),
        ("amazon.titan-text-lite-v1:0:4k", 6),
        ("cohere.command-text-v14:7:4k", 6),
        ("meta.llama3-1-8b-instruct-v1:0:128k", 4),
        ("amazon.nova-pro-v1:0:300k", 4),
    ],
)
def test_token_estimator_per_family(model_id: str, chars_per_token: int) -> None:
    # Given a model / When its estimator is read / Then it is characters/N as documented (Llama and Nova: our choice)
    tokens = get_model(model_id).customization("FINE_TUNING").tokens
    assert tokens.chars_per_token == chars_per_token
    assert tokens.estimator == f"characters/{chars_per_token}"


@pytest.mark.parametrize(
    ("model_id", "batch_size", "limit"),
    [
        ("amazon.titan-text-express-v1:0:8k", 1, 4096),
        ("amazon.titan-text-express-v1:0:8k", 2, 2048),
        ("amazon.titan-text-express-v1:0:8k", 64, 2048),
        ("amazon.titan-text-lite-v1:0:4k", 2, 4096),
        ("amazon.titan-text-lite-v1:0:4k", 3, 2048),
        ("anthropic.claude-3-haiku-20240307-v1:0:200k", 32, 32000),
        ("meta.llama3-2-90b-instruct-v1:0:128k", 1, 10000),
        ("amazon.nova-micro-v1:0:128k", None, None),
    ],
)
def test_per_record_token_limit_depends_on_batch_size(model_id: str, batch_size: int | None, limit: int | None) -> None:
    # Given a model and a batch size / When the input + output limit is asked / Then the table's value comes back
    assert get_model(model_id).customization("FINE_TUNING").tokens.total_limit(batch_size) == limit


def test_every_default_lies_within_its_range() -> None:
    # Given every hyperparameter of every model / Then min <= default <= max, and required ones have no default
    for spec in all_models():
        for customization in spec.customizations.values():
            assert customization.hyperparameters, spec.id
            for param in customization.hyperparameters:
                if param.required:
                    assert param.default is None, (spec.id, param.name)
                else:
                    assert param.default is not None
                    assert param.min <= param.default <= param.max, (spec.id, param.name)


def test_unverified_values_are_marked() -> None:
    # Given values the reference marks [UNVERIFIED] or [CONFLICT]
    # When the models' unverified lists are read / Then each names the field
    def marked(model_id: str, field: str) -> bool:
        return any(entry.startswith(field) for entry in get_model(model_id).unverified)

    assert marked("amazon.titan-text-premier-v1:0:32k", "id")
    assert marked("cohere.command-text-v14:7:4k", "id")
    assert marked("amazon.nova-2-lite-v1:0:256k", "customizations.FINE_TUNING.hyperparameters")
    assert marked("meta.llama3-3-70b-instruct-v1:0:128k", "customizations.FINE_TUNING.hyperparameters")
    assert marked("amazon.titan-image-generator-v1:0", "regions")
    assert marked("amazon.nova-canvas-v1:0", "customizations.FINE_TUNING.validation_allowed")


def test_specs_are_frozen() -> None:
    # Given a spec / When someone tries to change it / Then pydantic refuses (the catalog is shared, read once)
    spec: ModelSpec = get_model("amazon.nova-micro-v1:0:128k")
    with pytest.raises(ValueError, match="frozen"):
        spec.name = "changed"  # type: ignore[misc]


def test_every_profile_and_hyperparameter_set_in_the_data_file_is_used() -> None:
    # Given the raw data file / When rows are read / Then no profile or set is dead data
    raw = json.loads(resources.files("bedrock_finetune.catalog").joinpath("models.json").read_text())
    entries = [entry for row in raw["models"] for entry in row["customizations"].values()]
    profiles = {entry.get("profile") for entry in entries}
    sets = {entry.get("hyperparameters") for entry in entries}
    sets |= {profile.get("hyperparameters") for profile in raw["customization_profiles"].values()}
    assert set(raw["customization_profiles"]) <= profiles
    assert set(raw["hyperparameter_sets"]) <= sets
