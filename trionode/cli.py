"""Command line: ``python -m trionode --role ROLE`` and the operator subcommands.

The CLI only parses flags and hands a frozen config to a role's entry point; it holds no state.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from trionode import __version__
from trionode.keys import cli as keys_cli
from trionode.plotting import cli as plots_cli

ROLES = ("full_node", "farmer", "harvester", "timelord", "introducer")

# Roles whose entry points exist. The others exit 2 with a clear message until their issues land.
_IMPLEMENTED_ROLES: dict[str, str] = {}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m trionode",
        description="trionode: a peer node for a Chia-style proof-of-space-and-time blockchain.",
    )
    parser.add_argument("--version", action="version", version=f"trionode {__version__}")
    parser.add_argument(
        "--role",
        choices=ROLES,
        help="run a node of this role: {%(choices)s}",
        metavar="{" + ",".join(ROLES) + "}",
    )
    parser.add_argument(
        "--root",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="the node's root directory: keys, certificates, config, database "
        "(default: $TRIONODE_ROOT or ~/.trionode)",
    )
    parser.add_argument("--port", type=int, help="port to listen on (0 picks a free one)")
    parser.add_argument("--rpc-port", type=int, help="port of the local JSON RPC")
    parser.add_argument("--network", help="network name: testnet, devnet or sim")
    parser.add_argument(
        "--log-level",
        default="INFO",
        choices=("DEBUG", "INFO", "WARNING", "ERROR"),
        help="logging level (default INFO)",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    keys_cli.register(subparsers)
    plots_cli.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    handler = getattr(args, "handler", None)
    if handler is not None:
        if args.role is not None:
            parser.error(f"--role cannot be combined with the {args.command!r} command")
        return int(handler(args))
    if args.role is None:
        parser.print_help()
        return 2
    if args.role not in _IMPLEMENTED_ROLES:
        print(f"trionode: role {args.role!r} is not implemented yet", file=sys.stderr)
        return 2
    raise AssertionError("unreachable until a role is registered")
