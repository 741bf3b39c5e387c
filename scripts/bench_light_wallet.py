"""Benchmark: a light wallet's header sync rate and its bytes per block, next to full blocks.

    python scripts/bench_light_wallet.py [--blocks 300] [--network sim|devnet] [--workers 2]
                                         [--cache-dir DIR]

The chain is bench_sync's (real k=18 plots, VDFs, signatures, one payment per block from
height 5 on, cached under ``--cache-dir``; ``sim`` blocks are made in seconds). A full node
process (``python -m trionode --role full_node``) serves it from its own store; in this process
a light wallet with a fresh store syncs it over a TLS websocket on 127.0.0.1 (wallet protocol,
docs/protocol.md section 6), verifying every header in ``--workers`` threads, then the coin
lists of the blocks that concern it:

- *heights* mode: the wallet owns the farm's pool address (every block pays it a coinbase, and
  from height 5 on spends one of its coins), so it asks the coin lists of every block: the
  worst case for a wallet;
- *scan-all* mode: coin lists of every block, without telling the node its addresses;
- a wallet owning an address no block pays: headers only.

Printed: headers/s (fetch + verify, proof caches cleared first), payload bytes per block of
each kind, and the average full block (what a full node's sync downloads per block).

Measured on 2 shared cores (load average 8-12), 300 sim blocks: full block 1,505 bytes,
header block 958; 69-111 headers/s over two runs (verifying the same headers alone in 2 threads
at the same time: 88-114 headers/s); bytes per block 958 with no coins (64% of a full block),
1,244 when every block pays and spends from the wallet, or with scan-all (83%).
"""

from __future__ import annotations

import argparse
import hashlib
import sys
import tempfile
import time
from pathlib import Path

import trio

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_sync import start_server, wait_ready  # noqa: E402

from trionode.consensus import get_constants  # noqa: E402
from trionode.consensus.proofs import clear_proof_caches  # noqa: E402
from trionode.testing.block_tools import BlockTools  # noqa: E402
from trionode.testing.chain_cache import cache_path, cached_chain  # noqa: E402
from trionode.testing.full_node import preload  # noqa: E402
from trionode.wallet.client import wallet_session  # noqa: E402
from trionode.wallet.light import SyncStats  # noqa: E402
from trionode.wire import bytes32  # noqa: E402


async def wallet_sync(
    root: Path, network: str, port: int, puzzle_hashes: list[bytes32], scan_all: bool
) -> tuple[SyncStats, float]:
    clear_proof_caches()  # verify every proof, as a wallet on its own machine would
    async with wallet_session(
        root, network, "127.0.0.1", port, puzzle_hashes, scan_all=scan_all
    ) as session:
        started = time.perf_counter()
        await session.sync()
        seconds = time.perf_counter() - started
        return session.wallet.stats, seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--blocks", type=int, default=300)
    parser.add_argument("--network", default="sim", choices=["devnet", "sim"])
    parser.add_argument("--workers", type=int, default=2, help="(the wallet's default is 2)")
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "trionode-bench-sync"
    )
    args = parser.parse_args(argv)
    constants = get_constants(args.network)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    bt = BlockTools(constants, args.cache_dir / "plots", num_plots=4, k=18)
    chain, gen = cached_chain(bt, args.blocks, cache_path(args.cache_dir, constants))
    made = f"farmed in {gen:.0f} s" if gen else "cached"
    print(f"{len(chain)} {args.network} blocks ({made})")
    full = sum(len(bytes(b)) for b in chain) / len(chain)
    headers = sum(len(bytes(b.header_block())) for b in chain) / len(chain)
    txs = sum(len(b.body.transactions) for b in chain)
    print(f"{txs} transactions; full block {full:,.0f} bytes, header block {headers:,.0f} bytes")

    with tempfile.TemporaryDirectory(prefix="bench_light_wallet_") as tmp:
        work = Path(tmp)
        server = work / "server"
        trio.run(preload, server, args.network, chain)
        log = work / "server.log"
        proc = start_server(server, args.network, log)
        try:
            port = wait_ready(server, proc, log)
            stranger = bytes32(hashlib.sha256(b"nobody pays this").digest())
            runs = [
                ("owns the pool address, heights", [bt.pool_puzzle_hash], False),
                ("owns the pool address, scan-all", [bt.pool_puzzle_hash], True),
                ("owns an unpaid address, heights", [stranger], False),
            ]
            for i, (name, phs, scan_all) in enumerate(runs):
                stats, seconds = trio.run(
                    wallet_sync, work / f"wallet{i}", args.network, port, phs, scan_all
                )
                n = len(chain)
                per_block = stats.total_bytes / n
                print(
                    f"{name}: {stats.headers} headers in {stats.header_seconds:.2f} s = "
                    f"{stats.headers / stats.header_seconds:,.0f} headers/s; "
                    f"coin lists of {stats.coin_blocks} blocks; total {seconds:.2f} s"
                )
                print(
                    f"    bytes/block: headers {stats.header_bytes / n:,.0f} + coins "
                    f"{stats.coin_bytes / n:,.0f} = {per_block:,.0f} "
                    f"({per_block / full:.0%} of a full block)"
                )
        finally:
            proc.terminate()
            proc.wait(timeout=30)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
