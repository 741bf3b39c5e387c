"""Command line: ``python -m trionode --role ROLE`` and the operator subcommands.

The CLI only parses flags and hands them to a role's launcher or a subcommand's handler; it
holds no state.
"""

from __future__ import annotations

import argparse
import difflib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from trionode import __version__
from trionode.cli import keys as keys_cli
from trionode.cli import plots as plots_cli
from trionode.cli.keys import root_from_args

ROLES = ("full_node", "farmer", "harvester", "timelord", "introducer", "pool")


class Parser(argparse.ArgumentParser):
    """No abbreviations (``--rol full_node`` must not pass for ``--role``), and a usage error is
    one ``trionode:`` line (exit 2) like every other operator error. Subcommand parsers are of
    this class too (``add_subparsers`` uses the parent's class)."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs["allow_abbrev"] = False
        super().__init__(*args, **kwargs)

    argv: Sequence[str] = ()

    def error(self, message: str) -> NoReturn:
        unknown = [
            a.split("=", 1)[0]
            for a in self.argv
            if a.startswith("--") and a.split("=", 1)[0] not in self._option_string_actions
        ]
        if "invalid choice" in message and unknown and not self.prog.count(" ") > 2:
            # "--rol full_node": argparse blames the word after the unknown flag.
            close = difflib.get_close_matches(unknown[0], list(self._option_string_actions), 1)
            hint = f" (did you mean {close[0]}?)" if close else ""
            message = f"unrecognized argument {unknown[0]}{hint}"
        command = self.prog.removeprefix("python -m trionode").strip()
        where = f"{command}: " if command else ""
        self.exit(2, f"trionode: {where}{message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="python -m trionode",
        description="trionode: a peer node for a Chia-style proof-of-space-and-time blockchain.",
    )
    _add_node_flags(parser)
    _add_role_flags(parser)
    _add_commands(parser)
    return parser


def _add_node_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of ``--role``: which role, its root, ports, network and logging."""
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
    parser.add_argument("--port", type=int, help="peer port to listen on (0 picks a free one)")
    parser.add_argument("--rpc-port", type=int, help="port of the local JSON RPC")
    parser.add_argument(
        "--network",
        default=argparse.SUPPRESS,
        help="network: testnet, devnet or sim (default: config.yaml, else devnet)",
    )
    parser.add_argument(
        "--log-level",
        type=str.upper,
        choices=("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"),
        help="logging level (default: config.yaml log_level, else INFO)",
    )
    parser.add_argument(
        "--log-format",
        choices=("console", "json"),
        help="console lines or one JSON object per line (default: config.yaml log_format, "
        "else console)",
    )
    parser.add_argument(
        "--metrics-port", type=int, help="port of the Prometheus metrics (default: off)"
    )


def _add_role_flags(parser: argparse.ArgumentParser) -> None:
    """The flags of one role or a few (launch.py refuses them for the other roles)."""
    roles = parser.add_argument_group("role options")
    roles.add_argument(
        "--peer",
        action="append",
        metavar="HOST:PORT",
        help="full node: a peer to keep connected to (repeatable)",
    )
    roles.add_argument(
        "--introducer", metavar="HOST:PORT", help="full node: introducer to ask for peers"
    )
    roles.add_argument(
        "--db",
        metavar="URL",
        help="full node: SQLAlchemy URL of the chain store (default: SQLite file under ROOT/db; "
        "PostgreSQL as postgresql+psycopg://USER:PASS@HOST/DB)",
    )
    roles.add_argument(
        "--full-node", metavar="HOST:PORT", help="farmer, timelord, pool: the full node to use"
    )
    roles.add_argument(
        "--pool", metavar="HOST:PORT", help="farmer: the pool to farm pooled plots with"
    )
    roles.add_argument(
        "--protocol",
        choices=("v1", "v2"),
        help="harvester: harvester protocol v2 (seed 001, default) or the legacy v1",
    )
    roles.add_argument("--farmer", metavar="HOST:PORT", help="harvester: the farmer to serve")
    roles.add_argument(
        "--plots", action="append", metavar="DIR", help="harvester: a plot directory (repeatable)"
    )
    roles.add_argument("--workers", type=int, help="timelord: VDF proofs run at once (default 1)")
    roles.add_argument(
        "--vdf-threads",
        action="store_true",
        help="timelord: prove in threads instead of killable worker processes",
    )


def _add_commands(parser: argparse.ArgumentParser) -> None:
    """The operator subcommands, each registered by its own module."""
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    init = subparsers.add_parser(
        "init",
        help="create the private CA, node certificates and config.yaml in --root (idempotent)",
    )
    keys_cli.add_root_argument(init)
    init.set_defaults(handler=_init)
    keys_cli.register(subparsers)
    plots_cli.register(subparsers)
    from trionode.cli import devnet as devnet_cli

    devnet_cli.register(subparsers)
    from trionode.cli import rpc as rpc_cli

    rpc_cli.register(subparsers)
    from trionode.cli import testnet as testnet_cli

    testnet_cli.register(subparsers)
    from trionode.cli import wallet as wallet_cli

    wallet_cli.register(subparsers)
    from trionode.cli import simulate as simulate_cli

    simulate_cli.register(subparsers)


def _init(args: argparse.Namespace) -> int:
    from trionode.init_root import init_command

    return init_command(root_from_args(args))


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    Parser.argv = list(sys.argv[1:] if argv is None else argv)
    args = parser.parse_args(argv)
    args.network = getattr(args, "network", None)
    handler = getattr(args, "handler", None)
    if handler is not None:
        args.log_level = args.log_level or "INFO"
        if args.role is not None:
            parser.error(f"--role cannot be combined with the {args.command!r} command")
        return int(handler(args))
    if args.role is None:
        parser.print_help()
        return 2
    from trionode.cli.launch import run_role

    try:
        return run_role(args, root_from_args(args))
    except KeyboardInterrupt:  # Ctrl-C before the signal handlers were in place, or after
        print("trionode: interrupted", file=sys.stderr)
        return 130
