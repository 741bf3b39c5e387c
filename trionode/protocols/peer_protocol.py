"""Peer protocol, full node <-> full node (seed 000)."""

from __future__ import annotations

from trionode.protocols.chain_types import FullBlock, HeaderBlock, ProofOfTime, Transaction
from trionode.wire import Streamable, bytes32, streamable, uint16, uint32


@streamable
class PeerInfo(Streamable):
    host: str
    port: uint16


@streamable
class NewProofOfTime(Streamable):
    proof: ProofOfTime


@streamable
class UnfinishedBlock(Streamable):
    block: FullBlock


@streamable
class RequestBlock(Streamable):
    header_hash: bytes32


@streamable
class Block(Streamable):
    block: FullBlock


@streamable
class RequestPeers(Streamable):
    """Return full list of peers."""


@streamable
class Peers(Streamable):
    peer_list: list[PeerInfo]


@streamable
class RequestAllHeaderHashes(Streamable):
    tip_header_hash: bytes32


@streamable
class AllHeaderHashes(Streamable):
    header_hashes: list[bytes32]


@streamable
class RequestHeaderBlocks(Streamable):
    tip_header_hash: bytes32
    heights: list[uint32]


@streamable
class HeaderBlocks(Streamable):
    tip_header_hash: bytes32
    header_blocks: list[HeaderBlock]


@streamable
class RequestSyncBlocks(Streamable):
    tip_header_hash: bytes32
    heights: list[uint32]


@streamable
class SyncBlocks(Streamable):
    tip_header_hash: bytes32
    blocks: list[FullBlock]


@streamable
class TransactionId(Streamable):
    transaction_id: bytes32


@streamable
class RequestTransaction(Streamable):
    transaction_id: bytes32


@streamable
class NewTransaction(Streamable):
    transaction: Transaction
