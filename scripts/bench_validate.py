"""Benchmark: validate 200 `devnet` blocks with 1 and with 2 worker threads; print blocks/s.

The blocks are real: 4 k=18 plots, 256-bit VDFs run for exactly the iterations each proof
needs, pool-signed coinbases, 2-of-2 plot signatures, and from height 5 on one signed
transaction per block (spending the coinbase of 5 blocks earlier, with a fee), so the
transaction rules are exercised too. Making them costs VDF time (~1.2M iterations per block at
~380k it/s), so they are generated once and cached under ``--cache-dir`` (resumed if
interrupted); the generation time is printed.

Validation runs ``trionode.consensus.validate_block`` with contexts precomputed the way the
Blockchain would gather them (parent, difficulty, median timestamp, coin records); the threads
come from a ThreadPoolExecutor, as trio.to_thread would provide them. Each figure is the best of
``--rounds`` rounds.

    python scripts/bench_validate.py [--blocks 200] [--cache-dir DIR] [--rounds 3]
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trionode.consensus import (
    DEVNET,
    CoinRecord,
    ValidationContext,
    block_additions,
    block_removals,
    coinbase_coin,
    validate_block,
)
from trionode.protocols.chain_types import FullBlock, Transaction
from trionode.testing.block_tools import BlockTools, context_for
from trionode.wire import bytes32

SPEND_DELAY = 5
FEE = 1_000


def _save(path: Path, chain: Sequence[FullBlock]) -> None:
    tmp = path.with_suffix(".tmp")
    with tmp.open("wb") as f:
        for block in chain:
            data = bytes(block)
            f.write(len(data).to_bytes(4, "big") + data)
    os.replace(tmp, path)


def _load(path: Path) -> list[FullBlock]:
    if not path.exists():
        return []
    data = path.read_bytes()
    blocks, pos = [], 0
    while pos < len(data):
        size = int.from_bytes(data[pos : pos + 4], "big")
        blocks.append(FullBlock.from_bytes(data[pos + 4 : pos + 4 + size]))
        pos += 4 + size
    return blocks


def _still_valid(chain: Sequence[FullBlock]) -> list[FullBlock]:
    """The longest prefix of a cached chain that the current rules accept (a cache made by an
    older version of the rules is regenerated from where it stops being valid)."""
    ctxs = contexts(chain)
    for block, ctx in zip(chain, ctxs, strict=True):
        if validate_block(DEVNET, block, ctx) is not None:
            print(f"  cached block {block.height} is invalid under the current rules")
            return list(chain[: block.height])
    return list(chain)


def make_blocks(bt: BlockTools, n: int, cache: Path) -> tuple[list[FullBlock], float]:
    chain = _still_valid(_load(cache)[:n])
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
    last_report = [started]

    def on_block(so_far: list[FullBlock]) -> None:
        now = time.perf_counter()
        if len(so_far) % 10 == 0 or now - last_report[0] > 30:
            _save(cache, so_far)
            last_report[0] = now
            print(f"  generated {len(so_far)}/{n} blocks ({now - started:.0f} s)", flush=True)

    if chain:
        print(f"  resuming from {len(chain)} cached blocks", flush=True)
    chain = bt.make_chain(
        n - len(chain), parent_chain=chain, transactions=transactions, on_block=on_block
    )
    elapsed = time.perf_counter() - started
    _save(cache, chain)
    return chain, elapsed


def contexts(chain: Sequence[FullBlock]) -> list[ValidationContext]:
    """One context per block, with the coin set maintained incrementally."""
    coins: dict[bytes32, CoinRecord] = {}
    result = []
    for block in chain:
        result.append(context_for(DEVNET, chain, block, coins=coins))
        height = int(block.height)
        for index, coin in enumerate(block_additions(block)):
            coins[coin.name()] = CoinRecord(coin, height, None, index < 2)
        for coin_id in block_removals(block):
            old = coins[coin_id]
            coins[coin_id] = CoinRecord(old.coin, old.confirmed_height, height, old.coinbase)
    return result


def run(chain: Sequence[FullBlock], ctxs: Sequence[ValidationContext], threads: int) -> float:
    started = time.perf_counter()
    if threads == 1:
        results = [validate_block(DEVNET, b, c) for b, c in zip(chain, ctxs, strict=True)]
    else:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(validate_block, [DEVNET] * len(chain), chain, ctxs))
    elapsed = time.perf_counter() - started
    bad = [(int(b.height), e) for b, e in zip(chain, results, strict=True) if e is not None]
    if bad:
        raise SystemExit(f"invalid blocks in the benchmark chain: {bad[:5]}")
    return elapsed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--blocks", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=Path(tempfile.gettempdir()) / "trionode-bench-validate",
    )
    args = parser.parse_args(argv)
    cache_dir: Path = args.cache_dir
    cache_dir.mkdir(parents=True, exist_ok=True)

    t0 = time.perf_counter()
    bt = BlockTools(DEVNET, cache_dir / "plots", num_plots=4, k=18)
    print(f"plots: {len(bt.plots)} x k=18 ready in {time.perf_counter() - t0:.1f} s")
    cache = cache_dir / f"devnet-{DEVNET.genesis_challenge.hex()[:16]}-{args.blocks}.blocks"
    chain, gen_time = make_blocks(bt, args.blocks, cache)
    iters = [int(b.proof_of_time.number_of_iterations) for b in chain if b.proof_of_time]
    txs = sum(len(b.body.transactions) for b in chain)
    if gen_time:
        print(
            f"generated {len(chain)} devnet blocks in {gen_time:.1f} s "
            f"({gen_time / len(chain):.2f} s/block)"
        )
    else:
        print(f"loaded {len(chain)} devnet blocks from {cache}")
    print(
        f"VDF iterations per block: mean {statistics.mean(iters):,.0f}, "
        f"median {statistics.median(iters):,.0f}, max {max(iters):,}; {txs} transactions"
    )
    ctxs = contexts(chain)
    for threads in (1, 2):
        best = min(run(chain, ctxs, threads) for _ in range(args.rounds))
        print(
            f"validate_block, {threads} worker thread{'s' if threads > 1 else ''}: "
            f"{len(chain) / best:,.1f} blocks/s ({best * 1000 / len(chain):.2f} ms/block)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
