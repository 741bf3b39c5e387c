"""Benchmark plot creation, loading and lookups (prints figures; no assertions).

python scripts/bench_plots.py [--k 18] [--plots 4] [--challenges 200]
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import tempfile
import time
from pathlib import Path

import trio

from trionode.keys.derive import farmer_sk, master_sk_from_mnemonic, pool_sk
from trionode.plotting.create import ensure_plots
from trionode.plotting.manager import PlotManager
from trionode.plotting.plot_info import load_plot
from trionode.plotting.pos import pos_challenge_for

MNEMONIC = " ".join(["abandon"] * 23 + ["art"])


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__)
    parser.add_argument("--k", type=int, default=18)
    parser.add_argument("--plots", type=int, default=4)
    parser.add_argument("--challenges", type=int, default=200)
    args = parser.parse_args()
    master = master_sk_from_mnemonic(MNEMONIC)
    farmer_pk, pool_pk = farmer_sk(master).get_g1(), pool_sk(master).get_g1()
    challenges = [hashlib.sha256(b"bench %d" % i).digest() for i in range(args.challenges)]

    with tempfile.TemporaryDirectory() as tmp:
        plot_dir = Path(tmp)
        times = []
        for index in range(args.plots):
            start = time.perf_counter()
            ensure_plots(plot_dir, args.k, index + 1, farmer_pk, pool_pk, master)
            times.append(time.perf_counter() - start)
        paths = sorted(plot_dir.glob("*.plot"))
        size_mb = paths[0].stat().st_size / 1e6
        print(
            f"create k={args.k}: {statistics.mean(times):.2f} s per plot "
            f"(min {min(times):.2f}, max {max(times):.2f}), {size_mb:.1f} MB each"
        )

        start = time.perf_counter()
        infos = [load_plot(p) for p in paths]
        print(f"load_plot: {(time.perf_counter() - start) / len(paths) * 1e3:.2f} ms per plot")

        info = infos[0]
        lookups, proofs = [], []
        for ch in challenges:
            pc = pos_challenge_for(info.plot_id, ch, ch)
            t0 = time.perf_counter()
            qualities = info.qualities_for_challenge(pc)
            lookups.append(time.perf_counter() - t0)
            for i in range(len(qualities)):
                t0 = time.perf_counter()
                info.full_proof(pc, i)
                proofs.append(time.perf_counter() - t0)
        print(
            f"quality lookup: {statistics.mean(lookups) * 1e3:.3f} ms per plot per challenge "
            f"(median {statistics.median(lookups) * 1e3:.3f}); "
            f"{len(proofs) / len(challenges):.2f} qualities per challenge"
        )
        print(f"full proof: {statistics.mean(proofs) * 1e3:.2f} ms (parallel_read=False)")

        for workers in (1, 2):
            manager = PlotManager([plot_dir], [farmer_pk], [pool_pk], max_workers=workers)
            manager.refresh()

            async def run(m: PlotManager = manager) -> float:
                t0 = time.perf_counter()
                for ch in challenges:
                    await m.lookup(ch, ch, 0)
                return time.perf_counter() - t0

            elapsed = trio.run(run)
            per = elapsed / len(challenges)
            print(
                f"PlotManager.lookup over {len(paths)} plots, {workers} worker thread(s): "
                f"{per * 1e3:.3f} ms per signage point ({per / len(paths) * 1e3:.3f} ms per plot)"
            )


if __name__ == "__main__":
    main()
