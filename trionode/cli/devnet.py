"""``python -m trionode devnet --root DIR [--full-nodes 2] [--plots 4] [--k 18] [--blocks N]``."""

from __future__ import annotations

import argparse
import logging
import signal
import sys
from pathlib import Path
from typing import Any

import trio

from trionode import runfiles
from trionode.cli.keys import add_root_argument, root_from_args
from trionode.cli.launch import UsageError, check_root_dir
from trionode.consensus import NETWORKS, get_constants
from trionode.devnet.layout import DevnetLayout
from trionode.devnet.network import Devnet, say_to_stdout
from trionode.devnet.setup import prepare, prepare_harvesters, prepare_pool
from trionode.nursery import RestartIntensityExceeded
from trionode.roles.runtime import exit_now_on_interrupt


def _positive(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _harvesters(text: str) -> tuple[str, ...]:
    protocols = tuple(p.strip() for p in text.split(",") if p.strip())
    if not 1 <= len(protocols) <= 4 or any(p not in ("v1", "v2") for p in protocols):
        raise argparse.ArgumentTypeError(
            f"must be 1 to 4 of v1,v2 separated by commas, got {text!r}"
        )
    return protocols


def register(subparsers: Any) -> argparse.ArgumentParser:
    devnet = subparsers.add_parser(
        "devnet",
        help="set up and run a local network of separate processes that makes blocks",
        description="Set up (init, keys, plots, configs) and run an introducer, full nodes, a "
        "farmer, a harvester and a timelord as separate processes on 127.0.0.1. Re-running on "
        "the same root reuses keys, plots and chains. Ctrl-C stops everything cleanly.",
    )
    add_root_argument(devnet)
    devnet.add_argument("--full-nodes", type=_positive, default=2, help="full nodes (default 2)")
    devnet.add_argument("--plots", type=_positive, default=4, help="plots to farm (default 4)")
    devnet.add_argument("--k", type=int, default=18, help="plot size (default 18)")
    devnet.add_argument(
        "--blocks",
        type=_positive,
        help="exit 0 once every full node holds the same chain of at least N blocks",
    )
    devnet.add_argument(
        "--timeout",
        type=float,
        default=900.0,
        help="with --blocks: give up (exit 1) after this many seconds (default 900)",
    )
    devnet.add_argument(
        "--network",
        choices=sorted(NETWORKS),
        default=argparse.SUPPRESS,
        help="network (default devnet; also accepted before the subcommand)",
    )
    devnet.add_argument(
        "--harvesters",
        type=_harvesters,
        default=("v2",),
        metavar="v1,v2",
        help="one harvester per entry, each speaking that harvester protocol, each with "
        "--plots plots of its own (default: v2)",
    )
    devnet.add_argument(
        "--pool",
        action="store_true",
        help="also run a pool; the farm gets --plots plots pooled to it and farms with it",
    )
    devnet.set_defaults(handler=run_devnet)
    return devnet


def layout_roles(
    layout: DevnetLayout, full_nodes: int, harvesters: int = 1, pool: bool = False
) -> list[tuple[Path, str]]:
    """(root, role) of every process the devnet runs."""
    return [
        (layout.introducer, "introducer"),
        *((layout.full_node(i), "full_node") for i in range(full_nodes)),
        *((layout.farm, role) for role in ("farmer", "harvester", "timelord")),
        *((layout.harvester(i), "harvester") for i in range(1, harvesters)),
        *([(layout.pool, "pool")] if pool else []),
    ]


def claim_roots(kind: str, base: Path, roles: list[tuple[Path, str]]) -> runfiles.RootLock:
    """Lock ``base`` for this devnet/testnet and check no process runs any of ``roles``
    (RootBusy otherwise), before anything is created or started."""
    check_root_dir(base)
    lock = runfiles.RootLock(base, kind).acquire()
    try:
        for root, role in roles:
            runfiles.check_free(root, role)
    except BaseException:
        lock.release()
        raise
    return lock


def quiet_supervisor_logs() -> None:
    """The devnet reports every child's state change itself (one line, log tail once); the
    supervisor's own log lines (with tracebacks of the ProcessExited it restarts) would repeat
    them."""
    logging.getLogger("trionode.nursery").setLevel(logging.CRITICAL)


def run_devnet(args: argparse.Namespace) -> int:
    network = getattr(args, "network", None) or "devnet"
    if network not in NETWORKS:
        print(f"trionode: devnet: unknown network {network!r}", file=sys.stderr)
        return 2
    constants = get_constants(network)
    layout = DevnetLayout(root_from_args(args))
    try:
        roles = layout_roles(
            layout,
            args.full_nodes,
            len(getattr(args, "harvesters", ("v2",))),
            bool(getattr(args, "pool", False)),
        )
        lock = claim_roots("devnet", layout.base, roles)
    except UsageError as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return 2
    except runfiles.RootBusy as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return 1
    except OSError as exc:
        print(f"trionode: --root {layout.base}: {exc.strerror or exc}", file=sys.stderr)
        return 2
    try:
        return _run_devnet(args, layout, constants)
    finally:
        lock.release()


def _run_devnet(args: argparse.Namespace, layout: DevnetLayout, constants: Any) -> int:
    quiet_supervisor_logs()
    harvesters = getattr(args, "harvesters", ("v2",))
    pool = bool(getattr(args, "pool", False))
    try:
        keys = prepare(
            layout,
            constants,
            full_nodes=args.full_nodes,
            plots=args.plots,
            k=args.k,
            say=say_to_stdout,
        )
        prepare_harvesters(
            layout, keys, len(harvesters), plots=args.plots, k=args.k, say=say_to_stdout
        )
        if pool:
            prepare_pool(layout, keys, plots=args.plots, k=args.k, say=say_to_stdout)
    except ValueError as exc:
        print(f"trionode: devnet: {exc}", file=sys.stderr)
        return 2
    devnet = Devnet(
        layout,
        constants,
        args.full_nodes,
        say_to_stdout,
        log_level=args.log_level,
        harvesters=harvesters,
        pool=pool,
    )

    async def main() -> int:
        async with trio.open_nursery() as nursery:
            outcome: list[int] = []

            async def run() -> None:
                outcome.append(await devnet.run(blocks=args.blocks, deadline_seconds=args.timeout))
                nursery.cancel_scope.cancel()

            nursery.start_soon(run)
            with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
                async for signum in signals:
                    say_to_stdout(f"{signal.Signals(signum).name}: stopping")
                    devnet.stopping = True  # the processes got the Ctrl-C too: not news
                    # A second Ctrl-C: stop waiting for the processes (they get SIGTERM, then
                    # SIGKILL, from the supervisor's shutdown running below).
                    signal.signal(signal.SIGINT, exit_now_on_interrupt)
                    break
            nursery.cancel_scope.cancel()
        return outcome[0] if outcome else 0

    try:
        return trio.run(main)
    except RestartIntensityExceeded as exc:
        say_to_stdout(f"stopped: {exc}")
        return 1
