"""Blocks being made on this node: header data handed to farmers, unfinished blocks waiting for
a proof of time. Bounded, keyed for the lookups the protocol needs; no I/O.

The unfinished pool holds valid blocks only, at most ``unfinished_per_proof`` per proof of
space (the first seen are kept: only the plot's owner can sign variants of its block, e.g.
with other fees targets, and the network needs one), and at most ``unfinished_max_blocks``
blocks and ``unfinished_max_bytes`` bytes in all (the oldest challenges go first).
"""

from __future__ import annotations

import collections

import attrs

from trionode.protocols.chain_types import Body, FullBlock, HeaderData, ProofOfSpace
from trionode.sync.pools import IntakeLimits
from trionode.wire import bytes32

MAX_PENDING_HEADERS = 256
MAX_UNFINISHED = 256


@attrs.frozen
class PendingHeader:
    """What ``request_header_hash`` built and ``header_signature`` completes."""

    pos: ProofOfSpace
    body: Body
    data: HeaderData
    challenge_hash: bytes32
    iterations: int


@attrs.define
class FarmingState:
    pending: collections.OrderedDict[bytes32, PendingHeader] = attrs.field(
        factory=collections.OrderedDict
    )
    # (challenge hash, iterations) -> unfinished blocks waiting for that proof of time
    unfinished: collections.OrderedDict[tuple[bytes32, int], list[FullBlock]] = attrs.field(
        factory=collections.OrderedDict
    )
    unfinished_seen: set[bytes32] = attrs.field(factory=set)
    limits: IntakeLimits = attrs.field(factory=IntakeLimits)
    unfinished_bytes: int = 0
    _sizes: dict[bytes32, int] = attrs.field(factory=dict)  # header hash -> bytes
    _per_proof: collections.Counter[bytes32] = attrs.field(factory=collections.Counter)

    def add_pending(self, header_hash: bytes32, pending: PendingHeader) -> None:
        self.pending[header_hash] = pending
        while len(self.pending) > MAX_PENDING_HEADERS:
            self.pending.popitem(last=False)

    @property
    def unfinished_count(self) -> int:
        return len(self._sizes)

    def accepts_unfinished(self, block: FullBlock) -> bool:
        """Whether ``block`` would be held: not held yet, its proof of space under its cap."""
        return (
            block.header_hash not in self.unfinished_seen
            and self._per_proof[block.header.data.proof_of_space_hash]
            < self.limits.unfinished_per_proof
        )

    def add_unfinished(
        self, challenge_hash: bytes32, iterations: int, block: FullBlock, size: int = 0
    ) -> bool:
        """Hold an unfinished block of ``size`` bytes; False if it was already held, its proof
        of space has its share, or it alone is over the byte bound."""
        limits = self.limits
        if not self.accepts_unfinished(block) or size > limits.unfinished_max_bytes:
            return False
        key = block.header_hash
        self.unfinished.setdefault((challenge_hash, iterations), []).append(block)
        self.unfinished_seen.add(key)
        self._sizes[key] = size
        self._per_proof[block.header.data.proof_of_space_hash] += 1
        self.unfinished_bytes += size
        while len(self.unfinished) > MAX_UNFINISHED or (
            self.unfinished_count > limits.unfinished_max_blocks
            or self.unfinished_bytes > limits.unfinished_max_bytes
        ):
            _, dropped = self.unfinished.popitem(last=False)
            self._forget(dropped)
        return key in self.unfinished_seen

    def _forget(self, blocks: list[FullBlock]) -> None:
        for b in blocks:
            self.unfinished_seen.discard(b.header_hash)
            self.unfinished_bytes -= self._sizes.pop(b.header_hash, 0)
            pos_hash = b.header.data.proof_of_space_hash
            self._per_proof[pos_hash] -= 1
            if self._per_proof[pos_hash] <= 0:
                del self._per_proof[pos_hash]

    def peek_unfinished(self, challenge_hash: bytes32, iterations: int) -> list[FullBlock]:
        """The blocks a proof of time for (challenge, iterations) would finish, left held."""
        return list(self.unfinished.get((challenge_hash, iterations), []))

    def take_unfinished(self, challenge_hash: bytes32, iterations: int) -> list[FullBlock]:
        blocks = self.unfinished.pop((challenge_hash, iterations), [])
        self._forget(blocks)
        return blocks
