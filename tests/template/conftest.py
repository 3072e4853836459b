"""The real template and definition, loaded once; deep copies for the broken-copy tests; the gate tools."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path
from typing import Any

import pytest

from bedrock_finetune_local.stack import load_template, translate

from .checks import Json, resources_of_type

ROOT = Path(__file__).resolve().parents[2]
MACHINE = "FineTuneStateMachine"

# Where the Makefile installs the gate tools (`make tools`, run by `make lint`).
SAM = ".venv-sam/bin/sam"
CHECKOV = ".venv-checkov/bin/checkov"
ASL_VALIDATOR = "node_modules/.bin/asl-validator"


def fresh(value: Any) -> Any:
    """A copy to break without touching the session's fixtures."""
    return copy.deepcopy(value)


def definition_path(template: Json, machine: str = MACHINE) -> Path:
    return ROOT / template["Resources"][machine]["Properties"]["DefinitionUri"]


def definition_texts(template: Json) -> dict[str, str]:
    machines = resources_of_type(template, "AWS::Serverless::StateMachine")
    return {name: definition_path(template, name).read_text() for name in machines}


def made(relative: str, target: str) -> Path:
    """A file that ``make <target>`` (part of `make lint`, so of `make test`) creates. Skipped when absent, except
    in CI (``CI`` set), where it fails."""
    path = ROOT / relative
    if path.exists():
        return path
    reason = f"{relative} does not exist; `make {target}` (part of `make lint`) creates it"
    if "CI" in os.environ:
        pytest.fail(f"{reason}. CI is set, so it must be there.")
    pytest.skip(reason)


def installed_tool(relative: str) -> Path:
    """A gate tool at its Makefile install location (see ``made``)."""
    return made(relative, "tools")


@pytest.fixture(scope="session")
def template() -> Json:
    """template.yaml with long-form intrinsics, as plain dicts and lists."""
    return dict(json.loads(json.dumps(load_template(ROOT))))


@pytest.fixture(scope="session")
def cfn() -> Json:
    """The template as CloudFormation, translated by AWS's SAM translator (SAM-generated roles and rules included)."""
    return translate(ROOT)


@pytest.fixture(scope="session")
def definition(template: Json) -> Json:
    return dict(json.loads(definition_path(template).read_text()))
