"""Harvester protocol, farmer <-> harvester (seed 001)."""

from __future__ import annotations

from trionode.protocols.chain_types import ProofOfSpace
from trionode.wire import G1Element, G2Element, Streamable, bytes32, streamable, uint8, uint64

__all__ = [
    "HarvesterHandshake",
    "NewProofOfSpace",
    "NewSignagePointHarvester",
    "Plot",
    "PoolDifficulty",
    "ProofOfSpace",
    "RequestPlots",
    "RequestSignatures",
    "RespondPlots",
    "RespondSignatures",
]


@streamable
class HarvesterHandshake(Streamable):
    farmer_public_keys: list[G1Element]
    pool_public_keys: list[G1Element]


@streamable
class PoolDifficulty(Streamable):
    difficulty: uint64
    sub_slot_iters: uint64
    pool_contract_puzzle_hash: bytes32


@streamable
class NewSignagePointHarvester(Streamable):
    challenge_hash: bytes32
    difficulty: uint64
    sub_slot_iters: uint64
    signage_point_index: uint8
    sp_hash: bytes32
    pool_difficulties: list[PoolDifficulty]


@streamable
class NewProofOfSpace(Streamable):
    challenge_hash: bytes32
    sp_hash: bytes32
    plot_identifier: str
    proof: ProofOfSpace
    signage_point_index: uint8


@streamable
class RequestSignatures(Streamable):
    plot_identifier: str
    challenge_hash: bytes32
    sp_hash: bytes32
    messages: list[bytes32]


@streamable
class RespondSignatures(Streamable):
    plot_identifier: str
    challenge_hash: bytes32
    sp_hash: bytes32
    local_pk: G1Element
    farmer_pk: G1Element
    message_signatures: list[tuple[bytes32, G2Element]]


@streamable
class Plot(Streamable):
    filename: str
    size: uint8
    plot_id: bytes32
    pool_public_key: G1Element | None
    pool_contract_puzzle_hash: bytes32 | None
    plot_public_key: G1Element
    file_size: uint64
    time_modified: uint64


@streamable
class RequestPlots(Streamable):
    pass


@streamable
class RespondPlots(Streamable):
    plots: list[Plot]
    failed_to_open_filenames: list[str]
    no_key_filenames: list[str]
