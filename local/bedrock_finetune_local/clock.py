"""The local AWS's virtual clock: simulated time that runs at wall-clock speed and jumps ahead whenever everything
that could act is waiting for a moment in the future.

A 4-hour training job, a 15-minute poll interval or a 10-minute provisioned-throughput creation therefore takes a
few milliseconds of wall time, while the order of events, the number of polls and every duration the workflow sees
are the ones a real account would produce.

* ``now()`` is the wall clock plus every jump taken so far. Step Functions' history, the local Bedrock's
  lifecycles and the handlers' ``bedrock_finetune.clock`` all read it.
* A *waiter* is a thread blocked until a simulated deadline or an event (Wait states, Retry backoff, a Task's
  timeout, ``.waitForTaskToken`` callbacks and heartbeats): ``wait_for(predicate, seconds)``.
* *Busy* work must not see time jump under it: a Lambda invocation, a Task's worker thread, a timer callback, the
  runner dropping several files "at the same moment" (``busy()``). A busy thread that starts waiting is not busy
  while it waits.
* The clock jumps to the earliest deadline (a waiter's or a timer's) only when at least one waiter has a finite
  deadline, nothing is busy, no waiter is about to resume (its event is set) and nothing happened for
  ``QUIET_SECONDS`` of wall time (the interpreter's own steps between two states are short CPU work that marks
  activity through the history it writes).
* Timers (``call_at``) are how services act on their own at a simulated moment: the local Bedrock finishes a job
  and publishes its state change event when the clock reaches the job's end.

With nothing waiting, time only flows at wall speed: a test that drives handlers directly moves it with
``advance()``.
"""

from __future__ import annotations

import heapq
import itertools
import logging
import os
import sys
import threading
import time
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime

__all__ = ["CLOCK", "VirtualClock", "VirtualEvent"]

LOGGER = logging.getLogger(__name__)

#: Wall time with no activity before the clock may jump.
QUIET_SECONDS = 0.015
#: Wall time with waiters, busy work and no activity after which the clock reports a stall (it never jumps while
#: anything is busy): a busy thread blocked somewhere the clock does not know about would show here.
STALL_SECONDS = 30.0
_FOREVER = float("inf")


@dataclass(eq=False)
class _Waiter:
    deadline: float
    ready: Callable[[], bool]


@dataclass
class ClockStats:
    jumps: int = 0
    jumped_seconds: float = 0.0
    #: Stalls reported: busy work with no activity for STALL_SECONDS (0 in a healthy run).
    stalls: int = 0
    timers_fired: int = 0


@dataclass(order=True)
class _Timer:
    when: float
    sequence: int
    callback: Callable[[], None] = field(compare=False)
    name: str = field(compare=False, default="")


class VirtualClock:
    def __init__(self) -> None:
        self._condition = threading.Condition()
        self._offset = 0.0
        self._waiters: set[_Waiter] = set()
        self._timers: list[_Timer] = []
        self._sequence = itertools.count()
        self._busy = 0
        self._local = threading.local()
        self._last_activity = time.monotonic()
        self._thread: threading.Thread | None = None
        self._stall_reported = 0.0
        #: One thread at a time runs timers (the clock's, or a test's ``advance``).
        self._firing = threading.RLock()
        self.stats = ClockStats()

    # ---- reading -----------------------------------------------------------------------------------------------
    def now(self) -> float:
        """Simulated seconds since the epoch."""
        return time.time() + self._offset

    def datetime(self) -> datetime:
        return datetime.fromtimestamp(self.now(), UTC)

    # ---- activity and busy work -------------------------------------------------------------------------------
    def touch(self) -> None:
        """Something happened (a history event, a request): postpone the next jump by QUIET_SECONDS."""
        self._last_activity = time.monotonic()

    def _depth(self) -> int:
        return int(getattr(self._local, "depth", 0))

    @contextmanager
    def busy(self) -> Iterator[None]:
        """Work that must see no jump while it runs (re-entrant per thread)."""
        with self._condition:
            self._busy += 1
        self._local.depth = self._depth() + 1
        self.touch()
        try:
            yield
        finally:
            self._local.depth = self._depth() - 1
            self.touch()
            with self._condition:
                self._busy -= 1
                self._condition.notify_all()

    # ---- waiting -----------------------------------------------------------------------------------------------
    def wait_for(self, ready: Callable[[], bool], seconds: float | None) -> bool:
        """Block until ``ready()`` or until ``seconds`` of simulated time have passed (None: no deadline).
        Returns ``ready()``. The calling thread's busy work is suspended while it waits."""
        deadline = _FOREVER if seconds is None else self.now() + max(0.0, seconds)
        waiter = _Waiter(deadline, ready)
        depth = self._depth()
        with self._condition:
            self._busy -= depth
            self._waiters.add(waiter)
            self.touch()
            self._ensure_thread()
            self._condition.notify_all()
            try:
                while not ready():
                    remaining = deadline - self.now()
                    if remaining <= 0:
                        return ready()
                    self._condition.wait(min(remaining, 3600.0))
                return True
            finally:
                self._waiters.discard(waiter)
                self._busy += depth
                self.touch()

    def sleep(self, seconds: float) -> None:
        self.wait_for(lambda: False, seconds)

    def notify(self) -> None:
        """An event a waiter may be waiting for was set."""
        self.touch()
        with self._condition:
            self._condition.notify_all()

    # ---- timers -------------------------------------------------------------------------------------------------
    def call_at(self, when: float, callback: Callable[[], None], name: str = "") -> None:
        """Run ``callback`` (busy) once simulated time reaches ``when``: on the clock's thread, or in ``advance``."""
        with self._condition:
            heapq.heappush(self._timers, _Timer(when, next(self._sequence), callback, name))
            self._ensure_thread()
            self._condition.notify_all()

    def advance(self, seconds: float) -> None:
        """Jump ``seconds`` ahead now, stopping at each timer that falls due on the way to run it at its moment (tests
        that drive services directly). Returns once every due timer has run."""
        with self._firing:
            target = self.now() + seconds
            while True:
                with self._condition:
                    if not self._timers or self._timers[0].when > target:
                        self._jump(target)
                        return
                    self._jump(self._timers[0].when)
                self._fire_due_timers()

    def reset(self) -> None:
        """Forget pending timers and counters (a new local account); time keeps its offset."""
        with self._condition:
            self._timers.clear()
            self.stats = ClockStats()

    # ---- the clock's thread -------------------------------------------------------------------------------------
    def _ensure_thread(self) -> None:
        if self._thread is None or not self._thread.is_alive():
            self._thread = threading.Thread(target=self._run, name="virtual-clock", daemon=True)
            self._thread.start()

    def _jump(self, target: float) -> None:
        gap = target - self.now()
        if gap > 0:
            self._offset += gap
            self.stats.jumps += 1
            self.stats.jumped_seconds += gap
        self._last_activity = time.monotonic()
        self._condition.notify_all()

    def _next_target(self) -> float:
        deadlines = [waiter.deadline for waiter in self._waiters]
        if self._timers:
            deadlines.append(self._timers[0].when)
        return min(deadlines, default=_FOREVER)

    def _may_jump(self) -> bool:
        if not any(waiter.deadline < _FOREVER for waiter in self._waiters):
            return False
        if any(waiter.ready() for waiter in self._waiters):
            return False
        quiet = time.monotonic() - self._last_activity
        if self._busy > 0:
            # Busy work that is merely slow (a loaded machine) must not see time jump under it; busy work that is
            # stuck would hang the run until the runner's wall-clock timeout, so say so, once per stall.
            if quiet >= STALL_SECONDS and self._last_activity != self._stall_reported:
                self._stall_reported = self._last_activity
                self.stats.stalls += 1
                LOGGER.warning("virtual clock: %d busy, no activity for %.1f s; not jumping", self._busy, quiet)
                if os.environ.get("BEDROCK_FINETUNE_CLOCK_DEBUG"):
                    for ident, frame in sys._current_frames().items():
                        LOGGER.warning("thread %s:\n%s", ident, "".join(traceback.format_stack(frame)[-40:]))
            return False
        return quiet >= QUIET_SECONDS

    def _run(self) -> None:
        while True:
            with self._condition:
                self._condition.wait(QUIET_SECONDS / 3)
                if self._may_jump():
                    target = self._next_target()
                    if target < _FOREVER:
                        self._jump(target)
            self._fire_due_timers()

    def _fire_due_timers(self) -> None:
        """Run the timers that are due, one at a time and in time order, whichever thread asks (the clock's own, or
        a test's ``advance``)."""
        with self._firing:
            while True:
                with self._condition:
                    if not self._timers or self._timers[0].when > self.now():
                        return
                    timer = heapq.heappop(self._timers)
                    self.stats.timers_fired += 1
                with self.busy():
                    try:
                        timer.callback()
                    except Exception:
                        LOGGER.exception("virtual clock: timer %s failed", timer.name or timer.callback)


CLOCK = VirtualClock()


class VirtualEvent(threading.Event):
    """A ``threading.Event`` whose timed waits are in simulated time and whose waits suspend busy work."""

    def set(self) -> None:
        super().set()
        CLOCK.notify()

    def wait(self, timeout: float | None = None) -> bool:
        if self.is_set():
            return True
        return CLOCK.wait_for(self.is_set, timeout)
