"""The pool protocol's rules (docs/protocol.md section 5), pure functions shared by the harvester,
the farmer and the pool.

Pool difficulty: a proof of space of a plot of size k with quality q is a *partial* at pool
difficulty d when

    iterations_for_quality(q, k, d) < sub_slot_iters,   sub_slot_iters = MIN_ITERS + W,
    W = ceil(DIFFICULTY_CONSTANT_FACTOR / expected_plot_size(MIN_PLOT_SIZE))

(``PoolDifficulty.sub_slot_iters`` of seed 001 carries that bound). Since
``iters - MIN_ITERS = d * F * q / (2**256 * expected_plot_size(k))`` with q uniform, a quality
passes with probability ``min(1, expected_plot_size(k) / (expected_plot_size(MIN_PLOT_SIZE) * d))``:
at d = 1 every quality of a smallest plot is a partial, and a farmer's partials per challenge are
its space (in smallest plots) divided by d. (W rounds up: with the quotient rounded down, the
best 0.6% of qualities of a smallest plot reached exactly MIN_ITERS + W on sim and were refused
at d = 1, the test of the pool failing now and then.) A partial at difficulty d is worth d points, so the
points a farmer earns per hour are proportional to its space, whatever its difficulty.

Signatures (AugSchemeMPL, every message domain-separated):
- join: the farmer key over ``join_message(pool puzzle hash, payout puzzle hash, timestamp)``;
- partial: the plot key (harvester's local half + farmer half, as for a header) over
  ``partial_target_hash(pool puzzle hash, farmer key)``: the seed's ``farmer_target_hash``.
  The proof of space binds the challenge; the target binds the pool and whom to credit, so a
  partial cannot be credited to another farmer or replayed to another pool.
"""

from __future__ import annotations

import hashlib
from typing import Any

from trionode.consensus.constants import ConsensusConstants
from trionode.consensus.proofs import expected_plot_size, iterations_for_quality
from trionode.wire import bytes32

__all__ = [
    "join_message",
    "partial_passes",
    "partial_target_hash",
    "pool_sub_slot_iters",
]

_JOIN_DOMAIN = b"trionode pool join v1"
_TARGET_DOMAIN = b"trionode pool partial v1"


def pool_sub_slot_iters(constants: ConsensusConstants) -> int:
    """The iteration bound a partial must beat at its pool difficulty (module docstring)."""
    smallest = expected_plot_size(constants.MIN_PLOT_SIZE)
    return constants.MIN_ITERS + max(1, -(-constants.DIFFICULTY_CONSTANT_FACTOR // smallest))


def partial_passes(
    constants: ConsensusConstants, quality: bytes, k: int, difficulty: int, sub_slot_iters: int
) -> bool:
    """Is a proof of this quality a partial at ``difficulty``?"""
    if difficulty < 1:
        return False
    return iterations_for_quality(constants, quality, k, difficulty) < sub_slot_iters


def join_message(pool_puzzle_hash: bytes, payout_puzzle_hash: bytes, timestamp: int) -> bytes32:
    """What the farmer key signs to join a pool."""
    return bytes32(
        hashlib.sha256(
            _JOIN_DOMAIN
            + bytes(pool_puzzle_hash)
            + bytes(payout_puzzle_hash)
            + int(timestamp).to_bytes(8, "big")
        ).digest()
    )


def partial_target_hash(pool_puzzle_hash: bytes, farmer_public_key: Any) -> bytes32:
    """The seed's ``farmer_target_hash``: what the plot key signs for a partial."""
    return bytes32(
        hashlib.sha256(_TARGET_DOMAIN + bytes(pool_puzzle_hash) + bytes(farmer_public_key)).digest()
    )
