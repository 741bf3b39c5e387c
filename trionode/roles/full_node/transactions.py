"""Transaction gossip: ``TransactionId`` announces, ``RequestTransaction`` fetches,
``NewTransaction`` delivers; a transaction new to the mempool is announced to the other full
nodes by id. A full node relaying a transaction that consensus says is invalid whatever the
coin set is banned (:attr:`~trionode.mempool.AddResult.peer_at_fault`)."""

from __future__ import annotations

import logging

from trionode.mempool import AddResult, MempoolManager
from trionode.mempool.mempool import AddStatus
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import BAN_INVALID_BLOCK_SECONDS, PeerRequestError, RemoteProtocolError
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import Transaction
from trionode.protocols.peer_protocol import NewTransaction, RequestTransaction, TransactionId
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.full_node.gossip import GossipState
from trionode.roles.full_node.outbox import Outbox
from trionode.sync.budget import RequestBudget
from trionode.wire import bytes32

logger = logging.getLogger(__name__)


class InvalidTransactionFromPeer(RemoteProtocolError):
    ban_seconds = BAN_INVALID_BLOCK_SECONDS


class TransactionGossip:
    def __init__(
        self,
        mempool: MempoolManager,
        gossip: GossipState,
        outbox: Outbox,
        budget: RequestBudget,
    ) -> None:
        self.mempool = mempool
        self.gossip = gossip
        self.outbox = outbox
        self.budget = budget

    async def add_transaction(self, tx: Transaction, *, source: PeerConnection | None) -> AddResult:
        """Validate ``tx`` against the heaviest tip and hold it; announce it by id to the other
        full nodes if it is new. Raises InvalidTransactionFromPeer for a full node relaying a
        transaction that is invalid whatever the coin set."""
        tx_id = tx.get_hash()
        self.gossip.transactions.add(tx_id)
        result = await self.mempool.add_transaction(tx)
        if result.added:
            await self.outbox.broadcast(TransactionId(tx_id), exclude=source)
        elif result.status is AddStatus.INVALID:
            logger.info(
                "transaction %s from %r refused: %s", tx_id.hex()[:16], source, result.describe()
            )
            if (
                source is not None
                and source.node_type is NodeType.FULL_NODE
                and result.peer_at_fault
            ):
                raise InvalidTransactionFromPeer(f"invalid transaction: {result.describe()}")
        return result

    async def transaction_announced(self, tx_id: bytes32, peer: PeerConnection) -> None:
        """A TransactionId: fetch the transaction if it is new to us."""
        if tx_id in self.mempool.mempool or not self.gossip.transactions.add(tx_id):
            return
        if not self.budget.try_spend(peer, T.request_transaction):
            self.gossip.transactions.discard(tx_id)  # another announcement may fetch it
            logger.debug("request budget to %r spent: transaction %s not fetched", peer, tx_id)
            return
        try:
            reply = await peer.request(RequestTransaction(tx_id))
        except PeerRequestError as exc:
            self.gossip.transactions.discard(tx_id)
            logger.debug("could not fetch transaction %s: %s", tx_id.hex()[:16], exc)
            return
        if not isinstance(reply, NewTransaction) or reply.transaction.get_hash() != tx_id:
            raise InvalidTransactionFromPeer("answered RequestTransaction with another transaction")
        await self.add_transaction(reply.transaction, source=peer)
