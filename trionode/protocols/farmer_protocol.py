"""Farmer protocol, farmer <-> full node (seed 000)."""

from __future__ import annotations

from trionode.protocols.chain_types import CoinbaseInfo, ProofOfSpace
from trionode.wire import G2Element, Streamable, bytes32, streamable, uint32, uint64


@streamable
class ProofOfSpaceFinalized(Streamable):
    challenge_hash: bytes32
    height: uint32
    weight: uint64
    quality: bytes32
    difficulty: uint64


@streamable
class ProofOfSpaceArrived(Streamable):
    weight: uint64
    quality: bytes32


@streamable
class RequestHeaderHash(Streamable):
    challenge_hash: bytes32
    coinbase: CoinbaseInfo
    coinbase_signature: G2Element
    fees_target_puzzle_hash: bytes32
    proof_of_space: ProofOfSpace


@streamable
class HeaderHash(Streamable):
    pos_hash: bytes32
    header_hash: bytes32


@streamable
class HeaderSignature(Streamable):
    pos_hash: bytes32
    header_hash: bytes32
    header_signature: G2Element


@streamable
class ProofOfTimeRate(Streamable):
    pot_estimate_ips: uint64
