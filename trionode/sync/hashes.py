"""Pure checks of a long sync: the peer's hash list, the fork point, headers against the list."""

from __future__ import annotations

from collections.abc import Callable, Sequence

from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.sync.errors import InconsistentPeer
from trionode.wire import bytes32


def check_hash_list(hashes: Sequence[bytes32], tip_hash: bytes32, tip_height: int) -> None:
    """An ``AllHeaderHashes`` answer for a tip at ``tip_height`` holds exactly one hash per
    height 0..tip_height and ends with the tip. Raises :class:`InconsistentPeer`."""
    if len(hashes) > tip_height + 1:
        raise InconsistentPeer(
            f"{len(hashes)} header hashes for a tip at height {tip_height} (at most "
            f"{tip_height + 1})"
        )
    if len(hashes) != tip_height + 1 or hashes[-1] != tip_hash:
        raise InconsistentPeer(
            f"header hash list of {len(hashes)} does not end with the tip at height {tip_height}"
        )
    if len(set(hashes)) != len(hashes):
        raise InconsistentPeer("header hash list repeats a hash")


def find_fork_point(hashes: Sequence[bytes32], ours: Callable[[int], bytes32 | None]) -> int:
    """The highest height where ``hashes`` agrees with our heaviest chain (``ours(height)``),
    -1 if it agrees nowhere. Binary search: chains share a prefix, so agreement is monotone
    (a list that breaks this is caught later, when its headers do not link)."""
    lo, hi = -1, len(hashes) - 1  # invariant: agree at lo (or lo == -1); hi+1.. unknown/disagree
    while lo < hi:
        mid = (lo + hi + 1) // 2
        if ours(mid) == hashes[mid]:
            lo = mid
        else:
            hi = mid - 1
    return lo


def check_against_list(
    items: Sequence[HeaderBlock | FullBlock],
    heights: Sequence[int],
    hashes: Sequence[bytes32],
    tip_hash: bytes32,
    reply_tip: bytes32,
) -> None:
    """Headers or blocks answering a request for ``heights`` of the chain of ``tip_hash`` must
    be exactly those: right count, heights, hashes of the peer's own list, linked to the
    previous height. Raises :class:`InconsistentPeer`."""
    if reply_tip != tip_hash:
        raise InconsistentPeer("answer is for another tip")
    if len(items) != len(heights):
        raise InconsistentPeer(f"{len(items)} items for {len(heights)} heights")
    for height, item in zip(heights, items, strict=True):
        if int(item.height) != height:
            raise InconsistentPeer(f"item at height {item.height} where {height} was asked")
        if item.header_hash != hashes[height]:
            raise InconsistentPeer(f"block at height {height} does not match its hash list")
        if height > 0 and item.prev_header_hash != hashes[height - 1]:
            raise InconsistentPeer(f"block at height {height} does not link to its hash list")
