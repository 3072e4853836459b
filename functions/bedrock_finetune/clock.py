"""The time as the functions read it.

On AWS this is the system clock. The local AWS runs the same handlers on a virtual clock (simulated time that jumps
ahead while everything waits) and points :data:`source` at it; nothing else changes it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime

__all__ = ["epoch", "now", "sleep", "use"]

#: Seconds since the epoch.
source: Callable[[], float] = time.time
#: Pause the calling thread (a Lambda waiting for a resource to settle).
sleeper: Callable[[float], None] = time.sleep


def now() -> datetime:
    return datetime.fromtimestamp(source(), UTC)


def epoch() -> float:
    return source()


def sleep(seconds: float) -> None:
    sleeper(seconds)


def use(reader: Callable[[], float], pause: Callable[[float], None]) -> None:
    """Read the time from ``reader`` and pause with ``pause`` from now on (the local AWS's virtual clock)."""
    global source, sleeper
    source, sleeper = reader, pause
