"""What the Blockchain would gather for a block of a chain held in memory: the coin set after a
prefix of the chain and a block's validation context, computed from the consensus functions
directly (tests and benchmarks validate blocks without a store)."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

import attrs

from trionode.consensus import (
    CoinRecord,
    ConsensusConstants,
    ValidationContext,
    block_additions,
    block_removals,
    median_timestamp,
    next_difficulty,
)
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.wire import bytes32

__all__ = ["ancestors", "coin_set", "context_for"]


def ancestors(chain: Sequence[FullBlock]) -> Callable[[int], HeaderBlock]:
    """Header of the block at a height of ``chain`` (indexed by height)."""

    def ancestor(height: int) -> HeaderBlock:
        block = chain[height]
        assert block.height == height, "chains are indexed by height"
        return block.header_block()

    return ancestor


def coin_set(chain: Sequence[FullBlock]) -> dict[bytes32, CoinRecord]:
    """The coin set after ``chain`` (every coin ever created, with spent heights)."""
    records: dict[bytes32, CoinRecord] = {}
    for block in chain:
        height = int(block.height)
        for index, coin in enumerate(block_additions(block)):
            records[coin.name()] = CoinRecord(coin, height, None, index < 2)
        for coin_id in block_removals(block):
            old = records[coin_id]
            records[coin_id] = attrs.evolve(old, spent_height=height)
    return records


def context_for(
    constants: ConsensusConstants,
    chain: Sequence[FullBlock],
    block: FullBlock | HeaderBlock,
    *,
    now: int | None = None,
    coins: Mapping[bytes32, CoinRecord] | None = None,
) -> ValidationContext:
    """See ``BlockTools.context_for``; ``coins`` may pass a precomputed coin set of the chain
    up to the parent."""
    height = int(block.height)
    prefix = chain[:height]
    parent = prefix[-1].header_block() if prefix else None
    ancestor = ancestors(prefix)
    removals: list[bytes32] = block_removals(block) if isinstance(block, FullBlock) else []
    known = coin_set(prefix) if coins is None else coins
    return ValidationContext(
        parent=parent,
        difficulty=next_difficulty(constants, parent, ancestor),
        median_timestamp=median_timestamp(constants, parent, ancestor),
        now=int(block.header.data.timestamp) if now is None else now,
        coins={cid: known[cid] for cid in removals if cid in known},
    )
