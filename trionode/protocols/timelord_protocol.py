"""Timelord protocol, timelord <-> full node (seed 000)."""

from __future__ import annotations

from trionode.protocols.chain_types import ProofOfTime
from trionode.wire import Streamable, bytes32, streamable, uint64


@streamable
class ProofOfTimeFinished(Streamable):
    proof: ProofOfTime


@streamable
class ChallengeStart(Streamable):
    challenge_hash: bytes32
    weight: uint64


@streamable
class ProofOfSpaceInfo(Streamable):
    challenge_hash: bytes32
    iterations_needed: uint64
