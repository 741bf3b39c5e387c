"""Pool state kept in memory: recent challenges, per-farmer rate windows and difficulty windows.
No I/O; the store (``trionode.storage.pool_store``) keeps what must survive a restart.

Difficulty (docs/protocol.md 5.4): each farmer has a window that counts its accepted partials.
When the window holds ``ADJUST_PARTIALS`` partials and has run at least ``MIN_WINDOW_INTERVALS``
target intervals, or has run ``ADJUST_SLOW_INTERVALS`` intervals with too few, the observed rate
``count / elapsed`` is compared with the target and the difficulty scaled by their ratio (by at
most ``MAX_STEP`` either way, damped by ``DAMPING``, never below 1), then the window restarts. The minimum duration
keeps a burst (one challenge answered by many plots, several tips' challenges at once) from
being read as a rate: measured with 12-partial windows and no minimum, the difficulty swung
5 -> 20 -> 5 around a target of 1800/h. A
farmer's expected partials per hour are ``challenges/hour * space/difficulty`` (consensus.pool),
so the new difficulty puts it back on target whatever its space.
"""

from __future__ import annotations

import collections
from collections.abc import Iterator

import attrs

from trionode.wire import bytes32

#: Partials per difficulty window (the estimate's relative error is ~1/sqrt(N)).
ADJUST_PARTIALS = 20
#: A window lasts at least this many target intervals (3600 / target s each).
MIN_WINDOW_INTERVALS = ADJUST_PARTIALS / 3
#: A window with too few partials is closed after this many target intervals.
ADJUST_SLOW_INTERVALS = 2 * ADJUST_PARTIALS
#: The observed/target ratio is clamped to this either way...
MAX_STEP = 3.0
#: ... and only this power of it applied (half the step in log scale): the partials of one
#: challenge arrive together, so 20 of them estimate the rate to within ~+-50% and full steps
#: made the difficulty swing 5 <-> 16 around its 1800/h target (bench_pool_partials.py).
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

    def on_accepted(self, w: FarmerWindow, now: float) -> int | None:
        """Count an accepted partial; the new difficulty if the window closed with a change."""
        w.window_count += 1
        if w.window_count < ADJUST_PARTIALS:
            return None
        if now - w.window_start < MIN_WINDOW_INTERVALS * self.expected_interval():
            return None
        return self._close_window(w, now)

    def slow_farmers(self, now: float) -> Iterator[tuple[bytes, int]]:
        """Farmers whose window ran long with too few partials: (key, new difficulty)."""
        limit = ADJUST_SLOW_INTERVALS * self.expected_interval()
        for farmer_pk, w in self.windows.items():
            if now - w.window_start >= limit:
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
