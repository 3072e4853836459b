"""``bedrock-finetune``: validate a dataset on your machine with the workflow's own validator, list the catalog.

Exit codes: 0 valid, 1 invalid dataset or hyperparameters, 2 usage error (unknown model, unreadable file, bad
arguments; the reason goes to stderr). Every subcommand sets ``func`` (``set_defaults(func=...)``), a function of
the parsed arguments that returns the exit code; other modules add subcommands through ``register(subparsers)``.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from collections.abc import Callable
from contextlib import ExitStack
from typing import BinaryIO, TextIO

from bedrock_finetune.catalog import CUSTOMIZATION_TYPES, ModelSpec, RecordBounds, all_models, get_model
from bedrock_finetune.errors import ConfigInvalid
from bedrock_finetune.validation import DatasetSource, Issue, ValidationReport, validate_dataset
from bedrock_finetune.validation.codes import DESCRIPTIONS

EXIT_VALID, EXIT_INVALID, EXIT_USAGE = 0, 1, 2
PROG = "bedrock-finetune"
_JSON_FIELDS = {"valid", "errors", "warnings", "stats", "hyperparameters"}
_RED, _GREEN, _YELLOW, _BOLD, _RESET = "\033[31m", "\033[32m", "\033[33m", "\033[1m", "\033[0m"


class UsageError(Exception):
    """A reason to exit with code 2."""


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exit_request:  # argparse exits 2 on bad arguments, 0 after --help
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    command: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    try:
        return command(args)
    except UsageError as error:
        print(f"{PROG}: error: {error}", file=sys.stderr)
        return EXIT_USAGE


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=PROG, description="Amazon Bedrock fine-tuning, validated before it costs.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    _add_validate(subparsers)
    _add_models(subparsers)
    _register_extensions(subparsers)
    return parser


def _register_extensions(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Subcommands that live in other modules (``local run``, ``demo``), when they are installed."""
    try:
        from bedrock_finetune_local import cli_local  # noqa: PLC0415 - optional module
    except ImportError:
        return
    cli_local.register(subparsers)


# --- validate ------------------------------------------------------------------------------------------------------
def _add_validate(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
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
    validate.add_argument("--json", action="store_true", help="print exactly one JSON object")
    validate.set_defaults(func=_validate_command)


def _validate_command(args: argparse.Namespace) -> int:
    spec = _model(args.base_model, args.customization_type)
    overrides = _parse_hyperparameters(args.hyperparameters)
    with ExitStack() as stack:
        train = _open_source(stack, args.train)
        validation = _open_source(stack, args.validation) if args.validation else None
        try:
            report = validate_dataset(
                train=train,
                model=spec,
                customization_type=args.customization_type,
                validation=validation,
                hyperparameters=overrides,
            )
        except OSError as error:
            raise UsageError(f"cannot read the dataset: {error.strerror or error}") from error
    if args.json:
        print(json.dumps(report.model_dump(mode="json", include=_JSON_FIELDS), indent=2))
    else:
        print(render_report(report, colour=_colour_wanted(sys.stdout)), end="")
    return EXIT_VALID if report.valid else EXIT_INVALID


def _model(model_id: str, customization_type: str) -> ModelSpec:
    """The model, if it exists and supports the customization type (UnknownModelError is a ConfigInvalid)."""
    try:
        spec = get_model(model_id)
        spec.customization(customization_type)
    except ConfigInvalid as error:
        raise UsageError(str(error)) from error
    return spec


def _parse_hyperparameters(pairs: list[str]) -> dict[str, str]:
    overrides: dict[str, str] = {}
    for pair in pairs:
        key, separator, value = pair.partition("=")
        if not separator or not key.strip():
            raise UsageError(f"--hyperparameters expects KEY=VALUE, got {pair!r}")
        overrides[key.strip()] = value.strip()
    return overrides


def _open_source(stack: ExitStack, path: str) -> DatasetSource:
    try:
        stream: BinaryIO = stack.enter_context(open(path, "rb"))  # noqa: SIM115 - closed by the ExitStack
        size = os.fstat(stream.fileno()).st_size
    except OSError as error:
        raise UsageError(f"cannot read {path}: {error.strerror or error}") from error
    return DatasetSource(name=path, stream=stream, size=size)


def _colour_wanted(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


def render_report(report: ValidationReport, *, colour: bool = False) -> str:
    """The report for a person: verdict, errors and warnings grouped by code with their lines, then statistics."""
    paint = _painter(colour)
    errors, warnings = sum(report.error_counts.values()), sum(report.warning_counts.values())
    verdict = paint("VALID", _GREEN) if report.valid else paint("INVALID", _RED)
    lines = [
        f"{paint(verdict, _BOLD)}  {_plural(errors, 'error')}, {_plural(warnings, 'warning')}",
        f"model    {report.model_id}, {report.customization_type}",
        *(f"{file.role:<8} {file.name}" for file in report.stats.files),
    ]
    lines += _issue_section("Errors", report.errors, report.error_counts, paint, _RED)
    lines += _issue_section("Warnings", report.warnings, report.warning_counts, paint, _YELLOW)
    lines += ["", paint("Statistics", _BOLD), *_statistics(report)]
    return "\n".join(lines) + "\n"


def _issue_section(
    title: str, issues: list[Issue], counts: dict[str, int], paint: Callable[[str, str], str], code_colour: str
) -> list[str]:
    if not counts:
        return []
    lines = ["", paint(title, _BOLD)]
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
        return f"{style}{text}{_RESET}" if colour else text

    return paint


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"


# --- models --------------------------------------------------------------------------------------------------------
def _add_models(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    models = subparsers.add_parser(
        "models", help="list the base models in the catalog", description="List the base models you can customize."
    )
    models.add_argument("--json", action="store_true", help="print the full catalog as one JSON array")
    models.set_defaults(func=_models_command)


def _models_command(args: argparse.Namespace) -> int:
    specs = all_models()
    if args.json:
        print(json.dumps([spec.model_dump(mode="json") for spec in specs], indent=2))
        return EXIT_VALID
    rows = [("MODEL ID", "CUSTOMIZATION", "FORMAT", "RECORDS", "DEPLOYMENT")]
    for spec in specs:
        for customization_type, customization in spec.customizations.items():
            rows.append(
                (
                    spec.id,
                    customization_type,
                    customization.dataset_format,
                    _bounds_text(customization.records, validation=customization.validation_allowed),
                    ", ".join(spec.deployment_modes),
                )
            )
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    for row in rows:
        print("  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip())
    return EXIT_VALID


def _bounds_text(bounds: RecordBounds, *, validation: bool) -> str:
    parts = [
        _range("train", bounds.train_min, bounds.train_max),
        _range("validation", bounds.validation_min, bounds.validation_max) if validation else "no validation",
        _range("total", bounds.combined_min, bounds.combined_max),
    ]
    return "; ".join(part for part in parts if part) or "not stated"


def _range(label: str, low: int | None, high: int | None) -> str:
    if low is None and high is None:
        return ""
    if high is None:
        return f"{label} >= {low:,}"
    return f"{label} <= {high:,}" if low is None else f"{label} {low:,}-{high:,}"
