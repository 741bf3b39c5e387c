"""Measured pool partials per hour against the pool's target (docs/protocol.md 5.4).

Runs, in one process over real TLS websockets on 127.0.0.1 with the sim constants, a full node,
a timelord, a pool with ``--target`` partials/hour, and one farmer with one harvester farming
``--plots`` k=18 plots pooled to it; for ``--seconds`` of wall-clock time. Prints the pool
difficulty as it adjusts, then the accepted partials per hour over the second half of the run
(after the first adjustments) next to the target.

    python scripts/bench_pool_partials.py --target 1800 --seconds 900 --plots 4

Measured here (2 cores shared with other work, sim, 4 k=18 plots, target 1800/h), accepted
partials per hour over the second half of the run:
- windows closed on 12 partials, full steps up to 4x:        1389/h, difficulty 5 <-> 26
- 20 partials and a minimum duration, full steps up to 3x:   1609/h, difficulty 5 <-> 16
- the same with square-root steps:                           1534/h, difficulty 7 <-> 11
- fixed-duration windows (20 intervals), square-root steps:  1853/h (232 partials in 451 s),
  difficulty 3 <-> 10 (what trionode does)
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import shutil
import tempfile
import time
from pathlib import Path

import trio
from mnemonic import Mnemonic

from trionode.keys.derive import local_master_sk_for_plot
from trionode.keys.keychain import Keychain
from trionode.plotting.create import create_plot
from trionode.roles.farmer.main import Farmer, FarmerConfig
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.roles.harvester.main import Harvester, HarvesterConfig
from trionode.roles.pool.main import Pool, PoolConfig
from trionode.roles.timelord.main import TimelordConfig, TimelordService

LOCAL = "127.0.0.1"


async def bench(base: Path, target: int, seconds: float, plots: int) -> None:
    pool_chain = Keychain(base / "pool")
    pool_chain.add_mnemonic(Mnemonic("english").to_mnemonic(hashlib.sha256(b"bp").digest()))
    pool_ph = pool_chain.farm_keys().pool_puzzle_hash
    farm = Keychain(base / "farm")
    farm.add_mnemonic(Mnemonic("english").to_mnemonic(hashlib.sha256(b"bf").digest()))
    keys = farm.farm_keys()
    for i in range(plots):
        create_plot(
            base / "plots", 18, keys.farmer_pk, pool_ph, local_master_sk_for_plot(keys.master_sk, i)
        )
    async with trio.open_nursery() as nursery:
        node = FullNodeService(FullNodeConfig(root=base / "node", network="sim", port=0))
        await nursery.start(node.run)
        assert node.node is not None and node.node.port
        addr = (LOCAL, node.node.port)
        pool = Pool(
            PoolConfig(
                base / "pool",
                "sim",
                addr,
                port=0,
                node_root=base / "node",
                target_partials_per_hour=target,
                max_partials_per_minute=100_000,
                payout_interval=10_000,
            )
        )
        await nursery.start(pool.run)
        farmer = Farmer(
            FarmerConfig(base / "farm", "sim", addr, port=0, pool=(LOCAL, pool.node.port or 0))
        )
        await nursery.start(farmer.run)
        hroot = base / "harvester"
        shutil.copytree(base / "farm" / "ssl" / "ca", hroot / "ssl" / "ca")
        await nursery.start(
            Harvester(
                HarvesterConfig(
                    hroot,
                    "sim",
                    (LOCAL, farmer.harvester_node.port or 0),
                    (base / "plots",),
                    port=0,
                )
            ).run
        )
        await nursery.start(
            TimelordService(
                TimelordConfig(base / "tl", "sim", addr, port=0, use_processes=False)
            ).run
        )
        start = time.monotonic()
        half: tuple[float, int] | None = None
        last_difficulty = None
        while (now := time.monotonic()) - start < seconds:
            await trio.sleep(5)
            farmers = await pool.store.get_farmers()
            if not farmers:
                continue
            f = farmers[0]
            if f.difficulty != last_difficulty:
                print(
                    f"[{now - start:6.0f} s] difficulty {f.difficulty}, {f.partials_accepted} partials"
                )
                last_difficulty = f.difficulty
            if half is None and now - start >= seconds / 2:
                half = (now, f.partials_accepted)
        farmers = await pool.store.get_farmers()
        f = farmers[0]
        assert half is not None
        elapsed = time.monotonic() - half[0]
        rate = (f.partials_accepted - half[1]) * 3600 / elapsed
        height = node.full_node.blockchain.peak_height if node.full_node else None
        print(
            f"target {target}/h; measured {rate:.0f}/h over the last {elapsed:.0f} s "
            f"({f.partials_accepted - half[1]} partials; {f.partials_accepted} in all, "
            f"{f.partials_refused} refused); final difficulty {f.difficulty}; chain height {height}"
        )
        nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--target", type=int, default=1800)
    parser.add_argument("--seconds", type=float, default=600)
    parser.add_argument("--plots", type=int, default=4)
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)
    with tempfile.TemporaryDirectory() as tmp:
        trio.run(bench, Path(tmp), args.target, args.seconds, args.plots)


if __name__ == "__main__":
    main()
