"""Chain store and Blockchain throughput on this machine.

    python scripts/bench_chain_store.py [--blocks 1000] [--real 120]

1. Raw commits: ``ChainStore.commit`` of structurally complete blocks (no proofs; one coinbase
   coin each, every block a new heaviest tip) - one transaction per block, SQLite WAL with
   synchronous=FULL, and PostgreSQL when TRIONODE_TEST_POSTGRES_URL is set.
2. ``Blockchain.add_block`` one at a time and ``add_blocks`` in batches of 32 with real farmed
   ``sim`` blocks (full validation: proof of space, VDF, BLS signatures), with 1 and 2
   validation worker threads.
"""

from __future__ import annotations

import argparse
import hashlib
import os
import tempfile
import time
from pathlib import Path

import trio

from trionode.blockchain import Blockchain
from trionode.consensus import SIM
from trionode.protocols.chain_types import (
    Body,
    Coin,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    HeaderData,
    ProofOfSpace,
)
from trionode.storage import BlockCommit, BlockDelta, ChainStore
from trionode.testing.block_tools import BlockTools
from trionode.wire import G1Element, G2Element, bytes32, uint8, uint32, uint64, uint128

REPO = Path(__file__).resolve().parents[1]


def h32(*parts: object) -> bytes32:
    return bytes32(hashlib.sha256(repr(parts).encode()).digest())


def fake_chain(n: int) -> list[FullBlock]:
    blocks: list[FullBlock] = []
    prev, weight = bytes32(bytes(32)), 0
    for height in range(n):
        weight += 10
        pos = ProofOfSpace(h32(height), G1Element(), None, G1Element(), uint8(18), bytes(144))
        body = Body(
            CoinbaseInfo(uint32(height), uint64(1000), h32("ph")),
            G2Element(),
            FeesTarget(h32("ph"), uint64(0)),
            [],
            None,
            uint64(0),
        )
        data = HeaderData(
            uint32(height), prev, uint64(height), h32(), pos.get_hash(), body.get_hash(),
            uint128(weight), uint128(height), bytes32(bytes(32)),
        )  # fmt: skip
        block = FullBlock(pos, None, None, Header(data, G2Element()), body)
        blocks.append(block)
        prev = block.header_hash
    return blocks


async def bench_raw(url: str, label: str, blocks: list[FullBlock]) -> None:
    async with await ChainStore.open(url) as store:
        start = time.perf_counter()
        for i, block in enumerate(blocks):
            coin = Coin(h32("cb", i), h32("ph"), uint64(1000))
            delta = BlockDelta(i, block.header_hash, ((coin, True),), ())
            tips = tuple(b.header_hash for b in blocks[max(0, i - 2) : i + 1][::-1])
            await store.commit(BlockCommit(block, i, tips, i - 1, (delta,)))
        elapsed = time.perf_counter() - start
        check_start = time.perf_counter()
        await store.check_integrity()
        check = time.perf_counter() - check_start
    print(
        f"{label:<28} {len(blocks) / elapsed:8.0f} blocks/s committed "
        f"({elapsed / len(blocks) * 1000:.2f} ms each); integrity check of {len(blocks)} "
        f"blocks {check * 1000:.0f} ms"
    )


async def bench_real(tmp: Path, blocks: list[FullBlock]) -> None:
    for workers in (1, 2):
        for batch in (1, 32):
            url = f"sqlite:///{tmp / f'real_{workers}_{batch}.sqlite'}"
            async with await ChainStore.open(url) as store:
                chain = await Blockchain.create(store, SIM, validation_workers=workers)
                start = time.perf_counter()
                for i in range(0, len(blocks), batch):
                    results = await chain.add_blocks(blocks[i : i + batch])
                    assert all(r.added for r in results), results
                elapsed = time.perf_counter() - start
            how = "add_block" if batch == 1 else f"add_blocks({batch})"
            print(
                f"sim {how:<16} workers={workers}: {len(blocks) / elapsed:7.1f} blocks/s "
                "(validated and committed)"
            )


async def main(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        blocks = fake_chain(args.blocks)
        await bench_raw(f"sqlite:///{tmp / 'raw.sqlite'}", "sqlite (WAL, FULL)", blocks)
        pg = os.environ.get("TRIONODE_TEST_POSTGRES_URL", "").strip()
        if pg:
            import psycopg

            plain = pg.replace("postgresql+psycopg://", "postgresql://", 1)
            with psycopg.connect(plain, autocommit=True) as conn:
                conn.execute("DROP SCHEMA IF EXISTS bench_chain CASCADE")
                conn.execute("CREATE SCHEMA bench_chain")
            sep = "&" if "?" in pg else "?"
            try:
                await bench_raw(
                    f"{pg}{sep}options=-csearch_path%3Dbench_chain", "postgresql", blocks
                )
            finally:
                with psycopg.connect(plain, autocommit=True) as conn:
                    conn.execute("DROP SCHEMA bench_chain CASCADE")
        else:
            print("postgresql: skipped (TRIONODE_TEST_POSTGRES_URL not set)")

        cache = REPO / ".pytest_cache" / "d" / "trionode-k18-plots"
        plot_dir = cache if cache.is_dir() else tmp / "plots"
        bt = BlockTools(SIM, plot_dir, num_plots=4, k=18)
        start = time.perf_counter()
        real = bt.make_chain(args.real)
        print(f"(farmed {len(real)} sim blocks in {time.perf_counter() - start:.1f} s)")
        await bench_real(tmp, real)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.splitlines()[0])
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--real", type=int, default=120)
    trio.run(main, parser.parse_args())
