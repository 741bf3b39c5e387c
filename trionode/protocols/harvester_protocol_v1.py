"""The older harvester protocol (seeds 000 and 003), message numbers 20-28.

Seed 000's ``PublicKey`` is a G1Element and ``PrependSignature`` a G2Element (PROTOCOL.md).
"""

from __future__ import annotations

from trionode.protocols.chain_types import ProofOfSpace
from trionode.wire import G1Element, G2Element, Streamable, bytes32, streamable, uint8


@streamable
class HarvesterHandshake(Streamable):
    pool_pubkeys: list[G1Element]


@streamable
class NewChallenge(Streamable):
    challenge_hash: bytes32


@streamable
class ChallengeResponse(Streamable):
    challenge_hash: bytes32
    quality: bytes32
    plot_size: uint8


@streamable
class RequestProofOfSpace(Streamable):
    quality: bytes32


@streamable
class RespondProofOfSpace(Streamable):
    quality: bytes32
    proof: ProofOfSpace


@streamable
class RequestHeaderSignature(Streamable):
    quality: bytes32
    header_hash: bytes32


@streamable
class RespondHeaderSignature(Streamable):
    quality: bytes32
    header_hash_signature: G2Element


@streamable
class RequestPartialProof(Streamable):
    quality: bytes32
    farmer_target_hash: bytes32


@streamable
class RespondPartialProof(Streamable):
    quality: bytes32
    farmer_target_signature: G2Element
