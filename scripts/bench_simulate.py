"""Wall time, virtual time and blocks per second of one simulated run, printed, not asserted.

    python scripts/bench_simulate.py [--seed 1] [--nodes 50] [--blocks 1000]
        [--faults partition,loss,delay,crash] [--byzantine 5] [--runs 2]

Runs the simulation ``--runs`` times (same process, same seed) and prints each run's figures
and event-log hash: the hashes must be equal. CPU time is printed next to wall time because a
shared machine stretches the wall time. The first
run of a seed on a machine also runs the VDFs of its blocks (they are cached afterwards under
``~/.cache/trionode/sim``), so the second run's figure is the simulator's own cost.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
import time

from trionode.simulation import SimConfig, parse_faults, run_simulation


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, allow_abbrev=False)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--nodes", type=int, default=50)
    parser.add_argument("--blocks", type=int, default=1000)
    parser.add_argument("--faults", default="partition,loss,delay,crash")
    parser.add_argument("--byzantine", type=int, default=5)
    parser.add_argument("--runs", type=int, default=2)
    args = parser.parse_args()
    if os.environ.get("PYTHONHASHSEED") != "0":
        os.environ["PYTHONHASHSEED"] = "0"  # set iteration order is part of the replay
        os.execv(sys.executable, [sys.executable, *sys.argv])
    logging.basicConfig(level=logging.CRITICAL)
    config = SimConfig(
        seed=args.seed,
        nodes=args.nodes,
        blocks=args.blocks,
        faults=parse_faults(args.faults),
        byzantine=args.byzantine,
    )
    print(config.replay_command())
    for run in range(1, args.runs + 1):
        cpu = time.process_time()
        report = run_simulation(config)
        cpu = time.process_time() - cpu
        print(
            f"run {run}: wall {report.wall_seconds:.1f} s (CPU {cpu:.1f} s), "
            f"virtual {report.virtual_seconds:.0f} s, "
            f"{report.blocks_per_second:.2f} blocks/s, {report.vdfs_run} VDFs run, "
            f"{'ok' if report.ok else 'FAILED'}, event log sha256 {report.event_log_sha256}",
            flush=True,
        )
        if not report.ok:
            print(report.summary())


if __name__ == "__main__":
    main()
