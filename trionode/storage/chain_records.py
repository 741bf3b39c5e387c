"""The typed records the chain store reads and writes (no SQL here: the types callers see)."""

from __future__ import annotations

import attrs

from trionode.protocols.chain_types import Coin, FullBlock
from trionode.wire import bytes32


@attrs.frozen
class BlockInfo:
    """What the in-memory index keeps of every stored block."""

    header_hash: bytes32
    height: int
    prev_hash: bytes32
    weight: int
    seen: int  # order of first storage; equal weights go to the smaller


@attrs.frozen
class ChainState:
    """Everything :class:`~trionode.blockchain.Blockchain` loads at start, read in one snapshot."""

    blocks: dict[bytes32, BlockInfo]
    height_map: list[bytes32]  # index = height, on the heaviest chain
    tips: list[bytes32]


@attrs.frozen
class BlockDelta:
    """The coin-set change of one block joining the heaviest chain."""

    height: int
    header_hash: bytes32
    additions: tuple[tuple[Coin, bool], ...]  # (coin, created by coinbase or fees target)
    removals: tuple[bytes32, ...]  # ids of the coins the block spends


@attrs.frozen
class BlockCommit:
    """One transaction: store ``block``; optionally replace the tip set and move the chain.

    ``fork_height`` None keeps the heaviest chain as it is. Otherwise everything above
    ``fork_height`` (-1: everything) is rolled back (height rows, coins created above it deleted,
    coins spent above it unspent) and ``apply`` (the new heaviest chain's blocks above the fork,
    in height order) is applied.
    """

    block: FullBlock
    seen: int
    tips: tuple[bytes32, ...] | None = None
    fork_height: int | None = None
    apply: tuple[BlockDelta, ...] = ()
