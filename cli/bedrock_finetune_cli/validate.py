"""``bedrock-finetune validate``: check a dataset with the workflow's own validator, and the report for a person.

The validator and the catalog are imported when the command runs, not when the parser is built: ``--help`` and the
other commands do not pay for them.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable, Mapping
from contextlib import ExitStack
from typing import TYPE_CHECKING, Any, BinaryIO

from bedrock_finetune_cli.common import (
    BOLD,
    EXIT_INVALID,
    EXIT_VALID,
    GREEN,
    RED,
    RESET,
    YELLOW,
    UsageError,
    colour_wanted,
    plural,
)

if TYPE_CHECKING:
    from bedrock_finetune.catalog import ModelSpec
    from bedrock_finetune.validation import DatasetSource, Issue, ValidationReport

#: bedrock_finetune.catalog.CUSTOMIZATION_TYPES, spelled out so that building the parser does not import the catalog
#: (a test checks that both agree).
CUSTOMIZATION_TYPES = ("FINE_TUNING", "CONTINUED_PRE_TRAINING")
JSON_FIELDS = {"valid", "errors", "warnings", "stats", "hyperparameters"}
#: The smoke test's prompts in the estimate: the stack's default SmokeTestPromptCount.
SMOKE_TEST_PROMPTS = 3


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    validate = subparsers.add_parser(
        "validate",
        help="check a dataset against a base model's rules",
        description="Check a JSONL dataset against a base model's rules, the same way the workflow does. "
        "Exit 0 if valid, 1 if not, 2 on usage errors.",
    )
    validate.add_argument("train", metavar="TRAIN.jsonl", help="training dataset")
    validate.add_argument("--base-model", required=True, metavar="MODEL_ID", help="see `bedrock-finetune models`")
    validate.add_argument("--validation", metavar="VAL.jsonl", help="validation dataset")
    validate.add_argument("--customization-type", choices=CUSTOMIZATION_TYPES, default="FINE_TUNING")
    validate.add_argument(
        "--hyperparameters", nargs="+", default=[], metavar="KEY=VALUE", help="e.g. epochCount=3 learningRate=1e-5"
    )
    validate.add_argument(
        "--region",
        metavar="REGION",
        help="Region whose prices to use (default: the model's first customization Region)",
    )
    validate.add_argument(
        "--deployment",
        choices=("auto", "provisioned", "on-demand", "none"),
        default="auto",
        help="how the model would be deployed, for the cost estimate (default: auto, as the stack's default)",
    )
    validate.add_argument("--model-units", type=int, default=1, metavar="N", help="provisioned model units (default 1)")
    validate.add_argument(
        "--price-overrides", metavar="JSON", help="negotiated prices, e.g. '{\"amazon.nova-micro-v1:0\": {...}}'"
    )
    validate.add_argument("--json", action="store_true", help="print exactly one JSON object")
    validate.set_defaults(func=_validate_command)


def _validate_command(args: argparse.Namespace) -> int:
    report = validate_files(
        args.train,
        args.validation,
        model_id=args.base_model,
        customization_type=args.customization_type,
        hyperparameters=parse_hyperparameters(args.hyperparameters),
    )
    priced = estimate_cost(report, args) if report.valid else None
    if args.json:
        document = report_json(report)
        if priced is not None:
            document["cost"] = priced[0].model_dump(mode="json")
            document["runEstimate"] = priced[1].model_dump(mode="json")
        print(json.dumps(document, indent=2))
    else:
        print(render_report(report, colour=colour_wanted(sys.stdout)), end="")
        if priced is not None:
            from bedrock_finetune import cost  # noqa: PLC0415

            print("\nCost estimate")
            print("\n".join(f"  {line}" for line in cost.render(*priced).splitlines()))
    return EXIT_VALID if report.valid else EXIT_INVALID


def estimate_cost(report: ValidationReport, args: argparse.Namespace) -> tuple[Any, Any] | None:
    """The run's cost from the report's token estimate and the catalog's prices (as ValidateDataset prices it):
    (training and deployment prices, the run's estimate). None when the model has no prices for the Region."""
    from bedrock_finetune import cost  # noqa: PLC0415
    from bedrock_finetune.catalog import get_model  # noqa: PLC0415
    from bedrock_finetune.errors import ConfigInvalid  # noqa: PLC0415
    from bedrock_finetune.logic.estimate import price  # noqa: PLC0415

    spec = get_model(report.model_id)
    try:
        overrides = cost.parse_overrides(args.price_overrides)
    except ConfigInvalid as error:
        raise UsageError(f"--price-overrides: {error}") from error
    try:
        return price(
            model_id=spec.id,
            region=args.region or spec.regions[0],
            estimated_tokens=int(report.stats.tokens.total),
            hyper_parameters=dict(report.hyperparameters or {}),
            deployment_mode=args.deployment,
            model_units=args.model_units,
            smoke_prompts=SMOKE_TEST_PROMPTS,
            records=sum(item.records for item in report.stats.files if item.role == "train"),
            overrides=overrides,
        )
    except ConfigInvalid as error:
        print(f"No cost estimate: {error}", file=sys.stderr)
        return None


def validate_files(
    train_path: str,
    validation_path: str | None,
    *,
    model_id: str,
    customization_type: str,
    hyperparameters: Mapping[str, str | int | float] | None = None,
) -> ValidationReport:
    """The workflow's validation of local files; UsageError for an unknown model or an unreadable file."""
    from bedrock_finetune.validation import validate_dataset  # noqa: PLC0415 - only when a dataset is checked

    spec = model(model_id, customization_type)
    with ExitStack() as stack:
        train = _open_source(stack, train_path)
        validation = _open_source(stack, validation_path) if validation_path else None
        try:
            return validate_dataset(
                train=train,
                model=spec,
                customization_type=customization_type,
                validation=validation,
                hyperparameters=hyperparameters,
            )
        except OSError as error:
            raise UsageError(f"cannot read the dataset: {error.strerror or error}") from error


def report_json(report: ValidationReport) -> dict[str, Any]:
    """The report as ``validate --json`` prints it."""
    dumped: dict[str, Any] = report.model_dump(mode="json", include=JSON_FIELDS)
    return dumped


def model(model_id: str, customization_type: str) -> ModelSpec:
    """The model, if it exists and supports the customization type (UnknownModelError is a ConfigInvalid)."""
    from bedrock_finetune.catalog import get_model  # noqa: PLC0415
    from bedrock_finetune.errors import ConfigInvalid  # noqa: PLC0415

    try:
        spec = get_model(model_id)
        spec.customization(customization_type)
    except ConfigInvalid as error:
        raise UsageError(str(error)) from error
    return spec


def parse_hyperparameters(pairs: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise UsageError(f"--hyperparameters expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def _open_source(stack: ExitStack, path: str) -> DatasetSource:
    from bedrock_finetune.validation import DatasetSource  # noqa: PLC0415

    try:
        stream: BinaryIO = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by the ExitStack
        size = os.fstat(stream.fileno()).st_size
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error
    return DatasetSource(name=path, stream=stream, size=size)


# --- the report for a person ---------------------------------------------------------------------------------------
def render_report(report: ValidationReport, *, colour: bool = False) -> str:
    """The report for a person: verdict, errors and warnings grouped by code with their lines, then statistics."""
    paint = _painter(colour)
    errors, warnings = sum(report.error_counts.values()), sum(report.warning_counts.values())
    verdict = paint("VALID", GREEN) if report.valid else paint("INVALID", RED)
    lines = [
        f"{paint(verdict, BOLD)}  {plural(errors, 'error')}, {plural(warnings, 'warning')}",
        f"model    {report.model_id}, {report.customization_type}",
        *(f"{file.role:<8} {file.name}" for file in report.stats.files),
    ]
    lines += _issue_section("Errors", report.errors, report.error_counts, paint, RED)
    lines += _issue_section("Warnings", report.warnings, report.warning_counts, paint, YELLOW)
    lines += ["", paint("Statistics", BOLD), *_statistics(report)]
    return "\n".join(lines) + "\n"


def _issue_section(
    title: str, issues: list[Issue], counts: dict[str, int], paint: Callable[[str, str], str], code_colour: str
) -> list[str]:
    from bedrock_finetune.validation.codes import DESCRIPTIONS  # noqa: PLC0415

    if not counts:
        return []
    lines = ["", paint(title, BOLD)]
    for code, count in counts.items():
        listed = [issue for issue in issues if issue.code == code]
        lines.append(f"  {paint(code, code_colour)} ({count}): {DESCRIPTIONS.get(code, '')}")
        for issue in listed:
            where = issue.file or "run"
            if issue.line is not None:
                where += f":{issue.line}"
            path = f"  [{issue.path}]" if issue.path else ""
            lines.append(f"    {where}  {issue.message}{path}")
        if count > len(listed):
            lines.append(f"    ... and {count - len(listed)} more")
    return lines


def _statistics(report: ValidationReport) -> list[str]:
    stats = report.stats
    lines = [
        f"  {file.role:<10} {file.records:,} records, {file.bytes:,} bytes, sha256 {file.sha256 or '(not read)'}"
        for file in stats.files
    ]
    tokens = stats.tokens
    lines.append(
        f"  tokens     {tokens.total:,} estimated ({tokens.estimator}); per record p50 {tokens.p50:,}, "
        f"p95 {tokens.p95:,}, max {tokens.max:,}"
    )
    if stats.turns is not None:
        lines.append(f"  turns      {stats.turns.min} to {stats.turns.max} per record, mean {stats.turns.mean}")
    if stats.estimated_billable_tokens is not None:
        lines.append(f"  billable   about {stats.estimated_billable_tokens:,} tokens ({stats.epochs} epochs)")
    if report.hyperparameters:
        lines.append("  hyperparameters " + " ".join(f"{k}={v}" for k, v in report.hyperparameters.items()))
    return lines


def _painter(colour: bool) -> Callable[[str, str], str]:
    def paint(text: str, style: str) -> str:
        return f"{style}{text}{RESET}" if colour else text

    return paint
