"""``bedrock-finetune models``: the base models of the catalog, as a table or as JSON."""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from bedrock_finetune_cli.common import EXIT_OK

if TYPE_CHECKING:
    from bedrock_finetune.catalog import RecordBounds


def register(subparsers: argparse._SubParsersAction[Any]) -> None:
    models = subparsers.add_parser(
        "models", help="list the base models in the catalog", description="List the base models you can customize."
    )
    models.add_argument("--json", action="store_true", help="print the full catalog as one JSON array")
    models.set_defaults(func=_models_command)


def _models_command(args: argparse.Namespace) -> int:
    from bedrock_finetune.catalog import all_models  # noqa: PLC0415 - only when the catalog is listed

    specs = all_models()
    if args.json:
        print(json.dumps([spec.model_dump(mode="json") for spec in specs], indent=2))
        return EXIT_OK
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
    print(table(rows), end="")
    return EXIT_OK


def table(rows: Sequence[Sequence[str]]) -> str:
    """Columns padded to their widest cell, two spaces apart, no trailing blanks."""
    widths = [max(len(row[column]) for row in rows) for column in range(len(rows[0]))]
    return "".join(
        "  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip() + "\n" for row in rows
    )


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
