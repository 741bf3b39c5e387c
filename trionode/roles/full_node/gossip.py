"""Bounded memories of the gossip: what was seen and validated (to drop duplicates before any
work), the best unfinished block per challenge (to relay only good ones), disconnected blocks
waiting for their parent. No I/O.

Seen-caches hold only what validated (a block stored, an unfinished block held, a proof of
time that verified): an invalid copy with the same header hash must never make the valid one
look like a duplicate. Each is bounded in entries of 32-byte keys; the orphan pool is bounded
in blocks and bytes (:class:`IntakeLimits`).
"""

from __future__ import annotations

import collections
from collections.abc import Hashable

import attrs

from trionode.protocols.chain_types import FullBlock
from trionode.wire import bytes32

MiB = 1024 * 1024
SEEN_CACHE_SIZE = 10_000
BEST_UNFINISHED_SIZE = 1_000
ORPHAN_POOL_SIZE = 100


@attrs.frozen
class IntakeLimits:
    """Bounds of the full node's pools of peer input (config.yaml ``full_node:`` keys of the
    same names; docs/protocol.md section 2)."""

    seen_cache_size: int = SEEN_CACHE_SIZE  # entries per seen-cache (32-byte keys)
    orphan_max_blocks: int = ORPHAN_POOL_SIZE
    orphan_max_bytes: int = 32 * MiB
    unfinished_per_proof: int = 3  # unfinished blocks held per proof of space (first kept)
    unfinished_max_blocks: int = 256
    unfinished_max_bytes: int = 64 * MiB
    short_sync_max_bytes: int = 16 * MiB  # parents one short sync may fetch
    short_sync_max_running: int = 4  # short syncs at once (one per peer)


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
    def __init__(self, limits: IntakeLimits | None = None) -> None:
        self.limits = limits or IntakeLimits()
        size = self.limits.seen_cache_size
        self.blocks = SeenCache(size)  # header hashes of blocks stored (validated)
        self.unfinished = SeenCache(size)  # header hashes of unfinished blocks held
        self.proofs_of_time = SeenCache(size)  # hashes of proofs of time that verified
        self.transactions = SeenCache(size)
        # challenge hash -> fewest iterations of an unfinished block seen for it
        self.best_iters: collections.OrderedDict[bytes32, int] = collections.OrderedDict()
        # parent hash -> disconnected blocks waiting for it (checked detached; short sync
        # keeps them), with their sizes
        self.orphans: collections.OrderedDict[bytes32, list[FullBlock]] = collections.OrderedDict()
        self._orphan_sizes: dict[bytes32, int] = {}
        self.orphan_bytes = 0

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

    @property
    def orphan_count(self) -> int:
        return sum(len(v) for v in self.orphans.values())

    def keep_orphan(self, block: FullBlock, size: int) -> bool:
        """Keep a disconnected block of ``size`` bytes for its parent; the oldest parents'
        blocks go first when the pool is over its block or byte bound. Copies are told apart
        by their whole content, so an invalid copy does not shut out the valid block. False
        if it was not kept (a copy already waits, or it alone is over the bound)."""
        limits = self.limits
        if size > limits.orphan_max_bytes or limits.orphan_max_blocks < 1:
            return False
        parent = block.prev_header_hash
        waiting = self.orphans.setdefault(parent, [])
        if any(b.header_hash == block.header_hash and b == block for b in waiting):
            return False
        waiting.append(block)
        self._orphan_sizes[parent] = self._orphan_sizes.get(parent, 0) + size
        self.orphan_bytes += size
        while self.orphan_count > limits.orphan_max_blocks or (
            self.orphan_bytes > limits.orphan_max_bytes
        ):
            oldest = next(iter(self.orphans))
            self._drop_orphans(oldest)
        return parent in self.orphans and block in self.orphans[parent]

    def _drop_orphans(self, parent: bytes32) -> list[FullBlock]:
        blocks = self.orphans.pop(parent, [])
        self.orphan_bytes -= self._orphan_sizes.pop(parent, 0)
        return blocks

    def take_children(self, parent: bytes32) -> list[FullBlock]:
        return self._drop_orphans(parent)
