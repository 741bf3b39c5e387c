"""Pool state kept in memory: recent challenges, per-farmer rate windows and difficulty windows.
No I/O; the store (``trionode.storage.pool_store``) keeps what must survive a restart.

Difficulty (docs/protocol.md 5.4): each farmer has a window of ``WINDOW_INTERVALS`` target
intervals (3600 / target s each, so ~``WINDOW_INTERVALS`` partials on target). When it has run
its time (checked at each accepted partial and by the pool's maintenance loop), the partials
counted in it give the observed rate; the difficulty is scaled by ``sqrt(observed / target)``,
the ratio first clamped to [1/``MAX_STEP``, ``MAX_STEP``], never below 1, and the window restarts.
Measured (scripts/bench_pool_partials.py, target 1800/h): windows closed on a count of 12
partials swung the difficulty 5 <-> 26 (1389/h); 20 partials with a minimum duration and full
steps 5 <-> 16 (1609/h); with square-root steps 7 <-> 11 but 1534/h, because a window closed on
an arrival, right after a burst (one challenge answered by several plots, several tips'
challenges at once), reads the rate too high. Fixed-duration windows have no such bias:
1853/h against the 1800/h target. A
farmer's expected partials per hour are ``challenges/hour * space/difficulty`` (consensus.pool),
so the new difficulty puts it back on target whatever its space.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import attrs

from trionode.wire import bytes32

#: A difficulty window lasts this many target intervals (the estimate's error ~1/sqrt(N)).
WINDOW_INTERVALS = 20
#: The observed/target ratio is clamped to this either way...
MAX_STEP = 4.0
#: ... and only this power of it applied (half the step in log scale): the partials of one
#: challenge arrive together, so a window's count is noisier than a Poisson count.
DAMPING = 0.5
#: Recent challenges remembered (far more than partial_max_depth heights of tips).
MAX_CHALLENGES = 256


@attrs.frozen
class ChallengeInfo:
    height: int
    first_seen: float


@attrs.define
class FarmerWindow:
    """In-memory per-farmer counters (rebuilt after a restart from the store's difficulty)."""

    difficulty: int
    previous_difficulty: int
    changed_at: float
    window_start: float
    window_count: int = 0
    rate_start: float = 0.0
    rate_count: int = 0


@attrs.define
class PoolState:
    target_partials_per_hour: int
    max_partials_per_minute: int
    partial_max_depth: int
    partial_max_age: float
    challenges: collections.OrderedDict[bytes32, ChallengeInfo] = attrs.field(
        factory=collections.OrderedDict
    )
    peak_height: int = -1
    windows: dict[bytes, FarmerWindow] = attrs.field(factory=dict)

    # -- challenges ----------------------------------------------------------------------

    def add_challenge(self, challenge: bytes32, height: int, now: float) -> bool:
        if challenge in self.challenges:
            return False
        self.challenges[challenge] = ChallengeInfo(height, now)
        while len(self.challenges) > MAX_CHALLENGES:
            self.challenges.popitem(last=False)
        self.peak_height = max(self.peak_height, height)
        return True

    def freshness(self, challenge: bytes32, now: float) -> tuple[str | None, ChallengeInfo | None]:
        """(None, info) for a fresh challenge, else ("unknown" | "stale", info)."""
        info = self.challenges.get(challenge)
        if info is None:
            return "unknown", None
        if info.height < self.peak_height - self.partial_max_depth:
            return "stale", info
        if now - info.first_seen > self.partial_max_age:
            return "stale", info
        return None, info

    # -- farmers -------------------------------------------------------------------------

    def window(self, farmer_pk: bytes, difficulty: int, now: float) -> FarmerWindow:
        w = self.windows.get(farmer_pk)
        if w is None:
            w = FarmerWindow(difficulty, difficulty, now, now, 0, now, 0)
            self.windows[farmer_pk] = w
        return w

    def rate_ok(self, w: FarmerWindow, now: float) -> bool:
        """Count one partial in the per-minute window; False beyond the limit."""
        if now - w.rate_start >= 60.0:
            w.rate_start, w.rate_count = now, 0
        w.rate_count += 1
        return w.rate_count <= self.max_partials_per_minute

    def passing_difficulties(self, w: FarmerWindow, now: float) -> list[int]:
        """Difficulties a partial may pass: the current one, and the previous one while partials
        made before the farmer heard of a change can still arrive (partial_max_age)."""
        if w.previous_difficulty != w.difficulty and now - w.changed_at <= self.partial_max_age:
            return sorted({w.difficulty, w.previous_difficulty}, reverse=True)
        return [w.difficulty]

    def expected_interval(self) -> float:
        return 3600.0 / max(1, self.target_partials_per_hour)

    def window_seconds(self) -> float:
        return WINDOW_INTERVALS * self.expected_interval()

    def on_accepted(self, w: FarmerWindow, now: float) -> int | None:
        """Count an accepted partial; the new difficulty if its window closed with a change.
        A partial arriving after the window's end starts the next window (uncounted: counting
        it would bias the rate of windows that close on arrivals)."""
        if now - w.window_start >= self.window_seconds():
            return self._close_window(w, now)
        w.window_count += 1
        return None

    def restart_window(self, w: FarmerWindow, now: float) -> None:
        """A farmer (re)joined: what it did not send while away is not a rate."""
        w.window_start, w.window_count = now, 0

    def slow_farmers(self, now: float, active: set[bytes]) -> Iterator[tuple[bytes, int]]:
        """Close the windows of ``active`` farmers that have run their time without a partial
        to close them: (farmer key, new difficulty) for each that changed."""
        for farmer_pk, w in self.windows.items():
            if farmer_pk in active and now - w.window_start >= self.window_seconds():
                new = self._close_window(w, now)
                if new is not None:
                    yield farmer_pk, new

    def _close_window(self, w: FarmerWindow, now: float) -> int | None:
        elapsed = max(now - w.window_start, 1e-3)
        rate = w.window_count * 3600.0 / elapsed
        factor = rate / max(1, self.target_partials_per_hour)
        factor = min(MAX_STEP, max(1.0 / MAX_STEP, factor)) ** DAMPING
        new = max(1, round(w.difficulty * factor))
        w.window_start, w.window_count = now, 0
        if new == w.difficulty:
            return None
        w.previous_difficulty, w.difficulty, w.changed_at = w.difficulty, new, now
        return new
