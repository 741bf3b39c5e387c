"""Bounded memories of the gossip: what was seen (to drop duplicates before any work), the best
unfinished block per challenge (to relay only good ones), disconnected blocks waiting for their
parent. No I/O."""

from __future__ import annotations

import collections
from collections.abc import Hashable

from trionode.protocols.chain_types import FullBlock
from trionode.wire import bytes32

SEEN_CACHE_SIZE = 10_000
BEST_UNFINISHED_SIZE = 1_000
ORPHAN_POOL_SIZE = 100


class SeenCache:
    """A bounded set: the oldest entries are forgotten first."""

    def __init__(self, size: int = SEEN_CACHE_SIZE) -> None:
        self._size = size
        self._keys: collections.OrderedDict[Hashable, None] = collections.OrderedDict()

    def __contains__(self, key: object) -> bool:
        return key in self._keys

    def __len__(self) -> int:
        return len(self._keys)

    def add(self, key: Hashable) -> bool:
        """Remember ``key``; False if it was already there (a duplicate)."""
        if key in self._keys:
            self._keys.move_to_end(key)
            return False
        self._keys[key] = None
        while len(self._keys) > self._size:
            self._keys.popitem(last=False)
        return True

    def discard(self, key: Hashable) -> None:
        self._keys.pop(key, None)


class GossipState:
    def __init__(self) -> None:
        self.blocks = SeenCache()
        self.unfinished = SeenCache()
        self.proofs_of_time = SeenCache()
        self.transactions = SeenCache()
        # challenge hash -> fewest iterations of an unfinished block seen for it
        self.best_iters: collections.OrderedDict[bytes32, int] = collections.OrderedDict()
        # parent hash -> disconnected blocks waiting for it (short sync keeps them)
        self.orphans: collections.OrderedDict[bytes32, list[FullBlock]] = collections.OrderedDict()

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

    def keep_orphan(self, block: FullBlock) -> None:
        waiting = self.orphans.setdefault(block.prev_header_hash, [])
        if all(b.header_hash != block.header_hash for b in waiting):
            waiting.append(block)
        while sum(len(v) for v in self.orphans.values()) > ORPHAN_POOL_SIZE:
            self.orphans.popitem(last=False)

    def take_children(self, parent: bytes32) -> list[FullBlock]:
        return self.orphans.pop(parent, [])
