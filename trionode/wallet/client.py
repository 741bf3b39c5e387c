"""What the wallet command needs from a full node: its coins and a way to submit.

Coins: the node's chain store is opened read-only in spirit (no write: the schema must already
exist) and its coin set, which follows the heaviest tip, is queried by puzzle hash. This works
for a node on this machine (its root, or ``--db`` for PostgreSQL); there are no peer messages
to ask a node for coins by puzzle hash in this protocol.

Submitting: the wallet connects as a peer of type WALLET (its own TLS identity under its root)
and sends ``NewTransaction``; it then asks ``RequestTransaction`` for the id until the node
holds it (accepted) or the deadline passes (refused: the node's log says why).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import trio

from trionode.consensus import CoinRecord, get_constants
from trionode.peers.errors import (
    DialError,
    PeerErrorReply,
    PeerRequestError,
    RemoteProtocolError,
    TransportClosed,
)
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.chain_types import Transaction
from trionode.protocols.peer_protocol import NewTransaction, RequestTransaction
from trionode.protocols.shared_protocol import NodeType
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_path, default_db_url
from trionode.wire import bytes32

logger = logging.getLogger(__name__)


class WalletError(Exception):
    """A wallet command cannot proceed (missing store, node unreachable, refused)."""


async def find_coins(
    node_root: Path, network: str, puzzle_hashes: Iterable[bytes32], db_url: str | None = None
) -> list[CoinRecord]:
    """Unspent coins of ``puzzle_hashes`` on the heaviest chain of the node's store."""
    if db_url is None:
        path = default_db_path(node_root, network)
        if not path.is_file():
            raise WalletError(f"no {network} chain store at {path} (is --node-root right?)")
        db_url = default_db_url(node_root, network)
    store = await ChainStore.open(db_url, readers=1, check=False)
    try:
        out: list[CoinRecord] = []
        for ph in puzzle_hashes:
            out.extend(await store.get_coin_records_by_puzzle_hash(ph, include_spent=False))
        return out
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()


async def submit_transaction(
    root: Path, network: str, host: str, port: int, tx: Transaction
) -> None:
    """Send ``tx`` to the full node at ``host:port`` and wait until it holds it (the caller
    applies the deadline). Raises WalletError if the node cannot be reached or goes away."""
    constants = get_constants(network)
    node = PeerNode(
        PeerNodeConfig(network_id=constants.genesis_challenge, node_type=NodeType.WALLET),
        make_websocket_transport(NodeIdentity.public(root, "wallet")),
    )
    tx_id = tx.get_hash()
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        try:
            try:
                conn = await node.connect(host, port)
            except (DialError, RemoteProtocolError, TransportClosed, OSError) as exc:
                raise WalletError(f"cannot connect to the full node {host}:{port}: {exc}") from None
            await conn.send(NewTransaction(tx))
            while True:
                try:
                    reply = await conn.request(RequestTransaction(tx_id), reply_within=5.0)
                except PeerErrorReply:
                    await trio.sleep(0.2)  # not (yet) in its mempool
                    continue
                except PeerRequestError as exc:
                    raise WalletError(f"the full node went away: {exc}") from None
                if isinstance(reply, NewTransaction) and reply.transaction.get_hash() == tx_id:
                    return
        finally:
            node.stop()
