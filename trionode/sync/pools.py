"""Bounded memories of block intake: what validated (to drop duplicates before any work) and
disconnected blocks waiting for their parent. No I/O.

The seen-cache holds only blocks that validated (stored): an invalid copy with the same header
hash must never make the valid one look like a duplicate. It is bounded in entries of 32-byte
keys; the orphan pool is bounded in blocks and bytes (:class:`IntakeLimits`).
"""

from __future__ import annotations

import collections
from collections.abc import Hashable

import attrs

from trionode.protocols.chain_types import FullBlock
from trionode.wire import bytes32

MiB = 1024 * 1024
SEEN_CACHE_SIZE = 10_000
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


class OrphanPool:
    """Disconnected blocks (checked detached) waiting for their parent, by parent hash, with
    their sizes; bounded by ``limits.orphan_max_blocks`` and ``limits.orphan_max_bytes``."""

    def __init__(self, limits: IntakeLimits | None = None) -> None:
        self.limits = limits or IntakeLimits()
        # parent hash -> disconnected blocks waiting for it (oldest parent first)
        self.by_parent: collections.OrderedDict[bytes32, list[FullBlock]] = (
            collections.OrderedDict()
        )
        self._sizes: dict[bytes32, int] = {}
        self.held_bytes = 0

    def __len__(self) -> int:
        return sum(len(v) for v in self.by_parent.values())

    def keep(self, block: FullBlock, size: int) -> bool:
        """Keep a disconnected block of ``size`` bytes for its parent; the oldest parents'
        blocks go first when the pool is over its block or byte bound. Copies are told apart
        by their whole content, so an invalid copy does not shut out the valid block. False
        if it was not kept (a copy already waits, or it alone is over the bound)."""
        limits = self.limits
        if size > limits.orphan_max_bytes or limits.orphan_max_blocks < 1:
            return False
        parent = block.prev_header_hash
        waiting = self.by_parent.setdefault(parent, [])
        if any(b.header_hash == block.header_hash and b == block for b in waiting):
            return False
        waiting.append(block)
        self._sizes[parent] = self._sizes.get(parent, 0) + size
        self.held_bytes += size
        while len(self) > limits.orphan_max_blocks or self.held_bytes > limits.orphan_max_bytes:
            self.take_children(next(iter(self.by_parent)))
        return parent in self.by_parent and block in self.by_parent[parent]

    def take_children(self, parent: bytes32) -> list[FullBlock]:
        """The blocks waiting for ``parent``, no longer held."""
        blocks = self.by_parent.pop(parent, [])
        self.held_bytes -= self._sizes.pop(parent, 0)
        return blocks
