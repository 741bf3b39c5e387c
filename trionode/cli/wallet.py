"""``python -m trionode wallet send|balance``: move the farm's coins on a local network.

    wallet balance --root FARM_ROOT|DIR [--node NAME] [--node-root NODE_ROOT]
                   [--full-node HOST:PORT] [--network NAME] [--db URL] [--scan-all]
    wallet send --root FARM_ROOT|DIR --to PUZZLE_HASH_HEX --amount MOJOS [--fee MOJOS]
                [--node NAME] [--node-root NODE_ROOT] [--full-node HOST:PORT]
                [--network NAME] [--db URL] [--timeout SECONDS] [--scan-all]

Keys come from FARM_ROOT's keychain (coinbase rewards are paid to sha256(pool pk), fees to
sha256(farmer pk)). Both commands are light clients of one full node over the wire (wallet
protocol, :mod:`trionode.wallet.client`): ``--full-node`` (default: the node of NODE_ROOT, from
its ready file, on 127.0.0.1; NODE_ROOT defaults to FARM_ROOT; given a devnet or testnet
directory DIR, the farm is ``DIR/farm`` and the node ``--node`` or the first full node). They verify the headers and coin lists the node sends and keep them in the
wallet's own store (``FARM_ROOT/wallet/wallet_NETWORK.sqlite``, or ``--db``); no database of the
node is opened. ``send`` syncs, builds the payment from the verified coins and submits it.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import trio

from trionode import runfiles
from trionode.cli.keys import root_from_args
from trionode.consensus import CoinRecord
from trionode.keys.keychain import Keychain, KeychainError
from trionode.protocols.chain_types import Transaction
from trionode.wallet.client import WalletError, wallet_session
from trionode.wallet.payment import InsufficientFunds, build_payment, owned_puzzle_hashes
from trionode.wire import bytes32

__all__ = ["register"]


def register(subparsers: Any) -> argparse.ArgumentParser:
    wallet = subparsers.add_parser("wallet", help="spend the farm's coins (send, balance)")
    commands = wallet.add_subparsers(dest="wallet_command", required=True)
    balance = commands.add_parser("balance", help="unspent coins of the farm's keys")
    _common(balance)
    balance.set_defaults(handler=cmd_balance)
    send = commands.add_parser("send", help="pay an amount to a puzzle hash")
    _common(send)
    send.add_argument("--to", required=True, help="recipient puzzle hash (64 hex digits)")
    send.add_argument(
        "--amount",
        required=True,
        type=int,
        metavar="MOJOS",
        help="amount to pay, in mojos (the chain's smallest unit, an integer)",
    )
    send.add_argument(
        "--fee",
        type=int,
        default=0,
        metavar="MOJOS",
        help="fee for the farmer, in mojos (default 0)",
    )
    send.add_argument(
        "--timeout",
        type=float,
        default=15.0,
        metavar="SECONDS",
        help="seconds to wait for the node to accept the transaction (default 15)",
    )
    send.set_defaults(handler=cmd_send)
    return wallet


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help="the farm's root, which holds its keys (devnet: DIR/farm), or a devnet or testnet "
        "directory (its farm and first full node) (default: $TRIONODE_ROOT or ~/.trionode)",
    )
    parser.add_argument(
        "--node-root",
        type=Path,
        default=None,
        metavar="DIR",
        help="the root of the full node to use, found by its ready file (default: --root)",
    )
    parser.add_argument(
        "--node",
        metavar="NAME",
        help="with --root a devnet or testnet directory: the full node to use "
        "(full_node_0, full_node_1... of a devnet; n0, n1... of a testnet)",
    )
    parser.add_argument("--network", default=None, help="network name (default: the node's)")
    parser.add_argument(
        "--full-node",
        default=None,
        metavar="HOST:PORT",
        help="peer address of the full node to use (default: the node of --node-root, from "
        "its ready file)",
    )
    parser.add_argument(
        "--db",
        default=None,
        metavar="URL",
        help="the wallet's own store (default: FARM_ROOT/wallet/wallet_NETWORK.sqlite)",
    )
    parser.add_argument(
        "--scan-all",
        action="store_true",
        help="check the coin lists of every block (misses nothing; the node learns no address)",
    )


def _roots(args: argparse.Namespace) -> tuple[Path, Path]:
    """(farm root, node root): from --root/--node-root, or a devnet/testnet directory and
    --node. ValueError for a --node that does not fit."""
    base = root_from_args(args)
    members = runfiles.network_members(base)
    node = getattr(args, "node", None)
    if not members:
        if node is not None:
            raise ValueError(
                f"--node {node}: {base} is not a devnet or testnet directory (give --root the "
                "directory that devnet or testnet was given)"
            )
        return base, Path(args.node_root) if args.node_root else base
    if "farm" not in members:
        raise ValueError(f"--root {base}: this network directory has no farm (no keys)")
    full_nodes = runfiles.full_node_names(members)
    if node is None:
        node_root = members[full_nodes[0]]
    elif node in full_nodes:
        node_root = members[node]
    else:
        raise ValueError(
            f"--node {node}: not a full node of {base}; its full nodes are {', '.join(full_nodes)}"
        )
    return members["farm"], Path(args.node_root) if args.node_root else node_root


def _keys_hint(root: Path, exc: KeychainError) -> str:
    """The keychain's error, with where the keys are when ``root`` is a node of a network."""
    parent = runfiles.network_members(root.parent)
    if root.name != "farm" and "farm" in parent:
        return (
            f"no farm keys in {root}: the keys of this network are in {parent['farm']} "
            f"(give --root {root.parent}, or --root {parent['farm']})"
        )
    return str(exc)


def _network(args: argparse.Namespace, node_root: Path) -> str:
    if args.network:
        return str(args.network)
    ready = runfiles.read_json(runfiles.ready_path(node_root, "full_node"))
    if isinstance(ready, dict) and isinstance(ready.get("network"), str):
        return ready["network"]
    return "devnet"


def _keys(root: Path) -> Any:
    return Keychain(root).farm_keys()


def _error(message: str, code: int) -> int:
    print(f"trionode: {message}", file=sys.stderr)
    return code


def _node_address(args: argparse.Namespace, node_root: Path) -> tuple[str, int]:
    """``--full-node``, else the full node running under NODE_ROOT (its ready file)."""
    full_node = getattr(args, "full_node", None)
    if full_node:
        return _parse_address(full_node)
    ready = runfiles.read_json(runfiles.ready_path(node_root, "full_node"))
    if not isinstance(ready, dict) or not isinstance(ready.get("port"), int):
        raise WalletError(f"no running full node under {node_root}: give --full-node")
    return "127.0.0.1", int(ready["port"])


async def _sync(
    args: argparse.Namespace, root: Path, network: str, address: tuple[str, int], keys: Any
) -> list[CoinRecord]:
    async with wallet_session(
        root,
        network,
        *address,
        owned_puzzle_hashes(keys),
        scan_all=bool(getattr(args, "scan_all", False)),
        db_url=args.db,
    ) as session:
        return await session.sync()


def cmd_balance(args: argparse.Namespace) -> int:
    try:
        root, node_root = _roots(args)
    except ValueError as exc:
        return _error(str(exc), 2)
    try:
        keys = _keys(root)
        address = _node_address(args, node_root)
        network = _network(args, node_root)
        _quiet_peer_layer()
        coins = trio.run(_sync, args, root, network, address, keys)
    except ValueError as exc:
        return _error(str(exc), 2)
    except KeychainError as exc:
        return _error(_keys_hint(root, exc), 1)
    except WalletError as exc:
        return _error(str(exc), 1)
    for name, ph in (("pool", keys.pool_puzzle_hash), ("farmer", keys.farmer_puzzle_hash)):
        mine = [c for c in coins if c.coin.puzzle_hash == ph and c.coin.amount > 0]
        total = sum(int(c.coin.amount) for c in mine)
        print(f"{name:6} {ph.hex()}: {total} in {len(mine)} coins")
    print(f"total  {sum(int(c.coin.amount) for c in coins)}")
    return 0


def _quiet_peer_layer() -> None:
    """A one-shot client: the connection it opens and closes again is no news for the
    operator (a failure reaches them as WalletError), so the peer layer stays quiet."""
    logging.getLogger("trionode.peers").setLevel(logging.ERROR)


def _parse_address(value: str) -> tuple[str, int]:
    host, sep, port = value.rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ValueError(f"--full-node must be HOST:PORT, not {value!r}")
    return host.strip("[]"), int(port)


def cmd_send(args: argparse.Namespace) -> int:
    try:
        root, node_root = _roots(args)
    except ValueError as exc:
        return _error(str(exc), 2)
    try:
        to = bytes32(bytes.fromhex(args.to))
    except ValueError:
        return _error(f"--to must be 64 hex digits, not {args.to!r}", 2)
    try:
        keys = _keys(root)
        host, port = _node_address(args, node_root)
        network = _network(args, node_root)
        _quiet_peer_layer()

        async def send() -> Transaction:
            async with wallet_session(
                root,
                network,
                host,
                port,
                owned_puzzle_hashes(keys),
                scan_all=bool(getattr(args, "scan_all", False)),
                db_url=args.db,
            ) as session:
                coins = await session.sync()
                tx = build_payment(keys, coins, to, args.amount, args.fee)
                try:
                    with trio.fail_after(args.timeout):
                        await session.submit(tx)
                except trio.TooSlowError:
                    raise WalletError(
                        f"the full node did not accept transaction {tx.get_hash().hex()} "
                        f"within {args.timeout:g} s (its log says why)"
                    ) from None
                return tx

        tx = trio.run(send)
    except ValueError as exc:
        return _error(str(exc), 2)
    except KeychainError as exc:
        return _error(_keys_hint(root, exc), 1)
    except (WalletError, InsufficientFunds) as exc:
        return _error(str(exc), 1)
    print(f"transaction {tx.get_hash().hex()} accepted by {host}:{port}")
    return 0
