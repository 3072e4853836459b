"""The tags every resource of a run carries (naming.run_tags) and how the reconciler reads them back."""

from __future__ import annotations

import pytest

from bedrock_finetune import naming

ARN = "arn:aws:states:us-east-1:123456789012:execution:sm:run-1"


def tags(**overrides: object) -> dict[str, str]:
    values: dict[str, object] = {
        "run": "run-1",
        "execution_arn": ARN,
        "sha256": "a" * 64,
        "source_key": "inbox/ü data.jsonl",
        "stack": "finetune-prod",
    }
    values.update(overrides)
    return naming.tag_map(naming.run_tags(**values))  # type: ignore[arg-type]


def test_a_run_tags_its_product_stack_run_and_execution() -> None:
    # When a run's tags are built
    built = tags()

    # Then they name the product, the stack, the run and the exact execution, and no keep tag
    assert built["managed-by"] == "bedrock-finetune"
    assert built["stack"] == "finetune-prod"
    assert built["run-id"] == "run-1"
    assert built["execution-arn"] == ARN
    assert built["source-key"] == "inbox/u data.jsonl"  # Bedrock's TagValue pattern: ASCII only
    assert "keep" not in built
    assert naming.belongs_to_stack(built, "finetune-prod")
    assert not naming.is_kept(built)


def test_a_kept_deployment_is_tagged_keep() -> None:
    assert naming.is_kept(tags(keep=True))


@pytest.mark.parametrize(
    ("changed", "stack"),
    [
        ({"stack": "finetune-dev"}, "finetune-prod"),  # another stack of the same product
        ({"stack": ""}, "finetune-prod"),  # created outside a stack
        ({}, ""),  # a reconciler that does not know its stack owns nothing
    ],
)
def test_only_this_stacks_tags_make_a_resource_the_reconcilers(changed: dict[str, object], stack: str) -> None:
    assert not naming.belongs_to_stack(tags(**changed), stack)


def test_a_resource_of_another_product_is_never_this_stacks() -> None:
    foreign = {**tags(), "managed-by": "someone-else"}
    assert not naming.belongs_to_stack(foreign, "finetune-prod")


@pytest.mark.parametrize(("value", "kept"), [("true", True), ("TRUE", True), (" True ", True), ("false", False)])
def test_keep_is_read_as_people_write_it(value: str, kept: bool) -> None:
    assert naming.is_kept({"keep": value}) is kept
