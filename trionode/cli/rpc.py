"""``python -m trionode rpc METHOD [JSON]`` and ``python -m trionode show``.

``rpc`` calls any method of a running role of ``--root`` with the root's cookie token and prints
the JSON answer. The role is ``--role`` if given, else the one serving the method, read from the
roles' own method tables (``roles/<role>/rpc.py``, ``METHODS``): a method only one role serves
goes to that role (``get_blockchain_state`` -> full node, ``payout_now`` -> pool); one that
several roles but not all serve goes to the first of them that runs, else to the last of them
(``get_plots`` -> the farmer if it runs, else the harvester); anything else (``get_connections``,
``get_routes``) goes to the first role of the root with an RPC port. The port comes from
``--rpc-port`` or the role's ready file.
``--root`` may name a devnet or testnet directory: ``--node NAME`` then picks the node
(``full_node_1``, ``n2``, ``farm``...); without it full node methods go to the first full node
and farmer/harvester methods to the farm.

``show`` prints a full node's status (height, tips, sync progress with ETA, peers). On a devnet
or testnet directory it shows every full node of it (or the one ``--node`` names). If the root's
(or the devnet's) farmer runs, a line gives its pool: points, difficulty, partials accepted and
refused.

Exit status: 0 success, 1 the node answered an error or is not reachable, 2 bad usage.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path
from typing import Any, TextIO

from trionode import runfiles
from trionode.cli.keys import add_root_argument, root_from_args
from trionode.roles.farmer import rpc as farmer_rpc
from trionode.roles.full_node import rpc as full_node_rpc
from trionode.roles.harvester import rpc as harvester_rpc
from trionode.roles.pool import rpc as pool_rpc
from trionode.rpc.auth import CookieError, read_cookie
from trionode.rpc.client import RpcCallError, call_sync, find_rpc_port
from trionode.rpc.common import PEER_METHODS, MethodTable

__all__ = [
    "ROLE_METHODS",
    "choose_role",
    "port_number",
    "register",
    "rpc_command",
    "serving_roles",
    "show_command",
]

# The roles with an RPC, in the order ``rpc`` tries them, and the table of the methods of each.
ROLE_METHODS: dict[str, MethodTable] = {
    "full_node": full_node_rpc.METHODS,
    "farmer": farmer_rpc.METHODS,
    "harvester": harvester_rpc.METHODS,
    "timelord": PEER_METHODS,
    "introducer": PEER_METHODS,
    "pool": pool_rpc.METHODS,
}
ROLES = tuple(ROLE_METHODS)


def serving_roles(method: str) -> list[str]:
    """The roles whose method table has ``method``."""
    return [role for role, table in ROLE_METHODS.items() if method in table]


def _farm_method(method: str) -> bool:
    """A method of the farm's roles (farmer, harvester) that the full node does not serve."""
    roles = serving_roles(method)
    return "full_node" not in roles and bool({"farmer", "harvester"} & set(roles))


def register(subparsers: Any) -> None:
    """Add the ``rpc`` and ``show`` subcommands."""
    rpc = subparsers.add_parser(
        "rpc",
        help="call a method of a running node's local RPC and print the JSON answer",
        description="Call METHOD of a running role's RPC (POST /METHOD) with the token of "
        "ROOT/rpc.cookie. get_routes lists a role's methods.",
    )
    rpc.add_argument("method", metavar="METHOD", help="e.g. get_blockchain_state")
    rpc.add_argument(
        "params", metavar="JSON", nargs="?", default="{}", help="parameters (a JSON object)"
    )
    add_root_argument(rpc)
    rpc.add_argument(
        "--role",
        dest="rpc_role",
        choices=ROLES,
        help="the role to call (default: chosen by the method)",
    )
    _add_node_argument(rpc)
    _add_port_arguments(rpc)
    rpc.set_defaults(handler=rpc_command)

    show = subparsers.add_parser(
        "show",
        help="print a running full node's status: height, tips, sync, peers",
        description="Print the status of the full node running with --root (or of every full "
        "node of a devnet or testnet directory, or of its --node NAME).",
    )
    add_root_argument(show)
    _add_node_argument(show)
    _add_port_arguments(show)
    show.set_defaults(handler=show_command)


def port_number(text: str) -> int:
    """argparse type of a port flag: an integer 0-65535."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {text!r}") from None
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be a port number (0-65535), got {value}")
    return value


def _add_node_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--node",
        metavar="NAME",
        help="with --root a devnet or testnet directory: the node to use (full_node_0, "
        "full_node_1, farm, introducer of a devnet; n0, n1, farm of a testnet; farmer, "
        "harvester and timelord are the farm)",
    )


def resolve_root(args: argparse.Namespace, method: str | None = None) -> tuple[Path, str | None]:
    """The root to call (``--root``, or its ``--node`` / default node in a devnet or testnet
    directory) and the role ``--node`` names, if it names one. ValueError: a bad ``--node``."""
    base = root_from_args(args)
    node = getattr(args, "node", None)
    members = runfiles.network_members(base)
    if not members:
        if node is not None:
            raise ValueError(
                f"--node {node}: {base} is not a devnet or testnet directory (--node picks one "
                "of its nodes; give --root the directory that devnet or testnet was given)"
            )
        return base, None
    if node is not None:
        role = node if node in runfiles.FARM_ALIASES or node == "introducer" else None
        return runfiles.pick_member(base, members, node), role
    wanted = getattr(args, "rpc_role", None)
    if wanted in runfiles.FARM_ALIASES or (
        wanted is None and method is not None and _farm_method(method)
    ):
        if "farm" in members:
            return members["farm"], None
    if wanted == "introducer" and "introducer" in members:
        return members["introducer"], None
    return members[runfiles.full_node_names(members)[0]], None


def _add_port_arguments(parser: argparse.ArgumentParser) -> None:
    # SUPPRESS: the main parser has --rpc-port too; either position works.
    parser.add_argument(
        "--rpc-port",
        type=port_number,
        default=argparse.SUPPRESS,
        metavar="N",
        help="the RPC port (default: the role's ready file under ROOT/run)",
    )
    parser.add_argument("--host", default="127.0.0.1", help=argparse.SUPPRESS)


def choose_role(root: Path, method: str) -> str:
    """The role of ``root`` that serves ``method`` (see the module docstring)."""
    roles = serving_roles(method)
    specific = 0 < len(roles) < len(ROLE_METHODS)
    for role in roles if specific else ROLES:
        if find_rpc_port(root, role) is not None:
            return role
    return roles[-1] if specific else "full_node"


def _port(args: argparse.Namespace, root: Path, role: str) -> int:
    port = getattr(args, "rpc_port", None)
    if port is not None:
        return int(port)
    found = find_rpc_port(root, role)
    if found is None:
        raise RpcCallError(
            0,
            "not_running",
            f"no {role} RPC port in {runfiles.ready_path(root, role)}: is the {role} running "
            "with this --root? (or give --rpc-port)",
        )
    return found


def _unreachable_hint(exc: RpcCallError, root: Path, role: str) -> str:
    """A call that reached nobody: most likely the role is not running (any more)."""
    if exc.code == "not_running":
        return str(exc)
    return f"{exc} (is the {role} of {root} running? its ready file names that port)"


def _fail(message: str, out: TextIO) -> int:
    print(f"trionode: {message}", file=out)
    return 1


def rpc_command(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    root = root_from_args(args)
    try:
        params = json.loads(args.params)
    except ValueError as exc:
        print(f"trionode: JSON parameters: {exc}", file=sys.stderr)
        return 2
    if not isinstance(params, dict):
        print(
            "trionode: JSON parameters must be an object, e.g. '{\"height\": 3}'", file=sys.stderr
        )
        return 2
    try:
        root, node_role = resolve_root(args, args.method)
        port_flag = getattr(args, "rpc_port", None)
        if port_flag is not None:
            port_number(str(port_flag))
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return 2
    role = args.rpc_role or node_role or choose_role(root, args.method)
    try:
        token = read_cookie(root)
        port = _port(args, root, role)
        answer = call_sync(port, token, args.method, params, host=args.host)
    except CookieError as exc:
        return _fail(str(exc), sys.stderr)
    except RpcCallError as exc:
        if exc.status:
            print(
                json.dumps({"success": False, "error": exc.message, "code": exc.code}, indent=2),
                file=out,
            )
            return _fail(str(exc), sys.stderr)
        return _fail(_unreachable_hint(exc, root, role), sys.stderr)
    print(json.dumps(answer, indent=2, sort_keys=True), file=out)
    return 0


# -- show ---------------------------------------------------------------------------------------


def _full_node_roots(root: Path) -> list[Path]:
    """``root`` itself, or the full nodes of a devnet or testnet directory."""
    members = runfiles.network_members(root)
    return [members[n] for n in runfiles.full_node_names(members)] or [root]


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "?"
    seconds = int(seconds)
    if seconds < 60:
        return f"{seconds}s"
    if seconds < 3600:
        return f"{seconds // 60}m{seconds % 60:02d}s"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def format_sync(sync: dict[str, Any]) -> str:
    if not sync.get("syncing"):
        return "not syncing (following the network block by block)"
    progress = float(sync.get("progress") or 0.0)
    rate = sync.get("blocks_per_second")
    return (
        f"syncing {100 * progress:.1f}% (height {sync.get('height', '?')} of "
        f"{sync.get('target_height', '?')}, "
        f"{'?' if rate is None else f'{rate:.1f}'} blocks/s, ETA {_duration(sync.get('eta_seconds'))})"
    )


def format_status(
    name: str, port: int, state: dict[str, Any], connections: list[dict[str, Any]]
) -> str:
    lines = [f"{name}: full node on network {state['network']}, RPC port {port}"]
    if state["height"] is None:
        lines.append("  chain       empty (waiting for a genesis block)")
    else:
        lines.append(
            f"  height      {state['height']}  weight {state['weight']}  "
            f"difficulty {state['difficulty']}  ips {state['ips']}"
        )
        lines.append(f"  peak        {state['peak']}")
    tips = state["tips"]
    lines.append(f"  tips        {len(tips)}")
    for tip in tips:
        lines.append(
            f"    {tip['header_hash'][:16]}  height {tip['height']}  weight {tip['weight']}"
        )
    lines.append(f"  sync        {format_sync(state['sync'])}")
    if state.get("mempool_size") is not None:
        lines.append(f"  mempool     {state['mempool_size']} transactions")
    lag = state.get("event_loop_lag")
    if lag is not None:
        lines.append(
            f"  loop lag    {1000 * lag['current']:.1f} ms now, "
            f"{1000 * lag['max']:.1f} ms max recently"
        )
    peers = ", ".join(f"{k} {v}" for k, v in sorted(state["peers"].items()))
    lines.append(f"  peers       {len(connections)} ({peers})")
    for c in connections:
        arrow = "->" if c["outbound"] else "<-"
        lines.append(
            f"    {c['type'] or '?':<10} {arrow} {c['host']}:{c['server_port'] or c['port']:<6} "
            f"{c['node_id'][:16]}  up {_duration(c['connected_seconds'])}"
        )
    return "\n".join(lines)


def show_command(args: argparse.Namespace, *, out: TextIO | None = None) -> int:
    out = out or sys.stdout
    base = root_from_args(args)
    try:
        port_flag = getattr(args, "rpc_port", None)
        if port_flag is not None:
            port_number(str(port_flag))
        if getattr(args, "node", None) is not None:
            roots = [resolve_root(args)[0]]
        else:
            roots = _full_node_roots(base)
    except (ValueError, argparse.ArgumentTypeError) as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return 2
    status = 0
    for root in roots:
        name = str(root) if root == base else root.name
        try:
            token = read_cookie(root)
            port = _port(args, root, "full_node")
            state = call_sync(port, token, "get_blockchain_state", host=args.host)
            conns = call_sync(port, token, "get_connections", host=args.host)
        except CookieError as exc:
            print(f"{name}: {exc}", file=out)
            status = 1
            continue
        except RpcCallError as exc:
            print(
                f"{name}: {exc if exc.status else _unreachable_hint(exc, root, 'full_node')}",
                file=out,
            )
            status = 1
            continue
        print(format_status(name, port, state["blockchain_state"], conns["connections"]), file=out)
    for line in _farm_pool_lines(args, base):
        print(line, file=out)
    return status


def format_pool(name: str, pool: dict[str, Any] | None) -> str:
    """One line on the farm's pool (``get_rewards``' ``pool``), or that it farms solo."""
    if pool is None:
        return f"{name}: farmer farms solo (no pool configured)"
    refused = sum(pool.get("partials_refused", {}).values())
    return (
        f"{name}: pool {(pool.get('pool_contract_puzzle_hash') or '?')[:16]} "
        f"{'joined' if pool.get('joined') else 'not joined'}, points {pool.get('points', 0)}, "
        f"difficulty {pool.get('difficulty', 0)}, partials {pool.get('partials_accepted', 0)} "
        f"accepted / {refused} refused"
    )


def _farm_pool_lines(args: argparse.Namespace, base: Path) -> list[str]:
    """The pool points of the farm of ``base`` (or of a devnet's farm), if its farmer runs."""
    lines = []
    for root in (base, base / "farm"):
        if not runfiles.ready_path(root, "farmer").exists():
            continue
        name = str(root) if root == base else root.name
        try:
            token = read_cookie(root)
            port = find_rpc_port(root, "farmer")  # --rpc-port names the full node's
            if port is None:
                continue
            rewards = call_sync(port, token, "get_rewards", host=args.host)
        except (CookieError, RpcCallError, ValueError) as exc:
            lines.append(f"{name}: farmer: {exc}")
            continue
        lines.append(format_pool(name, rewards.get("pool")))
    return lines
