"""Which class each message number carries, and which reply answers which request.

These tables are the protocol's state rules in one place (STYLE.md 5): the connection layer
consults them instead of spreading message knowledge across handlers.
"""

from __future__ import annotations

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
from trionode.protocols.protocol_message_types import ProtocolMessageTypes as T
from trionode.wire import DecodeError, Message, Streamable, uint8, uint16

MESSAGE_CLASSES: dict[T, type[Streamable]] = {
    T.handshake: shared.Handshake,
    T.handshake_ack: shared.HandshakeAck,
    T.error: shared.Error,
    T.harvester_handshake: harvester.HarvesterHandshake,
    T.new_signage_point_harvester: harvester.NewSignagePointHarvester,
    T.new_proof_of_space: harvester.NewProofOfSpace,
    T.request_signatures: harvester.RequestSignatures,
    T.respond_signatures: harvester.RespondSignatures,
    T.request_plots: harvester.RequestPlots,
    T.respond_plots: harvester.RespondPlots,
    T.harvester_handshake_v1: harvester_v1.HarvesterHandshake,
    T.new_challenge: harvester_v1.NewChallenge,
    T.challenge_response: harvester_v1.ChallengeResponse,
    T.request_proof_of_space: harvester_v1.RequestProofOfSpace,
    T.respond_proof_of_space: harvester_v1.RespondProofOfSpace,
    T.request_header_signature: harvester_v1.RequestHeaderSignature,
    T.respond_header_signature: harvester_v1.RespondHeaderSignature,
    T.request_partial_proof: harvester_v1.RequestPartialProof,
    T.respond_partial_proof: harvester_v1.RespondPartialProof,
    T.proof_of_space_finalized: farmer.ProofOfSpaceFinalized,
    T.proof_of_space_arrived: farmer.ProofOfSpaceArrived,
    T.request_header_hash: farmer.RequestHeaderHash,
    T.header_hash: farmer.HeaderHash,
    T.header_signature: farmer.HeaderSignature,
    T.proof_of_time_rate: farmer.ProofOfTimeRate,
    T.proof_of_time_finished: timelord.ProofOfTimeFinished,
    T.challenge_start: timelord.ChallengeStart,
    T.proof_of_space_info: timelord.ProofOfSpaceInfo,
    T.new_proof_of_time: peer.NewProofOfTime,
    T.unfinished_block: peer.UnfinishedBlock,
    T.request_block: peer.RequestBlock,
    T.block: peer.Block,
    T.request_peers: peer.RequestPeers,
    T.peers: peer.Peers,
    T.request_all_header_hashes: peer.RequestAllHeaderHashes,
    T.all_header_hashes: peer.AllHeaderHashes,
    T.request_header_blocks: peer.RequestHeaderBlocks,
    T.header_blocks: peer.HeaderBlocks,
    T.request_sync_blocks: peer.RequestSyncBlocks,
    T.sync_blocks: peer.SyncBlocks,
    T.transaction_id: peer.TransactionId,
    T.request_transaction: peer.RequestTransaction,
    T.new_transaction: peer.NewTransaction,
    T.request_peers_introducer: introducer.RequestPeersIntroducer,
    T.respond_peers_introducer: introducer.RespondPeersIntroducer,
    T.request_wallet_peak: wallet.RequestWalletPeak,
    T.wallet_peak: wallet.WalletPeak,
    T.request_wallet_headers: wallet.RequestWalletHeaders,
    T.wallet_headers: wallet.WalletHeaders,
    T.request_coin_heights: wallet.RequestCoinHeights,
    T.coin_heights: wallet.CoinHeights,
    T.request_block_coins: wallet.RequestBlockCoins,
    T.respond_block_coins: wallet.RespondBlockCoins,
    T.request_pool_info: pool.RequestPoolInfo,
    T.pool_info: pool.PoolInfo,
    T.join_pool: pool.JoinPool,
    T.join_pool_response: pool.JoinPoolResponse,
    T.submit_partial: pool.SubmitPartial,
    T.respond_partial: pool.RespondPartial,
    T.pool_difficulty_changed: pool.PoolDifficultyChanged,
}

MESSAGE_TYPES: dict[type[Streamable], T] = {cls: t for t, cls in MESSAGE_CLASSES.items()}

# Request -> the reply that answers it (with the request's id). Any request may instead be
# answered with ``error``. Legacy ``new_challenge`` is not here: seed 000's harvester answers it
# with zero or more ``challenge_response`` announcements (one per quality), not one reply.
REPLY_TYPES: dict[T, T] = {
    T.handshake: T.handshake_ack,
    T.request_signatures: T.respond_signatures,
    T.request_plots: T.respond_plots,
    T.request_proof_of_space: T.respond_proof_of_space,
    T.request_header_signature: T.respond_header_signature,
    T.request_partial_proof: T.respond_partial_proof,
    T.request_header_hash: T.header_hash,
    T.request_block: T.block,
    T.request_peers: T.peers,
    T.request_all_header_hashes: T.all_header_hashes,
    T.request_header_blocks: T.header_blocks,
    T.request_sync_blocks: T.sync_blocks,
    T.request_transaction: T.new_transaction,
    T.request_peers_introducer: T.respond_peers_introducer,
    T.request_wallet_peak: T.wallet_peak,
    T.request_wallet_headers: T.wallet_headers,
    T.request_coin_heights: T.coin_heights,
    T.request_block_coins: T.respond_block_coins,
    T.request_pool_info: T.pool_info,
    T.join_pool: T.join_pool_response,
    T.submit_partial: T.respond_partial,
}

# Messages that may travel before the handshake completes (PROTOCOL.md, Handshake).
ALLOWED_BEFORE_HANDSHAKE: frozenset[T] = frozenset({T.handshake, T.handshake_ack, T.error})


class Encoded:
    """A payload already in wire bytes, sent as message ``mtype`` without being decoded and
    encoded again (a full node serves stored blocks this way). Whoever makes one vouches that
    ``data`` is a valid encoding of ``mtype``'s class; the connection still checks the message
    size and, for a reply, that ``mtype`` answers the request."""

    __slots__ = ("data", "mtype")

    def __init__(self, mtype: T, data: bytes) -> None:
        self.mtype = mtype
        self.data = data


def decoded(payload: Streamable | Encoded) -> Streamable:
    """``payload`` as its message class (an :class:`Encoded` one decoded; raises DecodeError
    if its bytes are not a valid encoding)."""
    if isinstance(payload, Encoded):
        result: Streamable = MESSAGE_CLASSES[payload.mtype].from_bytes(payload.data)
        return result
    return payload


def message_type_of(payload: Streamable | Encoded) -> T:
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


def decode_message(msg: Message) -> tuple[T, Any]:
    """Return (type, payload) of an envelope; unknown numbers and bad payloads raise DecodeError."""
    try:
        mtype = T(msg.type)
    except ValueError:
        raise DecodeError(f"unknown message type {int(msg.type)}", "Message.type") from None
    return mtype, MESSAGE_CLASSES[mtype].from_bytes(msg.data)
