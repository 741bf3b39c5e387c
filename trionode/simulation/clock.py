"""The simulator's virtual clock: time stands still while any task can run, and jumps straight
to the next deadline when none can.

That is what ``trio.testing.MockClock(autojump_threshold=0)`` does, one pass of trio's run loop
sooner: MockClock notices the loop is idle only after a pass that waits for I/O with a zero
timeout and finds nothing, jumps, and the next pass expires the deadlines; this clock jumps
when trio asks how long to wait for the next deadline (asked only when no task is runnable),
so the same pass expires them. A run has one such pass per distinct wake-up time (each
message's arrival is one), tens of thousands of them; the order tasks run in is unchanged, so
a seed's event log is the same under either clock.
"""

from __future__ import annotations

import math

import trio

#: Real seconds to wait when no deadline is set and nothing can run (only a worker thread or
#: I/O can wake the loop then; the simulator has neither, so this is a hang's poll interval).
_IDLE_WAIT = 0.05


class JumpingClock(trio.abc.Clock):
    """Virtual seconds from 0; see the module docstring."""

    def __init__(self) -> None:
        self._now = 0.0

    def start_clock(self) -> None:
        pass

    def current_time(self) -> float:
        return self._now

    def deadline_to_sleep_time(self, deadline: float) -> float:
        if deadline <= self._now:
            return 0.0
        if math.isinf(deadline):
            return _IDLE_WAIT
        self._now = deadline
        return 0.0
