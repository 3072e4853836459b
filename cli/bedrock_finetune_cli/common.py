"""What every subcommand shares: exit codes, the usage error, colour.

Exit codes: 0 success (a valid dataset, a run that succeeded), 1 a negative answer (an invalid dataset or
hyperparameters, a run that failed), 2 usage error (bad arguments, an unreadable file, an unknown model, and any error
from AWS: no credentials, no such stack, access denied, endpoint unreachable); the reason goes to stderr as one line,
and with ``--json`` also to stdout as ``{"error": "...", "exitCode": 2}``.
"""

from __future__ import annotations

import os
from typing import TextIO

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2
EXIT_VALID, EXIT_INVALID = EXIT_OK, EXIT_FAILED
EXIT_INTERRUPTED = 130  # Ctrl-C while following a run: the run itself goes on
PROG = "bedrock-finetune"
RED, GREEN, YELLOW, DIM, BOLD, RESET = "\033[31m", "\033[32m", "\033[33m", "\033[2m", "\033[1m", "\033[0m"


class UsageError(Exception):
    """A reason to exit with code 2."""


def colour_wanted(stream: TextIO) -> bool:
    return stream.isatty() and not os.environ.get("NO_COLOR")


def paint(text: str, style: str, on: bool) -> str:
    return f"{style}{text}{RESET}" if on else text


def plural(count: int, noun: str) -> str:
    return f"{count} {noun}" if count == 1 else f"{count} {noun}s"
