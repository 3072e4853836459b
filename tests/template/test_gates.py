"""The `make lint` gates can fail: asl-validator, `sam validate --lint` and checkov each reject a deliberately
broken copy. Also: `sam build` packaged native code for the template's runtime and architecture, every checkov skip
gives its reason, and functions/requirements.txt (what `sam build` packages) pins pyproject's runtime dependencies.

The tools and the build output are used from the Makefile's locations. Without them these tests are skipped, except
in CI (``CI`` set), where they fail.
"""

from __future__ import annotations

import json
import os
import subprocess
import tomllib
from pathlib import Path

from . import checks
from .checks import Json
from .conftest import ASL_VALIDATOR, CHECKOV, ROOT, SAM, definition_path, fresh, installed_tool, made

TIMEOUT = 120


def run(command: list[str | Path], cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(part) for part in command],
        cwd=cwd,
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        check=False,
    )


def replace_once(text: str, old: str, new: str, *, after: str = "") -> str:
    """``text`` with the first ``old`` after the first ``after`` replaced (the test fails if there is none)."""
    start = text.index(after)
    at = text.index(old, start)
    return text[:at] + new + text[at + len(old) :]


def test_asl_validator_passes_the_definition_and_rejects_a_next_to_a_missing_state(
    tmp_path: Path, definition: Json, template: Json
) -> None:
    # Given the real definition and a copy whose first state goes on to a state that does not exist
    validator = installed_tool(ASL_VALIDATOR)
    broken = fresh(definition)
    broken["States"][broken["StartAt"]]["Next"] = "NoSuchState"
    (tmp_path / "broken.asl.json").write_text(json.dumps(broken))

    # When asl-validator checks each
    real = run([validator, "--json-path", definition_path(template)], ROOT)
    failed = run([validator, "--json-path", tmp_path / "broken.asl.json"], ROOT)

    # Then the real one passes and the copy fails, naming the missing target
    assert real.returncode == 0, real.stdout + real.stderr
    assert failed.returncode != 0
    assert "NoSuchState" in failed.stdout + failed.stderr


def test_sam_validate_lint_rejects_a_misspelled_property(tmp_path: Path) -> None:
    # Given a copy of the template whose data bucket misspells VersioningConfiguration
    sam = installed_tool(SAM)
    text = (ROOT / "template.yaml").read_text()
    broken = replace_once(text, "VersioningConfiguration:", "VersioningConfig:", after="  DataBucket:")
    (tmp_path / "template.yaml").write_text(broken)

    # When `sam validate --lint` checks it (offline: a region, no credentials)
    result = run(
        [sam, "validate", "--lint", "--template-file", "template.yaml"],
        tmp_path,
        SAM_CLI_TELEMETRY="0",
        AWS_DEFAULT_REGION="us-east-1",
    )

    # Then it fails on that property
    assert result.returncode != 0
    assert "VersioningConfig" in result.stdout + result.stderr


def test_checkov_fails_on_a_finding_that_is_neither_fixed_nor_skipped(tmp_path: Path) -> None:
    # Given a copy of the template whose data bucket lost its public access block and whose first function lost its
    # reasoned VPC skip
    checkov = installed_tool(CHECKOV)
    text = (ROOT / "template.yaml").read_text()
    block = (
        "      PublicAccessBlockConfiguration:\n"
        "        BlockPublicAcls: true\n"
        "        BlockPublicPolicy: true\n"
        "        IgnorePublicAcls: true\n"
        "        RestrictPublicBuckets: true\n"
    )
    broken = replace_once(text, block, "", after="  DataBucket:")
    broken = replace_once(broken, "- id: CKV_AWS_117", "- id: CKV_AWS_999", after="  ResolveConfigFunction:")
    (tmp_path / "template.yaml").write_text(broken)

    # When checkov scans it as `make checkov` does
    options = ["--framework", "cloudformation", "--skip-download", "--quiet", "--compact", "--output", "json"]
    result = run([checkov, "--file", "template.yaml", *options], tmp_path, BC_SKIP_MAPPING="TRUE")

    # Then it fails with exactly those findings
    assert result.returncode != 0
    report = json.loads(result.stdout)
    failed = sorted((check["check_id"], check["resource"]) for check in report["results"]["failed_checks"])
    assert failed == [
        ("CKV_AWS_117", "AWS::Serverless::Function.ResolveConfigFunction"),
        *((f"CKV_AWS_{n}", "AWS::S3::Bucket.DataBucket") for n in (53, 54, 55, 56)),
    ]


def test_sam_build_packaged_the_native_wheels_of_the_template_runtime_and_architecture(template: Json) -> None:
    # Given the functions' runtime and architecture in the template, and the output of `make build`
    function_globals = template["Globals"]["Function"]
    runtime, (architecture,) = function_globals["Runtime"], function_globals["Architectures"]
    build = made(".aws-sam/build/template.yaml", "build").parent
    machine = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    abi = "cpython-" + runtime.removeprefix("python").replace(".", "")

    # When the compiled extension of pydantic_core is looked up in every function's artifact
    functions = checks.resources_of_type(template, "AWS::Serverless::Function")
    extensions = {
        name: sorted(p.name for p in (build / name).glob("pydantic_core/_pydantic_core*.so")) for name in functions
    }

    # Then each function carries exactly one, built for that runtime and machine (a manylinux wheel, not the host's)
    assert extensions == {name: [f"_pydantic_core.{abi}-{machine}-linux-gnu.so"] for name in functions}


def test_every_function_has_the_same_build_properties_so_sam_build_builds_the_package_once(template: Json) -> None:
    # Given every function of the template (one CodeUri, the Globals' runtime and architecture)
    functions = checks.resources_of_type(template, "AWS::Serverless::Function")

    # Then none sets what makes sam build resolve and install the dependencies again for it: its own Metadata
    # (checkov skips included), CodeUri, Runtime or Architectures (measured: 7 build groups took 110 s, 1 took 42 s)
    metadata = {json.dumps(template["Resources"][name].get("Metadata"), sort_keys=True) for name in functions}
    assert len(metadata) == 1
    for name in functions:
        assert not {"CodeUri", "Runtime", "Architectures"} & set(template["Resources"][name]["Properties"]), name


def test_every_checkov_skip_gives_its_reason(template: Json) -> None:
    # Given the template's checkov skips (resource Metadata)
    # When they are checked
    problems = checks.checkov_skip_problems(template)

    # Then each names a check and says why it does not apply
    assert problems == []


def test_checkov_skip_check_reports_a_skip_without_reason(template: Json) -> None:
    # Given a copy where one skip lost its comment and another names no check
    broken = fresh(template)
    skips = broken["Resources"]["NotifyFunction"]["Metadata"]["checkov"]["skip"]
    del skips[0]["comment"]
    skips[1]["id"] = "VPC"

    # When checked
    problems = checks.checkov_skip_problems(broken)

    # Then both are reported
    assert problems == [
        "NotifyFunction: skip CKV_AWS_116 does not give its reason",
        "NotifyFunction: skip 'VPC' does not name a checkov check",
    ]


def test_requirements_txt_pins_exactly_the_runtime_dependencies() -> None:
    # Given pyproject's [project] dependencies and the requirements file `sam build` packages
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["dependencies"]
    lines = (ROOT / "functions" / "requirements.txt").read_text().splitlines()

    # When the pins are compared
    requirements = [line.split("#", 1)[0].strip() for line in lines]

    # Then both list the same exact pins
    assert sorted(filter(None, requirements)) == sorted(pyproject)
    assert all("==" in pin for pin in pyproject)
