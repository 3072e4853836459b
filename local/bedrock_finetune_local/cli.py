"""Moved: the command line is the package ``bedrock_finetune_cli`` (``cli/``). This module re-exports what it used to
define, for code and tests that still import it from here."""

from __future__ import annotations

from bedrock_finetune_cli.common import EXIT_INVALID, EXIT_USAGE, EXIT_VALID, PROG, UsageError
from bedrock_finetune_cli.main import build_parser, main
from bedrock_finetune_cli.validate import render_report

__all__ = ["EXIT_INVALID", "EXIT_USAGE", "EXIT_VALID", "PROG", "UsageError", "build_parser", "main", "render_report"]
