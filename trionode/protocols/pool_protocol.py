"""Pool protocol, farmer <-> pool (seed 000 names it; docs/protocol.md section 5), numbers 80-86.

A farmer dials its pool (node type POOL on the pool's side, FARMER on the farmer's), asks
``request_pool_info``, joins with ``join_pool`` (its farmer key and payout puzzle hash, signed by
the farmer key) and then sends ``submit_partial`` for every proof of space of a plot pooled to
this pool that passes its per-farmer pool difficulty. The pool answers every partial with
``respond_partial`` (accepted, or the reason it was refused) and announces a new difficulty with
``pool_difficulty_changed``. The pure rules (message signed by whom, what a partial must pass)
live in ``trionode.consensus.pool``.
"""

from __future__ import annotations

import enum

from trionode.protocols.chain_types import ProofOfSpace
from trionode.wire import G1Element, G2Element, Streamable, bytes32, streamable, uint8, uint64


class PartialResult(enum.IntEnum):
    """``RespondPartial.result``: 0 accepted, anything else is why the partial was refused."""

    ACCEPTED = 0
    NOT_JOINED = 1  # the farmer key has not joined this pool
    RATE_LIMITED = 2  # too many partials from this farmer in the window
    UNKNOWN_CHALLENGE = 3  # the pool's full node never announced this challenge
    STALE = 4  # the challenge is too deep below the pool's peak, or too old
    WRONG_POOL = 5  # the plot's contract puzzle hash (or pool key) is not this pool's
    INVALID_PROOF = 6  # the proof of space does not verify for this challenge
    TOO_LOW_QUALITY = 7  # the proof does not pass the farmer's pool difficulty
    INVALID_SIGNATURE = 8  # the plot key's signature over the farmer target does not verify
    DUPLICATE = 9  # this proof was credited already


@streamable
class RequestPoolInfo(Streamable):
    pass


@streamable
class PoolInfo(Streamable):
    pool_contract_puzzle_hash: bytes32  # what pooled plots commit to; block rewards go there
    pool_public_key: G1Element  # spends the rewards; pool_contract_puzzle_hash = sha256(it)
    sub_slot_iters: uint64  # a partial needs fewer iterations than this at its pool difficulty
    target_partials_per_hour: uint64
    partial_max_depth: uint64  # challenges at most this many heights below the peak count
    partial_max_age: uint64  # seconds after the pool first saw the challenge


@streamable
class JoinPool(Streamable):
    farmer_public_key: G1Element
    payout_puzzle_hash: bytes32
    timestamp: uint64  # unix seconds; the pool refuses a join far from its clock
    signature: G2Element  # farmer key over join_message(...)


@streamable
class JoinPoolResponse(Streamable):
    difficulty: uint64
    points: uint64


@streamable
class SubmitPartial(Streamable):
    farmer_public_key: G1Element
    challenge_hash: bytes32
    proof_of_space: ProofOfSpace
    target_signature: G2Element  # plot key (2-of-2) over partial_target_hash(...)


@streamable
class RespondPartial(Streamable):
    result: uint8  # PartialResult
    reason: str
    difficulty: uint64  # the farmer's pool difficulty from now on
    points: uint64  # the farmer's points since the last payout


@streamable
class PoolDifficultyChanged(Streamable):
    difficulty: uint64


# Which roles take these messages from whom: trionode.protocols.routing (POOL and FARMER rows).
