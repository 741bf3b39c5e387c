"""``python -m trionode testnet --root DIR --nodes 4 --topology line [--farm n0] [--blocks N]
[--split n0,n1/n2,n3]`` (also ``scripts/testnet.py``).

Starts the topology (see :mod:`trionode.testnet.network`), prints progress, and:
- with ``--blocks N``: exits 0 once every full node holds the same chain of N blocks (1 after
  ``--timeout``);
- with ``--split GROUPS`` too: then partitions the nodes into GROUPS (``/`` between groups,
  ``,`` between nodes), waits until the farm's side has made ``--split-blocks`` more blocks while
  the other side stays put, heals, and exits 0 once every node holds the same chain again;
- otherwise runs until Ctrl-C.
"""

from __future__ import annotations

import argparse
import shlex
import signal
import sys
import time
from typing import Any

import trio

from trionode.cli.keys import add_root_argument, root_from_args
from trionode.consensus import NETWORKS
from trionode.nursery import unwrapped_exception_groups
from trionode.testnet.network import Testnet, TestnetError
from trionode.testnet.topology import TOPOLOGIES

__all__ = ["parse_groups", "register", "run_testnet"]

PROGRESS_INTERVAL = 2.0


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def parse_groups(text: str) -> list[list[str]]:
    """``n0,n1/n2`` -> [["n0", "n1"], ["n2"]] (ValueError if a group is empty)."""
    groups = [[n.strip() for n in part.split(",") if n.strip()] for part in text.split("/")]
    if len(groups) < 2 or any(not g for g in groups):
        raise ValueError(f"--split {text!r}: need at least two non-empty groups like n0,n1/n2")
    return groups


def register(subparsers: Any) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "testnet",
        help="run N full node processes in a line/star/mesh topology; partition and heal them",
        description="Start N full nodes as separate processes on 127.0.0.1 (roots DIR/n0 ...), "
        "linked by --peer in the given topology, with a farm (farmer, harvester, timelord) on "
        "one node to make blocks. Network defaults to sim (fast VDFs).",
    )
    add_root_argument(parser)
    parser.add_argument("--nodes", type=_positive, default=3, help="full nodes (default 3)")
    parser.add_argument(
        "--topology", choices=TOPOLOGIES, default="line", help="how they link (default line)"
    )
    parser.add_argument(
        "--farm",
        default="n0",
        metavar="NODE",
        help="the node the farm attaches to, or 'none' (default n0)",
    )
    parser.add_argument("--plots", type=_positive, default=4, help="plots to farm (default 4)")
    parser.add_argument("--k", type=int, default=18, help="plot size (default 18)")
    parser.add_argument("--blocks", type=_positive, help="exit 0 once every node holds N blocks")
    parser.add_argument(
        "--split",
        metavar="GROUPS",
        help="after --blocks: partition into GROUPS (e.g. n0,n1/n2), then heal",
    )
    parser.add_argument(
        "--split-blocks",
        type=_positive,
        default=2,
        help="blocks the farm's side makes while split (default 2)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600.0, help="give up after this many seconds per wait"
    )
    parser.add_argument(
        "--network",
        choices=sorted(NETWORKS),
        default=argparse.SUPPRESS,
        help="network (default sim; also accepted before the subcommand)",
    )
    parser.set_defaults(handler=run_testnet)
    return parser


def _usage(message: str) -> int:
    print(f"trionode: testnet: {message}", file=sys.stderr)
    return 2


def _say(text: str) -> None:
    print(f"testnet: {text}", flush=True)


async def _scenario(net: Testnet, args: argparse.Namespace, groups: list[list[str]] | None) -> int:
    started = time.monotonic()
    height = await net.sync_all(args.timeout, min_height=args.blocks - 1)
    _say(f"all {len(net.names)} nodes at height {height} after {time.monotonic() - started:.1f} s")
    if groups is None:
        return 0
    farm_side = next((g for g in groups if net.farm in g), groups[0])
    others = [n for g in groups if g is not farm_side for n in g]
    t0 = time.monotonic()
    await net.split(groups)
    _say(f"split in {time.monotonic() - t0:.1f} s")
    frozen = {n: net.node(n).height for n in others}
    await net.wait_for(
        lambda: net.in_sync(farm_side, height + args.split_blocks),
        timeout=args.timeout,
        what=f"{args.split_blocks} more blocks on {','.join(farm_side)}",
    )
    moved = {n: net.node(n).height for n in others}
    _say(f"while split: farm side at {net.node(farm_side[0]).height}, other side {moved}")
    if net.farm is not None and moved != frozen:
        _say(f"the other side moved during the split: {frozen} -> {moved}")
        return 1
    t1 = time.monotonic()
    await net.join()
    height = await net.sync_all(args.timeout)
    _say(f"healed: all nodes at height {height}, {time.monotonic() - t1:.1f} s after the join")
    return 0


def run_testnet(args: argparse.Namespace) -> int:
    network = getattr(args, "network", None) or "sim"
    if network not in NETWORKS:
        return _usage(f"unknown network {network!r}")
    farm = None if args.farm == "none" else args.farm
    try:
        groups = parse_groups(args.split) if args.split else None
    except ValueError as exc:
        return _usage(str(exc))
    if groups is not None and args.blocks is None:
        return _usage("--split needs --blocks (the height to reach before splitting)")

    async def main() -> int:
        outcome: list[int] = []
        async with trio.open_nursery() as nursery:
            async with Testnet.open(
                root_from_args(args),
                nodes=args.nodes,
                topology=args.topology,
                network=network,
                farm=farm,
                plots=args.plots,
                k=args.k,
                log_level=args.log_level,
                say=_say,
            ) as net:

                async def drive() -> None:
                    base = shlex.quote(str(root_from_args(args)))
                    _say(f"ready: {', '.join(net.nodes)}; roots {base}/<name> (farm: {base}/farm)")
                    _say(f"logs: {base}/logs/<name>.out; ROOT/log/<role>.log in each root")
                    _say(f"try: python -m trionode show --root {base}")
                    _say(
                        f"try: python -m trionode rpc get_blockchain_state --root {base} "
                        f"--node {net.names[-1]}"
                    )
                    if net.farm is not None:
                        _say(f"try: python -m trionode wallet balance --root {base}")
                    if args.blocks is None:
                        _say("Ctrl-C to stop")
                        while True:
                            _say(net.describe())
                            await trio.sleep(PROGRESS_INTERVAL)
                    try:
                        outcome.append(await _scenario(net, args, groups))
                    except TestnetError as exc:
                        _say(f"failed: {exc}")
                        outcome.append(1)
                    nursery.cancel_scope.cancel()

                nursery.start_soon(drive)
                with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                    async for signum in signals:
                        _say(f"{signal.Signals(signum).name}: stopping")
                        break
                nursery.cancel_scope.cancel()
        return outcome[0] if outcome else 0

    try:
        with unwrapped_exception_groups():
            return trio.run(main)
    except TestnetError as exc:
        print(f"trionode: testnet: {exc}", file=sys.stderr)
        return 1
