"""Difficulty, ProofOfTimeRate (ips) and median timestamp for the child of a given parent.

PROTOCOL.md: difficulty is constant for the first EPOCH blocks; at every height h with
h % EPOCH == 0::

    new = old * BLOCK_TIME_TARGET * EPOCH // (timestamp(h-1) - timestamp(h-1-EPOCH))

clamped to [old // 3, old * 3] and at least 1. One clarification this module makes: at
h = EPOCH the window would start at height -1, so the window is ``n = min(EPOCH, h - 1)``
intervals ending at h-1 (the first adjustment measures EPOCH-1 intervals from genesis) and the
formula uses n in place of EPOCH. An elapsed time <= 0 counts as 1 second.

A block's difficulty is ``weight - parent weight`` (its weight for a block at height 0).
``ancestor(h)`` returns the header block at height h on the parent's chain (h <= parent.height).
"""

from __future__ import annotations

from collections.abc import Callable

from trionode.consensus.constants import ConsensusConstants
from trionode.protocols.chain_types import HeaderBlock

Ancestor = Callable[[int], HeaderBlock]


def _total_iters(block: HeaderBlock) -> int:
    return int(block.header.data.total_iters)


def _timestamp(block: HeaderBlock) -> int:
    return int(block.header.data.timestamp)


def block_difficulty(block: HeaderBlock, ancestor: Ancestor) -> int:
    """The difficulty ``block`` was made at: its weight minus its parent's."""
    if block.height == 0:
        return int(block.weight)
    return int(block.weight) - int(ancestor(int(block.height) - 1).weight)


def _window(constants: ConsensusConstants, height: int) -> int:
    """Intervals measured by the adjustment at ``height`` (an epoch boundary >= EPOCH)."""
    return min(constants.EPOCH, height - 1)


def next_difficulty(
    constants: ConsensusConstants, parent: HeaderBlock | None, ancestor: Ancestor
) -> int:
    """The difficulty the child of ``parent`` must have (DIFFICULTY_STARTING at genesis)."""
    if parent is None:
        return constants.DIFFICULTY_STARTING
    old = block_difficulty(parent, ancestor)
    height = int(parent.height) + 1
    if height % constants.EPOCH != 0 or height < constants.EPOCH:
        return old
    n = _window(constants, height)
    if n <= 0:
        return old
    start = ancestor(height - 1 - n)
    elapsed = max(1, _timestamp(parent) - _timestamp(start))
    new = old * constants.BLOCK_TIME_TARGET * n // elapsed
    new = max(old // 3, min(old * 3, new))
    return max(1, new)


def next_ips(constants: ConsensusConstants, parent: HeaderBlock | None, ancestor: Ancestor) -> int:
    """The ProofOfTimeRate estimate (iterations per second) for the child of ``parent``.

    Measured at the latest epoch boundary b <= child height, over the same window as the
    difficulty: (total_iters(b-1) - total_iters(b-1-n)) // elapsed seconds, at least 1;
    IPS_STARTING before the first boundary.
    """
    if parent is None:
        return constants.IPS_STARTING
    height = int(parent.height) + 1
    boundary = height - height % constants.EPOCH
    n = _window(constants, boundary) if boundary >= constants.EPOCH else 0
    if n <= 0:
        return constants.IPS_STARTING
    end = parent if boundary - 1 == parent.height else ancestor(boundary - 1)
    start = ancestor(boundary - 1 - n)
    elapsed = max(1, _timestamp(end) - _timestamp(start))
    return max(1, (_total_iters(end) - _total_iters(start)) // elapsed)


def median_timestamp(
    constants: ConsensusConstants, parent: HeaderBlock | None, ancestor: Ancestor
) -> int | None:
    """Median timestamp of the parent and its ancestors, the last MEDIAN_TIMESTAMP_COUNT (11)
    of them (fewer near genesis); None for a block at height 0. With an even count it is the
    upper median: ``sorted(ts)[len(ts) // 2]``. A block's timestamp must exceed it."""
    if parent is None:
        return None
    lowest = max(0, int(parent.height) - constants.MEDIAN_TIMESTAMP_COUNT + 1)
    stamps = [_timestamp(parent)]
    stamps += [_timestamp(ancestor(h)) for h in range(lowest, int(parent.height))]
    stamps.sort()
    return stamps[len(stamps) // 2]
