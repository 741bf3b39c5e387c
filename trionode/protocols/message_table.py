"""Every peer message in one table: its number, class, reply, route, size cap and rate.

These are the protocol's state rules in one place (STYLE.md 5): the connection layer consults
them instead of spreading message knowledge across handlers. Adding a message is its class in
``protocols/<x>_protocol.py``, its number in ``ProtocolMessageTypes`` and its row in ``MESSAGES``
below (plus, if a role serves it, one handler). Everything else is derived from the rows:

- ``MESSAGE_CLASSES`` / ``MESSAGE_TYPES``: which class each number carries, and back;
- ``REPLY_TYPES``: request -> the reply that answers it (with the request's id). Any request may
  instead be answered with ``error``. Legacy ``new_challenge`` has no reply: seed 000's harvester
  answers it with zero or more ``challenge_response`` announcements (one per quality), not one;
- ``ROUTES``: which role takes the type, from which node types (``trionode.protocols.routing``
  states the rules and answers questions about it);
- ``MESSAGE_SIZE_CAPS`` and ``MESSAGE_RATE_LIMITS``: the largest envelope of the type, and how
  many (messages, window seconds) a peer may send (``trionode.peers.limits`` applies both).

Size caps (docs/protocol.md section 1). A node checks the cap of a message's type on the raw
bytes, before decoding anything, and a message above it is a protocol violation. Each cap is the
largest message an honest node can send, with a margin, derived from the message's fields:

- an envelope adds at most 8 bytes (type, optional id, payload length);
- a ProofOfSpace is at most 568 bytes (a k=50 proof is 400 bytes), a ProofOfTime 245 (a 100-byte
  output and a 100-byte Wesolowski witness), a HeaderBlock about 1,250, a G1 key 48, a G2
  signature 96;
- a FullBlock is its transactions (consensus MAX_BLOCK_COST: 1,000,000 bytes on every network)
  plus about 1,600 bytes of proofs, header and body: the block cap leaves 48 KiB of margin,
  and a test builds the largest valid-sized block of each network and checks it fits;
- a responder serves at most 32 blocks or headers a request (PROTOCOL.md section 4), a full
  node at most 1,000 peers (``peers.api.MAX_PEERS_SENT``), an introducer at most 20;
- strings a peer chooses (plot identifiers, error messages) get a few KiB.

Three have no bound of their own and may use the whole maximum message size
(``peers.max_message_size``): ``all_header_hashes`` grows with the chain (32 bytes a block),
``sync_blocks`` carries 32 blocks, and ``respond_plots`` lists every plot of a harvester. All
three are decoded in a worker thread above ``peers.decode_in_thread_bytes``.

Rates are per peer; every type has one. Replies that answer one of our open requests are not
counted (their number is bounded by our requests). The rates are set so an honest node never
trips them: a long sync asks one peer for at most a few batches a second, gossip relays each
block, proof and transaction once per peer.

Routes (``trionode.protocols.routing``): a type without a route is a reply or ``error``, matched
separately; a routed type is handled by exactly one role.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from trionode.protocols import (
    farmer_protocol as farmer,
)
from trionode.protocols import (
    harvester_protocol as harvester,
)
from trionode.protocols import (
    harvester_protocol_v1 as harvester_v1,
)
from trionode.protocols import (
    introducer_protocol as introducer,
)
from trionode.protocols import (
    peer_protocol as peer,
)
from trionode.protocols import (
    pool_protocol as pool,
)
from trionode.protocols import (
    shared_protocol as shared,
)
from trionode.protocols import (
    timelord_protocol as timelord,
)
from trionode.protocols import (
    wallet_protocol as wallet,
)
from trionode.protocols.shared_protocol import NodeType
from trionode.wire import DecodeError, Message, Streamable, uint8, uint16


class ProtocolMessageTypes(enum.IntEnum):
    """Message type numbers (PROTOCOL.md section 1). Numbers are fixed forever; never reuse one."""

    # shared (seed 002)
    handshake = 1
    handshake_ack = 2
    error = 3

    # harvester protocol (seed 001)
    harvester_handshake = 10
    new_signage_point_harvester = 11
    new_proof_of_space = 12
    request_signatures = 13
    respond_signatures = 14
    request_plots = 15
    respond_plots = 16

    # legacy harvester protocol (seeds 000/003)
    harvester_handshake_v1 = 20
    new_challenge = 21
    challenge_response = 22
    request_proof_of_space = 23
    respond_proof_of_space = 24
    request_header_signature = 25
    respond_header_signature = 26
    request_partial_proof = 27
    respond_partial_proof = 28

    # farmer protocol
    proof_of_space_finalized = 30
    proof_of_space_arrived = 31
    request_header_hash = 32
    header_hash = 33
    header_signature = 34
    proof_of_time_rate = 35

    # timelord protocol
    proof_of_time_finished = 40
    challenge_start = 41
    proof_of_space_info = 42

    # peer protocol
    new_proof_of_time = 50
    unfinished_block = 51
    request_block = 52
    block = 53
    request_peers = 54
    peers = 55
    request_all_header_hashes = 56
    all_header_hashes = 57
    request_header_blocks = 58
    header_blocks = 59
    request_sync_blocks = 60
    sync_blocks = 61
    transaction_id = 62
    request_transaction = 63
    new_transaction = 64

    # introducer protocol
    request_peers_introducer = 70
    respond_peers_introducer = 71

    # wallet protocol (light wallet <-> full node, docs/protocol.md section 6)
    request_wallet_peak = 90
    wallet_peak = 91
    request_wallet_headers = 92
    wallet_headers = 93
    request_coin_heights = 94
    coin_heights = 95
    request_block_coins = 96
    respond_block_coins = 97
    # pool protocol (docs/protocol.md section 5)
    request_pool_info = 80
    pool_info = 81
    join_pool = 82
    join_pool_response = 83
    submit_partial = 84
    respond_partial = 85
    pool_difficulty_changed = 86


T = ProtocolMessageTypes


@dataclass(frozen=True)
class Route:
    """The role that handles a message type, and the node types (from the peer's Handshake) it
    takes the type from."""

    receiver: NodeType
    senders: frozenset[NodeType]


@dataclass(frozen=True)
class Row:
    """One message type: the class it carries, the reply that answers it (a request) or None,
    its route (None: a reply or ``error``, matched separately), its size cap in bytes, and its
    rate (messages, window seconds)."""

    mtype: ProtocolMessageTypes
    cls: type[Streamable]
    reply: ProtocolMessageTypes | None
    route: Route | None
    cap: int
    rate: tuple[int, float]


def _route(receiver: NodeType, *senders: NodeType) -> Route:
    return Route(receiver, frozenset(senders))


KiB = 1024
MiB = 1024 * KiB
# A cap of UNBOUNDED means "the node's max_message_size" (50 MiB by default).
UNBOUNDED = 1 << 62
# A Block / UnfinishedBlock / NewTransaction message: 1,000,000 bytes of transactions + margin.
MAX_BLOCK_MESSAGE = 1_000_000 + 48 * KiB

_SOME = (100, 60.0)  # messages a node sends a few times a connection
_GOSSIP = (1000, 60.0)  # per block / proof / signage point: a few a second at most

# Routes, named "receiver from sender(s)".
HARVESTER_FROM_FARMER = _route(NodeType.HARVESTER, NodeType.FARMER)
FARMER_FROM_HARVESTER = _route(NodeType.FARMER, NodeType.HARVESTER)
FARMER_FROM_FULL_NODE = _route(NodeType.FARMER, NodeType.FULL_NODE)
FARMER_FROM_POOL = _route(NodeType.FARMER, NodeType.POOL)
FULL_NODE_FROM_FARMER = _route(NodeType.FULL_NODE, NodeType.FARMER)
FULL_NODE_FROM_TIMELORD = _route(NodeType.FULL_NODE, NodeType.TIMELORD)
FULL_NODE_FROM_FULL_NODE = _route(NodeType.FULL_NODE, NodeType.FULL_NODE)
FULL_NODE_FROM_FULL_NODE_OR_WALLET = _route(NodeType.FULL_NODE, NodeType.FULL_NODE, NodeType.WALLET)
FULL_NODE_FROM_WALLET = _route(NodeType.FULL_NODE, NodeType.WALLET)
TIMELORD_FROM_FULL_NODE = _route(NodeType.TIMELORD, NodeType.FULL_NODE)
INTRODUCER_FROM_FULL_NODE = _route(NodeType.INTRODUCER, NodeType.FULL_NODE)
# The pool serves farmers on its own port; it follows its full node over a separate link on
# which it presents itself as a farmer (so that link is routed by the FARMER row).
POOL_FROM_FARMER = _route(NodeType.POOL, NodeType.FARMER)
# A wallet handles no type: it only sends requests, and what it gets back are replies to them
# (the wallet protocol has no announcements), matched by id before the routes.

# fmt: off
# Columns: type, class, reply (a request's), route, size cap, rate. Comments: why the cap / rate.
MESSAGES: tuple[Row, ...] = (
    # shared (seed 002)
    # handshake: network_id, two short strings (software_version <= 128 bytes)
    Row(T.handshake, shared.Handshake, T.handshake_ack, None, 1 * KiB, (1, 60.0)),
    Row(T.handshake_ack, shared.HandshakeAck, None, None, 64, (1, 60.0)),
    Row(T.error, shared.Error, None, None, 4 * KiB, (100, 60.0)),

    # harvester protocol (farmer <-> harvester, private CA; seed 001)
    # harvester_handshake: a farmer sends 1 key of each kind; room for 160
    Row(T.harvester_handshake, harvester.HarvesterHandshake, None, HARVESTER_FROM_FARMER,
        16 * KiB, (10, 60.0)),
    # new_signage_point_harvester: 48 bytes per pool; room for 1,300 pools
    Row(T.new_signage_point_harvester, harvester.NewSignagePointHarvester, None,
        HARVESTER_FROM_FARMER, 64 * KiB, _GOSSIP),
    # new_proof_of_space: a plot identifier and one proof of space
    Row(T.new_proof_of_space, harvester.NewProofOfSpace, None, FARMER_FROM_HARVESTER,
        16 * KiB, _GOSSIP),
    # request_signatures: a few 32-byte messages to sign
    Row(T.request_signatures, harvester.RequestSignatures, T.respond_signatures,
        HARVESTER_FROM_FARMER, 16 * KiB, _GOSSIP),
    Row(T.respond_signatures, harvester.RespondSignatures, None, None, 32 * KiB, _GOSSIP),
    Row(T.request_plots, harvester.RequestPlots, T.respond_plots, HARVESTER_FROM_FARMER,
        64, _SOME),
    # respond_plots: every plot of a harvester (about 300 bytes each); also announced (routed)
    # when a harvester's plots change
    Row(T.respond_plots, harvester.RespondPlots, None, FARMER_FROM_HARVESTER,
        UNBOUNDED, _SOME),

    # legacy harvester protocol (seeds 000/003)
    Row(T.harvester_handshake_v1, harvester_v1.HarvesterHandshake, None, HARVESTER_FROM_FARMER,
        16 * KiB, (10, 60.0)),
    Row(T.new_challenge, harvester_v1.NewChallenge, None, HARVESTER_FROM_FARMER, 64, _GOSSIP),
    # challenge_response: rate is one per quality found
    Row(T.challenge_response, harvester_v1.ChallengeResponse, None, FARMER_FROM_HARVESTER,
        128, (5000, 60.0)),
    Row(T.request_proof_of_space, harvester_v1.RequestProofOfSpace, T.respond_proof_of_space,
        HARVESTER_FROM_FARMER, 64, _GOSSIP),
    Row(T.respond_proof_of_space, harvester_v1.RespondProofOfSpace, None, None,
        2 * KiB, _GOSSIP),
    Row(T.request_header_signature, harvester_v1.RequestHeaderSignature,
        T.respond_header_signature, HARVESTER_FROM_FARMER, 128, _GOSSIP),
    Row(T.respond_header_signature, harvester_v1.RespondHeaderSignature, None, None,
        256, _GOSSIP),
    Row(T.request_partial_proof, harvester_v1.RequestPartialProof, T.respond_partial_proof,
        HARVESTER_FROM_FARMER, 128, _GOSSIP),
    Row(T.respond_partial_proof, harvester_v1.RespondPartialProof, None, None, 256, _GOSSIP),

    # farmer protocol (farmer <-> full node; seed 000)
    Row(T.proof_of_space_finalized, farmer.ProofOfSpaceFinalized, None, FARMER_FROM_FULL_NODE,
        128, _GOSSIP),
    Row(T.proof_of_space_arrived, farmer.ProofOfSpaceArrived, None, FARMER_FROM_FULL_NODE,
        128, _GOSSIP),
    # request_header_hash: coinbase, signature, proof of space: about 780 bytes
    Row(T.request_header_hash, farmer.RequestHeaderHash, T.header_hash, FULL_NODE_FROM_FARMER,
        2 * KiB, _GOSSIP),
    Row(T.header_hash, farmer.HeaderHash, None, None, 128, _GOSSIP),
    Row(T.header_signature, farmer.HeaderSignature, None, FULL_NODE_FROM_FARMER, 256, _GOSSIP),
    Row(T.proof_of_time_rate, farmer.ProofOfTimeRate, None, FARMER_FROM_FULL_NODE, 64, _GOSSIP),

    # timelord protocol (timelord <-> full node): only a timelord finishes proofs of time
    Row(T.proof_of_time_finished, timelord.ProofOfTimeFinished, None, FULL_NODE_FROM_TIMELORD,
        1 * KiB, _GOSSIP),
    Row(T.challenge_start, timelord.ChallengeStart, None, TIMELORD_FROM_FULL_NODE,
        128, _GOSSIP),
    Row(T.proof_of_space_info, timelord.ProofOfSpaceInfo, None, TIMELORD_FROM_FULL_NODE,
        128, _GOSSIP),

    # peer protocol (full node <-> full node)
    Row(T.new_proof_of_time, peer.NewProofOfTime, None, FULL_NODE_FROM_FULL_NODE,
        1 * KiB, _GOSSIP),
    Row(T.unfinished_block, peer.UnfinishedBlock, None, FULL_NODE_FROM_FULL_NODE,
        MAX_BLOCK_MESSAGE, _GOSSIP),
    # request_block: rate: short sync fetches up to SYNC_THRESHOLD parents a block
    Row(T.request_block, peer.RequestBlock, T.block, FULL_NODE_FROM_FULL_NODE,
        128, (2000, 60.0)),
    Row(T.block, peer.Block, None, FULL_NODE_FROM_FULL_NODE, MAX_BLOCK_MESSAGE, _GOSSIP),
    Row(T.request_peers, peer.RequestPeers, T.peers, FULL_NODE_FROM_FULL_NODE, 64, (10, 60.0)),
    # peers: at most 1,000 PeerInfo of up to 51 bytes (IPv6 text + port)
    Row(T.peers, peer.Peers, None, None, 128 * KiB, (10, 60.0)),
    Row(T.request_all_header_hashes, peer.RequestAllHeaderHashes, T.all_header_hashes,
        FULL_NODE_FROM_FULL_NODE, 128, (20, 60.0)),
    # all_header_hashes: 32 bytes per block of the chain
    Row(T.all_header_hashes, peer.AllHeaderHashes, None, None, UNBOUNDED, (20, 60.0)),
    # request_header_blocks: tip + up to 1,000 heights (responders serve 32);
    # rate: 32 headers a request: 1,600 headers/s
    Row(T.request_header_blocks, peer.RequestHeaderBlocks, T.header_blocks,
        FULL_NODE_FROM_FULL_NODE, 4 * KiB, (3000, 60.0)),
    # header_blocks: 32 header blocks of about 1,250 bytes
    Row(T.header_blocks, peer.HeaderBlocks, None, None, 128 * KiB, (3000, 60.0)),
    Row(T.request_sync_blocks, peer.RequestSyncBlocks, T.sync_blocks, FULL_NODE_FROM_FULL_NODE,
        4 * KiB, (3000, 60.0)),
    # sync_blocks: 32 blocks: up to 32 MiB
    Row(T.sync_blocks, peer.SyncBlocks, None, None, UNBOUNDED, (3000, 60.0)),
    Row(T.transaction_id, peer.TransactionId, None, FULL_NODE_FROM_FULL_NODE,
        128, (5000, 60.0)),
    # request_transaction / new_transaction: a wallet too submits a transaction and asks whether
    # the node holds it (seed 000's wallet <-> full node link; trionode.wallet.client)
    Row(T.request_transaction, peer.RequestTransaction, T.new_transaction,
        FULL_NODE_FROM_FULL_NODE_OR_WALLET, 128, (5000, 60.0)),
    # new_transaction: a transaction must fit in a block
    Row(T.new_transaction, peer.NewTransaction, None, FULL_NODE_FROM_FULL_NODE_OR_WALLET,
        MAX_BLOCK_MESSAGE, (2000, 60.0)),

    # introducer protocol
    Row(T.request_peers_introducer, introducer.RequestPeersIntroducer,
        T.respond_peers_introducer, INTRODUCER_FROM_FULL_NODE, 64, (10, 60.0)),
    # respond_peers_introducer: at most 20 PeerInfo
    Row(T.respond_peers_introducer, introducer.RespondPeersIntroducer, None, None,
        4 * KiB, (10, 60.0)),

    # wallet protocol (light wallet <-> full node, docs/protocol.md section 6): a light wallet's
    # requests; rates: a wallet syncs headers in batches of 64 and coins in batches of 32
    Row(T.request_wallet_peak, wallet.RequestWalletPeak, T.wallet_peak, FULL_NODE_FROM_WALLET,
        64, (600, 60.0)),
    # wallet_peak: one header block
    Row(T.wallet_peak, wallet.WalletPeak, None, None, 2 * KiB, (600, 60.0)),
    # request_wallet_headers: rate: 64 headers a request: 3,200 headers/s
    Row(T.request_wallet_headers, wallet.RequestWalletHeaders, T.wallet_headers,
        FULL_NODE_FROM_WALLET, 128, (3000, 60.0)),
    # wallet_headers: 64 header blocks of about 1,250 bytes
    Row(T.wallet_headers, wallet.WalletHeaders, None, None, 96 * KiB, (3000, 60.0)),
    # request_coin_heights: up to 64 puzzle hashes
    Row(T.request_coin_heights, wallet.RequestCoinHeights, T.coin_heights,
        FULL_NODE_FROM_WALLET, 4 * KiB, (600, 60.0)),
    # coin_heights: up to 1,000 heights of 4 bytes
    Row(T.coin_heights, wallet.CoinHeights, None, None, 8 * KiB, (600, 60.0)),
    # request_block_coins: up to 32 header hashes
    Row(T.request_block_coins, wallet.RequestBlockCoins, T.respond_block_coins,
        FULL_NODE_FROM_WALLET, 2 * KiB, (3000, 60.0)),
    # respond_block_coins: 1 MiB of blocks, then one more block: a block of MAX_BLOCK_COST bytes
    # of transactions adds at most 25,000 coins of 72 bytes (an output is 40 bytes of a
    # transaction).
    Row(T.respond_block_coins, wallet.RespondBlockCoins, None, None, 4 * MiB, (3000, 60.0)),

    # pool protocol (docs/protocol.md section 5). Rates: the pool also limits partials per
    # farmer itself (RATE_LIMITED with a reason); this is the peer layer's outer bound.
    Row(T.request_pool_info, pool.RequestPoolInfo, T.pool_info, POOL_FROM_FARMER,
        64, (60, 60.0)),
    # pool_info: a hash, a key and four integers
    Row(T.pool_info, pool.PoolInfo, None, None, 512, (60, 60.0)),
    # join_pool: key, puzzle hash, timestamp, signature
    Row(T.join_pool, pool.JoinPool, T.join_pool_response, POOL_FROM_FARMER, 512, (10, 60.0)),
    Row(T.join_pool_response, pool.JoinPoolResponse, None, None, 128, (10, 60.0)),
    # submit_partial: key, challenge, a proof of space (k <= 50), signature
    Row(T.submit_partial, pool.SubmitPartial, T.respond_partial, POOL_FROM_FARMER,
        2 * KiB, (6000, 60.0)),
    # respond_partial: result, a reason of at most a few hundred bytes, integers
    Row(T.respond_partial, pool.RespondPartial, None, None, 2 * KiB, (6000, 60.0)),
    # pool_difficulty_changed: from the farmer's pool
    Row(T.pool_difficulty_changed, pool.PoolDifficultyChanged, None, FARMER_FROM_POOL,
        64, (60, 60.0)),
)
# fmt: on


def _by_type(rows: Iterable[Row]) -> dict[ProtocolMessageTypes, Row]:
    """The rows in number-table order; every type exactly once (a missing row would silently
    fall back to the peer layer's defaults, so it fails at import instead)."""
    table: dict[ProtocolMessageTypes, Row] = {}
    for row in rows:
        if row.mtype in table:
            raise ValueError(f"{row.mtype.name} has two rows in the message table")
        table[row.mtype] = row
    missing = [t.name for t in T if t not in table]
    if missing:
        raise ValueError(f"no row in the message table for {', '.join(missing)}")
    return {t: table[t] for t in T}


ROWS: Mapping[ProtocolMessageTypes, Row] = _by_type(MESSAGES)

MESSAGE_CLASSES: dict[ProtocolMessageTypes, type[Streamable]] = {
    t: row.cls for t, row in ROWS.items()
}
MESSAGE_TYPES: dict[type[Streamable], ProtocolMessageTypes] = {
    cls: t for t, cls in MESSAGE_CLASSES.items()
}
REPLY_TYPES: dict[ProtocolMessageTypes, ProtocolMessageTypes] = {
    t: row.reply for t, row in ROWS.items() if row.reply is not None
}
ROUTES: Mapping[NodeType, Mapping[ProtocolMessageTypes, frozenset[NodeType]]] = {
    receiver: {
        t: row.route.senders
        for t, row in ROWS.items()
        if row.route is not None and row.route.receiver is receiver
    }
    for receiver in NodeType
}
MESSAGE_SIZE_CAPS: Mapping[ProtocolMessageTypes, int] = {t: row.cap for t, row in ROWS.items()}
MESSAGE_RATE_LIMITS: Mapping[ProtocolMessageTypes, tuple[int, float]] = {
    t: row.rate for t, row in ROWS.items()
}

# Messages that may travel before the handshake completes (PROTOCOL.md, Handshake).
ALLOWED_BEFORE_HANDSHAKE: frozenset[ProtocolMessageTypes] = frozenset(
    {T.handshake, T.handshake_ack, T.error}
)


class Encoded:
    """A payload already in wire bytes, sent as message ``mtype`` without being decoded and
    encoded again (a full node serves stored blocks this way). Whoever makes one vouches that
    ``data`` is a valid encoding of ``mtype``'s class; the connection still checks the message
    size and, for a reply, that ``mtype`` answers the request."""

    __slots__ = ("data", "mtype")

    def __init__(self, mtype: ProtocolMessageTypes, data: bytes) -> None:
        self.mtype = mtype
        self.data = data


def decoded(payload: Streamable | Encoded) -> Streamable:
    """``payload`` as its message class (an :class:`Encoded` one decoded; raises DecodeError
    if its bytes are not a valid encoding)."""
    if isinstance(payload, Encoded):
        result: Streamable = MESSAGE_CLASSES[payload.mtype].from_bytes(payload.data)
        return result
    return payload


def message_type_of(payload: Streamable | Encoded) -> ProtocolMessageTypes:
    """The message number that carries ``payload``'s class."""
    if isinstance(payload, Encoded):
        return payload.mtype
    try:
        return MESSAGE_TYPES[type(payload)]
    except KeyError:
        raise TypeError(f"{type(payload).__name__} is not a protocol message") from None


def make_message(payload: Streamable | Encoded, id: int | None = None) -> Message:
    """Wrap a protocol payload in the envelope."""
    data = payload.data if isinstance(payload, Encoded) else bytes(payload)
    return Message(uint8(message_type_of(payload)), None if id is None else uint16(id), data)


def decode_message(msg: Message) -> tuple[ProtocolMessageTypes, Any]:
    """Return (type, payload) of an envelope; unknown numbers and bad payloads raise DecodeError."""
    try:
        mtype = T(msg.type)
    except ValueError:
        raise DecodeError(f"unknown message type {int(msg.type)}", "Message.type") from None
    return mtype, MESSAGE_CLASSES[mtype].from_bytes(msg.data)
