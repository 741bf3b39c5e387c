"""What the wallet commands need from a full node, over the wire only (wallet protocol,
docs/protocol.md section 6): its coins, verified, and a way to submit a payment.

:class:`WalletSession` connects to one full node as a peer of type WALLET (its own TLS identity
under the wallet's root), opens the wallet's own store (``ROOT/wallet/wallet_<network>.sqlite``,
:mod:`trionode.storage.wallet_store`) and runs a :class:`~trionode.wallet.light.LightWallet`
over the connection. No database of the node is opened. A node whose replies do not verify is
disconnected, banned for the session (``UNTRUSTED_BAN_SECONDS``) and the command fails with the
reason.

Submitting: ``NewTransaction``, then ``RequestTransaction`` for its id until the node holds it
(accepted) or the caller's deadline passes (refused: the node's log says why). A later sync
sees it land: its coins spent and the payment's outputs created, checked against the headers.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import trio

from trionode.consensus import CoinRecord, get_constants
from trionode.nursery import unwrapped_exception_groups
from trionode.peers.connection import PeerConnection
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
from trionode.storage.wallet_store import WalletStore, default_wallet_db_url
from trionode.wallet.light import LightWallet, UntrustedNode, WalletError
from trionode.wire import bytes32

__all__ = [
    "UNTRUSTED_BAN_SECONDS",
    "UntrustedNode",
    "WalletError",
    "WalletSession",
    "wallet_session",
]

logger = logging.getLogger(__name__)

# A node caught lying to the wallet is not dialed again for this long (an hour).
UNTRUSTED_BAN_SECONDS = 3600.0


class WalletSession:
    """A light wallet connected to one full node; made by :func:`wallet_session`."""

    def __init__(
        self, host: str, port: int, node: PeerNode, conn: PeerConnection, wallet: LightWallet
    ) -> None:
        self.host, self.port = host, port
        self.node = node
        self.conn = conn
        self.wallet = wallet

    def _connection(self) -> PeerConnection:
        if self.conn is None or self.conn.close_reason is not None:
            raise WalletError(f"not connected to the full node {self.host}:{self.port}")
        return self.conn

    async def sync(self) -> list[CoinRecord]:
        """Sync headers and coins from the node; the wallet's unspent coins. A node whose data
        does not verify is dropped and banned, and UntrustedNode raised."""
        conn = self._connection()
        try:
            await self.wallet.sync(conn)
        except UntrustedNode as exc:
            reason = f"sent data that does not verify: {exc}"
            assert self.node is not None
            self.node.bans.ban(conn.host, UNTRUSTED_BAN_SECONDS, reason)
            conn.close(reason)
            logger.warning("wallet: dropped and banned the full node %r: %s", conn, reason)
            raise UntrustedNode(
                f"the full node {self.host}:{self.port} {reason}; disconnected and banned"
            ) from None
        except PeerRequestError as exc:
            raise WalletError(f"the full node {self.host}:{self.port} went away: {exc}") from None
        return await self.wallet.coins()

    async def submit(self, tx: Transaction) -> None:
        """Send ``tx`` and wait until the node holds it (the caller applies the deadline)."""
        conn = self._connection()
        tx_id = tx.get_hash()
        try:
            await conn.send(NewTransaction(tx))
            while True:
                try:
                    reply = await conn.request(RequestTransaction(tx_id), reply_within=5.0)
                except PeerErrorReply:
                    await trio.sleep(0.2)  # not (yet) in its mempool
                    continue
                if isinstance(reply, NewTransaction) and reply.transaction.get_hash() == tx_id:
                    return
        except PeerRequestError as exc:
            raise WalletError(f"the full node went away: {exc}") from None


@asynccontextmanager
async def wallet_session(
    root: Path,
    network: str,
    host: str,
    port: int,
    puzzle_hashes: Iterable[bytes32],
    *,
    scan_all: bool = False,
    db_url: str | None = None,
) -> AsyncIterator[WalletSession]:
    """Open the wallet's store under ``root``, connect to the full node at ``host:port`` as a
    WALLET peer, and yield the session; everything is closed when the block ends. Raises
    WalletError if the node cannot be reached."""
    constants = get_constants(network)
    store = await WalletStore.open(db_url or default_wallet_db_url(Path(root), network))
    try:
        wallet = LightWallet(constants, store, puzzle_hashes, scan_all=scan_all)
        node = PeerNode(
            PeerNodeConfig(network_id=constants.genesis_challenge, node_type=NodeType.WALLET),
            make_websocket_transport(NodeIdentity.public(Path(root), "wallet")),
        )
        # The caller gets WalletError / UntrustedNode itself, not a group of one.
        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                await nursery.start(node.run)
                try:
                    try:
                        conn = await node.connect(host, port)
                    except (DialError, RemoteProtocolError, TransportClosed, OSError) as exc:
                        raise WalletError(
                            f"cannot connect to the full node {host}:{port}: {exc}"
                        ) from None
                    yield WalletSession(host, port, node, conn, wallet)
                finally:
                    node.stop()
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()
