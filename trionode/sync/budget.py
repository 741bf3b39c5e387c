"""Pacing of our requests to each peer, so an honest peer never rate-limits (and bans) us.

Honest peers count each message type a peer sends them over fixed windows
(``trionode.peers.limits.DEFAULT_RATE_LIMITS``; unlisted types ``DEFAULT_RATE``). We keep, per
connection and request type, the send times of the last window and allow at most
``SHARE`` of the peer's limit in any sliding window of that length. A sliding window is
stricter than the peer's fixed one (any fixed window lies inside some sliding one), and the
share leaves room for latency jitter.
"""

from __future__ import annotations

import collections
import weakref
from collections.abc import Callable, Mapping

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.limits import DEFAULT_RATE, DEFAULT_RATE_LIMITS
from trionode.protocols import ProtocolMessageTypes as T

__all__ = ["SHARE", "RequestBudget"]

#: Fraction of a peer's per-window limit we use at most.
SHARE = 0.9


class RequestBudget:
    """Per connection and request type: may we send one now, or when may we."""

    def __init__(
        self,
        limits: Mapping[T, tuple[int, float]] = DEFAULT_RATE_LIMITS,
        default: tuple[int, float] = DEFAULT_RATE,
        *,
        clock: Callable[[], float] = trio.current_time,
    ) -> None:
        self._limits = limits
        self._default = default
        self._clock = clock
        # A closed connection's entries go with it.
        self._sent: weakref.WeakKeyDictionary[PeerConnection, dict[T, collections.deque[float]]] = (
            weakref.WeakKeyDictionary()
        )

    def allowance(self, mtype: T) -> tuple[int, float]:
        """(requests, window seconds) we allow ourselves for ``mtype`` to one peer."""
        count, window = self._limits.get(mtype, self._default)
        return max(1, int(count * SHARE)), window

    def _times(self, conn: PeerConnection, mtype: T) -> collections.deque[float]:
        per_type = self._sent.setdefault(conn, {})
        times = per_type.get(mtype)
        if times is None:
            times = per_type[mtype] = collections.deque()
        return times

    def wait_time(self, conn: PeerConnection, mtype: T) -> float:
        """Seconds until one more ``mtype`` may go to ``conn`` (0: now)."""
        allowed, window = self.allowance(mtype)
        times = self._times(conn, mtype)
        now = self._clock()
        while times and times[0] <= now - window:
            times.popleft()
        if len(times) < allowed:
            return 0.0
        return times[0] + window - now

    def try_spend(self, conn: PeerConnection, mtype: T) -> bool:
        """Count one ``mtype`` to ``conn`` if it is allowed now."""
        if self.wait_time(conn, mtype) > 0:
            return False
        self._times(conn, mtype).append(self._clock())
        return True

    async def spend(self, conn: PeerConnection, mtype: T) -> None:
        """Wait until one more ``mtype`` may go to ``conn``, and count it."""
        # Sleeping until a slot frees is the point here: nothing else would wake us.
        while (delay := self.wait_time(conn, mtype)) > 0:  # noqa: ASYNC110
            await trio.sleep(delay)
        self._times(conn, mtype).append(self._clock())
