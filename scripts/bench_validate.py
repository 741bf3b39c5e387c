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
import statistics
import sys
import tempfile
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from trionode.consensus import (
    DEVNET,
    ValidationContext,
    validate_block,
)
from trionode.consensus.proofs import clear_proof_caches
from trionode.protocols.chain_types import FullBlock
from trionode.testing.block_tools import BlockTools
from trionode.testing.chain_cache import cached_chain, chain_contexts


def run(chain: Sequence[FullBlock], ctxs: Sequence[ValidationContext], threads: int) -> float:
    clear_proof_caches()  # every round verifies every proof, none remembered
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
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
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
    chain, gen_time = cached_chain(bt, args.blocks, cache)
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
    ctxs = chain_contexts(DEVNET, chain)
    for threads in (1, 2):
        best = min(run(chain, ctxs, threads) for _ in range(args.rounds))
        print(
            f"validate_block, {threads} worker thread{'s' if threads > 1 else ''}: "
            f"{len(chain) / best:,.1f} blocks/s ({best * 1000 / len(chain):.2f} ms/block)"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
