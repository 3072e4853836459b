"""Every Region, deployment-mode and inference-profile claim of the catalog names the AWS page it comes from."""

from __future__ import annotations

import json
from importlib import resources

import pytest

from bedrock_finetune.catalog import ModelSpec, all_models, customizable_in, get_model

ON_DEMAND_PAGE = "https://docs.aws.amazon.com/bedrock/latest/userguide/deploy-custom-model-on-demand.html"
# The base models that page lists ("Supported base models"), all in US East (N. Virginia).
DOCUMENTED_ON_DEMAND = {"amazon.nova-micro-v1:0:128k", "amazon.nova-lite-v1:0:300k", "amazon.nova-pro-v1:0:300k"}


@pytest.mark.parametrize("spec", all_models(), ids=lambda spec: spec.id)
def test_every_region_and_deployment_claim_has_a_source(spec: ModelSpec) -> None:
    # Given a model / When its sources are read / Then Regions and deployment modes each cite at least one page
    for claim in ("regions", "deployment_modes"):
        assert spec.sources.get(claim), (spec.id, claim)
        assert all(source.startswith("https://") for source in spec.sources[claim]), (spec.id, claim)
    # ... on-demand is claimed only with the on-demand page, and an inference profile only with its source
    if "on-demand" in spec.deployment_modes:
        assert any(source.startswith(ON_DEMAND_PAGE) for source in spec.sources["deployment_modes"]), spec.id
    if spec.base_inference_profile:
        assert spec.sources.get("base_inference_profile"), spec.id
        assert spec.base_inference_profile.startswith("us."), spec.id


def test_on_demand_deployment_only_where_the_aws_docs_list_it() -> None:
    # Given the catalog / When the models offering on-demand deployment are listed
    offered = {spec.id for spec in all_models() if "on-demand" in spec.deployment_modes}

    # Then they are exactly the page's Nova Micro, Lite and Pro, all customizable in us-east-1
    assert offered == DOCUMENTED_ON_DEMAND
    assert all(get_model(model_id).regions == ("us-east-1",) for model_id in offered)


def test_every_source_name_in_the_data_file_exists_and_is_used() -> None:
    # Given the raw data file / When the rows' source names are collected
    raw = json.loads(resources.files("bedrock_finetune.catalog").joinpath("models.json").read_text())
    used = {name for row in raw["models"] for names in row["sources"].values() for name in names}

    # Then each names an entry of the sources table, and no entry is dead
    assert used == set(raw["sources"])


def test_models_customizable_per_region() -> None:
    # Given the two fine-tuning Regions / When asked which models they customize
    east = {spec.id for spec in customizable_in("us-east-1")}
    west = {spec.id for spec in customizable_in("us-west-2")}

    # Then Nova is east only, Claude and Llama are west only, and another Region customizes nothing
    assert "amazon.nova-micro-v1:0:128k" in east - west
    assert "anthropic.claude-3-haiku-20240307-v1:0:200k" in west - east
    assert "meta.llama3-3-70b-instruct-v1:0:128k" in west - east
    assert customizable_in("eu-west-1") == ()
