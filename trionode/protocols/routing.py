"""Which messages each role handles, and from which node types (STYLE.md 5).

``ROUTES[receiver][message type]`` is the set of node types (from the peer's Handshake) a node of
role ``receiver`` takes that message from. A connection checks it on the message's first byte,
before decoding anything (docs/protocol.md section 1): a type its role does not handle, or one
the peer's node type may not send, closes the connection and bans the peer.

Not in the table, because they are matched separately:

- a *reply* (a type of ``REPLY_TYPES``' values or ``error``, carrying an id) answers one of our
  open requests on that connection; one that answers none is a protocol violation;
- ``error`` without an id may come from anyone (it is logged, within its rate limit).

Some reply types are also announcements in their own right (``block``, ``new_transaction``,
``respond_plots``, ``proof_of_space_arrived``...): without an id they are routed like any other.

A role's registered handlers must be a subset of its row (``PeerNode.register_api`` refuses
others); a routed type without a handler is answered ``Error(NOT_SUPPORTED)`` (a request) or
ignored (an announcement), not punished: the table says what the protocol allows, the handlers
what this build serves.
"""

from __future__ import annotations

from collections.abc import Mapping

from trionode.protocols.protocol_message_types import ProtocolMessageTypes as T
from trionode.protocols.shared_protocol import NodeType

__all__ = ["ROUTES", "accepted_from", "handled_by", "why_refused"]

_FULL_NODE = frozenset({NodeType.FULL_NODE})
_FULL_NODE_OR_WALLET = frozenset({NodeType.FULL_NODE, NodeType.WALLET})
_WALLET = frozenset({NodeType.WALLET})
_FARMER = frozenset({NodeType.FARMER})
_HARVESTER = frozenset({NodeType.HARVESTER})
_TIMELORD = frozenset({NodeType.TIMELORD})
_POOL = frozenset({NodeType.POOL})

ROUTES: Mapping[NodeType, Mapping[T, frozenset[NodeType]]] = {
    NodeType.FULL_NODE: {
        # farmer protocol (seed 000)
        T.request_header_hash: _FARMER,
        T.header_signature: _FARMER,
        # timelord protocol: only a timelord finishes proofs of time
        T.proof_of_time_finished: _TIMELORD,
        # peer protocol
        T.new_proof_of_time: _FULL_NODE,
        T.unfinished_block: _FULL_NODE,
        T.request_block: _FULL_NODE,
        T.block: _FULL_NODE,
        T.request_peers: _FULL_NODE,
        T.request_all_header_hashes: _FULL_NODE,
        T.request_header_blocks: _FULL_NODE,
        T.request_sync_blocks: _FULL_NODE,
        T.transaction_id: _FULL_NODE,
        # a wallet submits a transaction and asks whether the node holds it (seed 000's
        # wallet <-> full node link; trionode.wallet.client)
        T.request_transaction: _FULL_NODE_OR_WALLET,
        T.new_transaction: _FULL_NODE_OR_WALLET,
        # wallet protocol (docs/protocol.md section 6): a light wallet's requests
        T.request_wallet_peak: _WALLET,
        T.request_wallet_headers: _WALLET,
        T.request_coin_heights: _WALLET,
        T.request_block_coins: _WALLET,
    },
    NodeType.FARMER: {
        # from its harvesters (seed 001, and the legacy seed 000 protocol)
        T.new_proof_of_space: _HARVESTER,
        T.respond_plots: _HARVESTER,  # also announced when a harvester's plots change
        T.challenge_response: _HARVESTER,
        # from its full node (seed 000 farmer protocol)
        T.proof_of_space_finalized: _FULL_NODE,
        T.proof_of_space_arrived: _FULL_NODE,
        T.proof_of_time_rate: _FULL_NODE,
        # from its pool (docs/protocol.md section 5)
        T.pool_difficulty_changed: _POOL,
    },
    NodeType.HARVESTER: {
        T.harvester_handshake: _FARMER,
        T.new_signage_point_harvester: _FARMER,
        T.request_signatures: _FARMER,
        T.request_plots: _FARMER,
        T.harvester_handshake_v1: _FARMER,
        T.new_challenge: _FARMER,
        T.request_proof_of_space: _FARMER,
        T.request_header_signature: _FARMER,
        T.request_partial_proof: _FARMER,
    },
    NodeType.TIMELORD: {
        T.challenge_start: _FULL_NODE,
        T.proof_of_space_info: _FULL_NODE,
    },
    # The pool serves farmers on its own port; it follows its full node over a separate link on
    # which it presents itself as a farmer (so that link is routed by the FARMER row).
    NodeType.POOL: {
        T.request_pool_info: _FARMER,
        T.join_pool: _FARMER,
        T.submit_partial: _FARMER,
    },
    NodeType.INTRODUCER: {
        T.request_peers_introducer: _FULL_NODE,
    },
    # A wallet only sends requests; what it gets back are replies to them (the wallet protocol
    # has no announcements), matched by id before this table.
    NodeType.WALLET: {},
}


def handled_by(receiver: NodeType) -> frozenset[T]:
    """The message types a node of role ``receiver`` handles (from some node type)."""
    return frozenset(ROUTES[receiver])


def accepted_from(receiver: NodeType, sender: NodeType) -> frozenset[T]:
    """The message types a ``receiver`` node takes (as announcements or requests) from a peer
    whose Handshake said ``sender``. ``error`` without an id is always accepted."""
    row = ROUTES[receiver]
    return frozenset(t for t, senders in row.items() if sender in senders) | {T.error}


def why_refused(receiver: NodeType, sender: NodeType, mtype: T) -> str:
    """The specific reason a ``receiver`` refuses ``mtype`` from ``sender`` (for the ban)."""
    who = receiver.name.lower()
    senders = ROUTES[receiver].get(mtype)
    if senders is None:
        return f"{mtype.name} is not handled by a {who}"
    allowed = " or ".join(sorted(s.name.lower() for s in senders))
    return f"{mtype.name} from a {sender.name.lower()}: a {who} takes it only from a {allowed}"
