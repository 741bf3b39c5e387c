"""Bounded memories of the full node's gossip besides blocks (those are block intake's,
:mod:`trionode.sync.pools`): unfinished blocks held, proofs of time that verified and
transactions seen (to drop duplicates before any work), the best unfinished block per
challenge (to relay only good ones). No I/O.

Seen-caches hold only what validated (an unfinished block held, a proof of time that
verified): an invalid copy with the same hash must never make the valid one look like a
duplicate. Each is bounded in entries of 32-byte keys (:class:`IntakeLimits`, which lives with
block intake and is importable from here for the settings).
"""

from __future__ import annotations

import collections

from trionode.sync.pools import IntakeLimits, SeenCache
from trionode.wire import bytes32

BEST_UNFINISHED_SIZE = 1_000

__all__ = ["BEST_UNFINISHED_SIZE", "GossipState", "IntakeLimits", "SeenCache"]


class GossipState:
    def __init__(self, limits: IntakeLimits | None = None) -> None:
        self.limits = limits or IntakeLimits()
        size = self.limits.seen_cache_size
        self.unfinished = SeenCache(size)  # header hashes of unfinished blocks held
        self.proofs_of_time = SeenCache(size)  # hashes of proofs of time that verified
        self.transactions = SeenCache(size)
        # challenge hash -> fewest iterations of an unfinished block seen for it
        self.best_iters: collections.OrderedDict[bytes32, int] = collections.OrderedDict()

    def good_enough(self, challenge_hash: bytes32, iterations: int, threshold: int) -> bool:
        """Whether an unfinished block needing ``iterations`` is within ``threshold``
        iterations of the best seen for its challenge (and remember it if it is the best)."""
        best = self.best_iters.get(challenge_hash)
        if best is None or iterations < best:
            self.best_iters[challenge_hash] = iterations
            self.best_iters.move_to_end(challenge_hash)
            while len(self.best_iters) > BEST_UNFINISHED_SIZE:
                self.best_iters.popitem(last=False)
            return True
        return iterations <= best + threshold
