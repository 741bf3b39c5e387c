"""Event-loop lag: how late a short sleep wakes up (issue 10).

Anything that holds the event loop (a big decode, a proof check, a blocking call that should
have gone to a worker thread) delays every peer, RPC call and timer of the process by as long.
:class:`LoopLagWatchdog` measures it the way an operator feels it: it sleeps ``interval``
seconds over and over and records how much later than asked it woke up. The PeerNode runs one
as a service (every role has a PeerNode), and exports it as the metric
``trionode_event_loop_lag_seconds`` (current and max) and in the full node's status (``show``).
"""

from __future__ import annotations

import logging

import trio

__all__ = ["LoopLagWatchdog"]

logger = logging.getLogger(__name__)


class LoopLagWatchdog:
    """``current``: the lag of the last sample; ``max_recent``: the largest lag seen in the
    current and the previous ``window`` (so a spike stays visible for at least one window)."""

    def __init__(
        self, *, interval: float = 0.1, window: float = 10.0, warn_above: float = 1.0
    ) -> None:
        self.interval = interval
        self.window = window
        self.warn_above = warn_above
        self.current = 0.0
        self.samples = 0
        self._max_this = 0.0
        self._max_previous = 0.0
        self._window_start = 0.0
        self._last_warning = float("-inf")

    @property
    def max_recent(self) -> float:
        return max(self._max_this, self._max_previous)

    def as_json(self) -> dict[str, float]:
        return {"current": round(self.current, 6), "max": round(self.max_recent, 6)}

    def record(self, lag: float, now: float) -> None:
        """Take one sample (``run`` calls it; tests may too)."""
        lag = max(0.0, lag)
        if now - self._window_start >= self.window:
            self._max_previous = self._max_this if now - self._window_start < 2 * self.window else 0
            self._max_this = 0.0
            self._window_start = now
        self.current = lag
        self.samples += 1
        self._max_this = max(self._max_this, lag)
        if lag >= self.warn_above and now - self._last_warning >= self.window:
            self._last_warning = now
            logger.warning("the event loop was blocked for %.2f s", lag)

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        self._window_start = trio.current_time()
        task_status.started()
        while True:
            due = trio.current_time() + self.interval
            await trio.sleep_until(due)
            now = trio.current_time()
            self.record(now - due, now)
