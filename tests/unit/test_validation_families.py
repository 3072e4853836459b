"""A valid dataset passes for every model of the catalog; the committed sample datasets are what they claim to be."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from conftest import NOVA_MICRO, REPO, Records, Validate

from bedrock_finetune.catalog import CustomizationSpec, all_models, get_model

BUILDERS: dict[str, Callable[[int], dict[str, Any]]] = {
    "claude-messages": lambda index: Records.claude(index, exchanges=1 + index % 2),
    "converse": Records.converse,
    "prompt-completion": Records.prompt_completion,
    "cpt-input": Records.cpt,
    "image-caption": Records.image_caption,
}
TARGETS = [
    pytest.param(spec.id, customization_type, id=f"{spec.id}-{customization_type}")
    for spec in all_models()
    for customization_type in spec.customizations
]


def record_count(customization: CustomizationSpec) -> int:
    """Enough records for every stated minimum and recommendation."""
    bounds = customization.records
    minimums = (bounds.train_min, bounds.combined_min, customization.recommended_min_records)
    return max([10, *(value for value in minimums if value is not None)])


def required_hyperparameters(customization: CustomizationSpec) -> dict[str, str]:
    return {param.name: param.accepted_strings[0] for param in customization.hyperparameters if param.required}


@pytest.mark.parametrize(("model_id", "customization_type"), TARGETS)
def test_a_valid_sample_passes(validate: Validate, model_id: str, customization_type: str) -> None:
    # Given enough valid records in the model's format, and its required hyperparameters
    customization = get_model(model_id).customization(customization_type)
    build = BUILDERS[customization.dataset_format]
    train = [build(index) for index in range(record_count(customization))]
    validation = [build(100_000 + index) for index in range(5)] if customization.validation_allowed else None

    # When validated
    report = validate(
        train,
        model_id,
        customization_type=customization_type,
        validation=validation,
        hyperparameters=required_hyperparameters(customization),
    )

    # Then valid, without warnings, every record counted
    assert report.valid, report.errors
    assert report.warnings == []
    assert report.stats.records == len(train) + len(validation or [])


def test_the_demo_dataset_is_valid_for_nova_micro(validate: Validate) -> None:
    # Given the committed demo dataset
    data = (REPO / "events" / "datasets" / "support-chat.jsonl").read_bytes()

    # When validated for Nova Micro
    report = validate(data, NOVA_MICRO)

    # Then valid with no warning, at least 100 records, some multi-turn, and small enough for a demo
    assert report.valid, report.errors
    assert report.warnings == []
    assert report.stats.records >= 100
    assert report.stats.turns is not None
    assert report.stats.turns.max > 2
    assert len(data) < 100_000


def test_the_broken_dataset_breaks_many_distinct_rules(validate: Validate) -> None:
    # Given the committed broken dataset / When validated for Nova Micro
    report = validate((REPO / "events" / "datasets" / "support-chat-broken.jsonl").read_bytes(), NOVA_MICRO)

    # Then it is invalid for at least ten distinct reasons
    assert not report.valid
    assert {"E_JSON", "E_BLANK_LINE", "E_ROLE_FIRST", "E_ROLE_LAST", "E_CONTENT_EMPTY", "E_RESERVED_KEYWORD"} <= set(
        report.error_counts
    )
    assert len(report.error_counts) >= 10
