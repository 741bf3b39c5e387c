"""Proof-of-space lookup formulas (PROTOCOL.md section 2, "Proof of space"), pure functions.

For a plot with id ``plot_id`` asked about ``challenge_hash`` at signage point ``sp_hash``
(in this consensus ``sp_hash == challenge_hash`` and the signage point index is 0)::

    f              = sha256(plot_id || challenge_hash || sp_hash)       plot_filter_input
    passes         = the first PLOT_FILTER_BITS bits of f are zero      passes_plot_filter
    pos.challenge  = sha256(f)                                          pos_challenge
    quality_string = DiskProver.get_qualities_for_challenge(pos.challenge)[i]
    quality        = sha256(pos.challenge || quality_string)            quality_for

The names and signatures are the same as ``trionode.consensus.proofs`` (the validator's side);
``tests/test_plot_manager.py`` checks that both agree. Keep them stable.
"""

from __future__ import annotations

import hashlib

from trionode.wire import bytes32

__all__ = [
    "passes_plot_filter",
    "plot_filter_input",
    "pos_challenge",
    "pos_challenge_for",
    "quality_for",
]


def plot_filter_input(plot_id: bytes, challenge_hash: bytes, sp_hash: bytes) -> bytes32:
    """f = sha256(plot_id || challenge_hash || sp_hash)."""
    return bytes32(hashlib.sha256(bytes(plot_id) + bytes(challenge_hash) + bytes(sp_hash)).digest())


def passes_plot_filter(f: bytes, bits: int) -> bool:
    """True when the first ``bits`` bits of ``f`` are zero (``bits`` = PLOT_FILTER_BITS).

    With ``bits == 0`` every plot passes; each extra bit halves the plots looked up.
    """
    if not 0 <= bits <= len(f) * 8:
        raise ValueError(f"plot filter bits must be in [0, {len(f) * 8}], got {bits}")
    if bits == 0:
        return True
    return int.from_bytes(f, "big") >> (len(f) * 8 - bits) == 0


def pos_challenge(f: bytes) -> bytes32:
    """The challenge the plot is asked: pos.challenge = sha256(f)."""
    return bytes32(hashlib.sha256(bytes(f)).digest())


def pos_challenge_for(plot_id: bytes, challenge_hash: bytes, sp_hash: bytes) -> bytes32:
    """sha256(plot_filter_input(...)), the two steps in one."""
    return pos_challenge(plot_filter_input(plot_id, challenge_hash, sp_hash))


def quality_for(challenge: bytes, quality_string: bytes) -> bytes32:
    """quality = sha256(pos.challenge || quality_string)."""
    return bytes32(hashlib.sha256(bytes(challenge) + bytes(quality_string)).digest())
