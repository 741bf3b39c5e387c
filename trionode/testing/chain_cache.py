"""Benchmark chains: real farmed blocks with a payment in each, cached on disk and resumed.

Farming a long devnet chain takes minutes to hours of VDF time, so the benchmarks keep what
they farmed in a file (length-prefixed serialized blocks) and extend it on the next run. A
cached prefix that the current rules reject is farmed again from where it stops being valid.
"""

from __future__ import annotations

import os
import time
from collections.abc import Sequence
from pathlib import Path

from trionode.consensus import (
    CoinRecord,
    ConsensusConstants,
    ValidationContext,
    block_additions,
    block_removals,
    coinbase_coin,
    validate_block,
)
from trionode.protocols.chain_types import FullBlock, Transaction
from trionode.testing.block_tools import BlockTools, context_for
from trionode.wire import bytes32

SPEND_DELAY = 5  # each block from this height on spends the coinbase of the block this far back
FEE = 1_000


def cache_path(cache_dir: Path, constants: ConsensusConstants) -> Path:
    return cache_dir / f"{constants.network_name}-{constants.genesis_challenge.hex()[:16]}.blocks"


def save_chain(path: Path, chain: Sequence[FullBlock]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        for block in chain:
            data = bytes(block)
            f.write(len(data).to_bytes(4, "big") + data)
    os.replace(tmp, path)


def load_chain(path: Path) -> list[FullBlock]:
    if not path.exists():
        return []
    data = path.read_bytes()
    blocks, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        blocks.append(FullBlock.from_bytes(data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return blocks


def chain_contexts(
    constants: ConsensusConstants, chain: Sequence[FullBlock], *, now: int | None = None
) -> list[ValidationContext]:
    """One validation context per block, the coin set kept incrementally."""
    coins: dict[bytes32, CoinRecord] = {}
    out = []
    for block in chain:
        if now is None:
            out.append(context_for(constants, chain, block, coins=coins))
        else:
            out.append(context_for(constants, chain, block, coins=coins, now=now))
        height = int(block.height)
        for index, coin in enumerate(block_additions(block)):
            coins[coin.name()] = CoinRecord(coin, height, None, index < 2)
        for coin_id in block_removals(block):
            old = coins[coin_id]
            coins[coin_id] = CoinRecord(old.coin, old.confirmed_height, height, old.coinbase)
    return out


def valid_prefix(constants: ConsensusConstants, chain: Sequence[FullBlock]) -> list[FullBlock]:
    """The longest prefix of ``chain`` that the current rules accept."""
    for block, ctx in zip(chain, chain_contexts(constants, chain), strict=True):
        if validate_block(constants, block, ctx) is not None:
            print(f"  cached block {block.height} is invalid under the current rules")
            return list(chain[: block.height])
    return list(chain)


def cached_chain(
    bt: BlockTools, n: int, cache: Path, *, check_cached: bool = True
) -> tuple[list[FullBlock], float]:
    """``n`` blocks with one payment each from height SPEND_DELAY on, from ``cache`` as far as
    it goes, the rest farmed (and saved every 10 blocks). Returns (chain, seconds farming)."""
    chain = load_chain(cache)[:n]
    if check_cached:
        chain = valid_prefix(bt.constants, chain)
    if len(chain) == n:
        return chain, 0.0

    def transactions(so_far: Sequence[FullBlock]) -> list[Transaction]:
        height = len(so_far)
        if height < SPEND_DELAY:
            return []
        old = so_far[height - SPEND_DELAY].body.coinbase
        coin = coinbase_coin(int(old.height), old.puzzle_hash, int(old.amount))
        return [bt.spend_coins([coin], fee=FEE)]

    started = time.perf_counter()

    def on_block(so_far: list[FullBlock]) -> None:
        if len(so_far) % 10 == 0:
            save_chain(cache, so_far)
            elapsed = time.perf_counter() - started
            print(f"  farmed {len(so_far)}/{n} blocks ({elapsed:.0f} s)", flush=True)

    if chain:
        print(f"  resuming from {len(chain)} cached blocks", flush=True)
    chain = bt.make_chain(
        n - len(chain), parent_chain=chain, transactions=transactions, on_block=on_block
    )
    save_chain(cache, chain)
    return chain, time.perf_counter() - started
