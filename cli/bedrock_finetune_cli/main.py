"""The ``bedrock-finetune`` parser and dispatcher.

Every subcommand sets ``func`` (``set_defaults(func=...)``), a function of the parsed arguments that returns the exit
code (see :mod:`bedrock_finetune_cli.common`); modules add subcommands through ``register(subparsers)``. Building the
parser imports no catalog, no validator, no boto3 and no moto: each command imports what it needs when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, NoReturn

from bedrock_finetune_cli import catalog, validate
from bedrock_finetune_cli.common import EXIT_USAGE, PROG, UsageError
from bedrock_finetune_cli.stack import commands as stack_commands


class ArgumentsRejected(Exception):
    """argparse refused the command line (raised instead of argparse's exit, so that ``--json`` can answer)."""

    def __init__(self, parser: argparse.ArgumentParser, message: str) -> None:
        super().__init__(message)
        self.parser = parser
        self.message = message


class Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors raise :class:`ArgumentsRejected`; subparsers inherit the class."""

    def error(self, message: str) -> NoReturn:
        raise ArgumentsRejected(self, message)


def main(argv: Sequence[str] | None = None) -> int:
    arguments = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(arguments)
    try:
        args = parser.parse_args(arguments)
    except ArgumentsRejected as rejected:
        rejected.parser.print_usage(sys.stderr)
        return usage_error(rejected.message, json_wanted="--json" in arguments, prog=rejected.parser.prog)
    except SystemExit as exit_request:  # argparse exits 0 after --help
        return exit_request.code if isinstance(exit_request.code, int) else EXIT_USAGE
    command: Callable[[argparse.Namespace], int] | None = getattr(args, "func", None)
    if command is None:
        parser.print_help(sys.stderr)
        return EXIT_USAGE
    json_wanted = bool(getattr(args, "json", False))
    try:
        _check_text_files(args)
        return command(args)
    except UsageError as error:
        return usage_error(str(error), json_wanted=json_wanted)
    except UnicodeDecodeError as error:
        return usage_error(f"a file given is not UTF-8 text ({error.reason} at byte {error.start})", json_wanted)


def usage_error(message: str, json_wanted: bool, prog: str = PROG) -> int:
    """The reason on stderr; with ``--json`` also exactly one JSON object on stdout."""
    print(f"{prog}: error: {message}", file=sys.stderr)
    if json_wanted:
        print(json.dumps({"error": message, "exitCode": EXIT_USAGE}))
    return EXIT_USAGE


def build_parser(argv: Sequence[str] | None = None) -> argparse.ArgumentParser:
    """The whole parser; given the command line, without the extensions' subcommands when it names one of ours
    (they are not needed then, and importing them costs start-up time)."""
    parser = Parser(prog=PROG, description="Amazon Bedrock fine-tuning, validated before it costs.")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    validate.register(subparsers)
    catalog.register(subparsers)
    stack_commands.register(subparsers)
    command = next((token for token in argv or [] if not token.startswith("-")), None)
    if argv is None or command not in subparsers.choices:
        _register_extensions(subparsers)
    return parser


def _register_extensions(subparsers: argparse._SubParsersAction[Any]) -> None:
    """Subcommands that live in other modules (``local run``, ``demo``), when they are installed. Registering them
    imports neither moto nor the local runner (tests/unit/test_cli_startup.py)."""
    try:
        from bedrock_finetune_local import cli_local  # noqa: PLC0415 - optional module
    except ImportError:
        return
    cli_local.register(subparsers)


#: Options whose files the commands read as text (``local run --config``, ``--then``): checked to be UTF-8 first, so
#: that a file in another encoding is a usage error that names it, not a traceback.
_TEXT_FILE_OPTIONS = ("config", "then")


def _check_text_files(args: argparse.Namespace) -> None:
    for option in _TEXT_FILE_OPTIONS:
        value = getattr(args, option, None)
        for path in value if isinstance(value, list) else [value]:
            if not isinstance(path, Path):
                continue
            try:
                data = path.read_bytes()
            except OSError:
                continue  # the command says what is wrong with a missing or unreadable file
            try:
                data.decode("utf-8")
            except UnicodeDecodeError as error:
                raise UsageError(
                    f"--{option} {path}: not UTF-8 text ({error.reason} at byte {error.start}); save it as UTF-8"
                ) from None
