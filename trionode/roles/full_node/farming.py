"""Blocks being made on this node: header data handed to farmers, unfinished blocks waiting for
a proof of time. Bounded, keyed for the lookups the protocol needs; no I/O."""

from __future__ import annotations

import collections

import attrs

from trionode.protocols.chain_types import Body, FullBlock, HeaderData, ProofOfSpace
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

    def add_pending(self, header_hash: bytes32, pending: PendingHeader) -> None:
        self.pending[header_hash] = pending
        while len(self.pending) > MAX_PENDING_HEADERS:
            self.pending.popitem(last=False)

    def add_unfinished(self, challenge_hash: bytes32, iterations: int, block: FullBlock) -> bool:
        """Hold an unfinished block; False if it was already held."""
        key = block.header_hash
        if key in self.unfinished_seen:
            return False
        self.unfinished.setdefault((challenge_hash, iterations), []).append(block)
        self.unfinished_seen.add(key)
        while len(self.unfinished) > MAX_UNFINISHED:
            _, dropped = self.unfinished.popitem(last=False)
            for b in dropped:
                self.unfinished_seen.discard(b.header_hash)
        return True

    def take_unfinished(self, challenge_hash: bytes32, iterations: int) -> list[FullBlock]:
        blocks = self.unfinished.pop((challenge_hash, iterations), [])
        for b in blocks:
            self.unfinished_seen.discard(b.header_hash)
        return blocks
