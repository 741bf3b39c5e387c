"""Unit tests of the pure long-sync checks (trionode/sync/hashes.py).

Each rule has a case that only that rule catches, so removing the rule fails a test: the
blocks are real (``chain_20``), and each bad answer is built to pass every other check.
"""

from __future__ import annotations

import pytest

from trionode.protocols.chain_types import FullBlock
from trionode.sync.errors import InconsistentPeer
from trionode.sync.hashes import check_against_list, check_hash_list, find_fork_point
from trionode.sync.pipeline import sync_windows
from trionode.testing.block_tools import BlockTools
from trionode.wire import bytes32


def _hashes(chain: list[FullBlock]) -> list[bytes32]:
    return [b.header_hash for b in chain]


# -- check_hash_list -----------------------------------------------------------------------


def test_hash_list_of_the_tip_passes(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    check_hash_list(hashes, hashes[-1], 19)


def test_hash_list_longer_than_the_tip_height(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    # 20 hashes ending with the tip, but the peer claims the tip is at height 18
    with pytest.raises(InconsistentPeer, match="at most 19"):
        check_hash_list(hashes, hashes[-1], 18)


def test_hash_list_shorter_than_the_tip_height(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    with pytest.raises(InconsistentPeer, match="does not end with the tip"):
        check_hash_list(hashes[1:], hashes[-1], 19)


def test_hash_list_not_ending_with_the_tip(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    with pytest.raises(InconsistentPeer, match="does not end with the tip"):
        check_hash_list(hashes[:-1] + [hashes[0]], hashes[-1], 19)


def test_hash_list_repeating_a_hash(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    hashes[5] = hashes[6]
    with pytest.raises(InconsistentPeer, match="repeats"):
        check_hash_list(hashes, hashes[-1], 19)


def test_empty_hash_list(chain_20: list[FullBlock]) -> None:
    with pytest.raises(InconsistentPeer):
        check_hash_list([], chain_20[0].header_hash, 0)


# -- find_fork_point -----------------------------------------------------------------------


def _ours(chain: list[FullBlock], calls: list[int] | None = None):  # type: ignore[no-untyped-def]
    def ours(height: int) -> bytes32 | None:
        if calls is not None:
            calls.append(height)
        return chain[height].header_hash if height < len(chain) else None

    return ours


def test_fork_point_same_chain(chain_20: list[FullBlock]) -> None:
    assert find_fork_point(_hashes(chain_20), _ours(chain_20)) == 19


def test_fork_point_peer_ahead(chain_20: list[FullBlock], chain_30: list[FullBlock]) -> None:
    assert find_fork_point(_hashes(chain_30), _ours(chain_20)) == 19


def test_fork_point_nothing_shared(chain_20: list[FullBlock]) -> None:
    other = [bytes32(bytes([i + 1]) * 32) for i in range(20)]
    assert find_fork_point(other, _ours(chain_20)) == -1


def test_fork_point_of_a_fork(block_tools: BlockTools, chain_20: list[FullBlock]) -> None:
    fork = block_tools.make_chain(6, parent_chain=chain_20[:10], seed=3)
    calls: list[int] = []
    assert find_fork_point(_hashes(fork), _ours(chain_20, calls)) == 9
    # binary search: log2(16) + 1 lookups, not one per height
    assert len(calls) <= 5, calls


# -- check_against_list --------------------------------------------------------------------


def _headers(chain: list[FullBlock], heights: list[int]) -> list:  # type: ignore[type-arg]
    return [chain[h].header_block() for h in heights]


def test_answer_matching_the_list_passes(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    heights = [4, 5, 6]
    check_against_list(_headers(chain_20, heights), heights, hashes, hashes[-1], hashes[-1])
    check_against_list([chain_20[h] for h in heights], heights, hashes, hashes[-1], hashes[-1])
    check_against_list(_headers(chain_20, [0]), [0], hashes, hashes[-1], hashes[-1])


def test_answer_for_another_tip(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    heights = [4, 5]
    with pytest.raises(InconsistentPeer, match="another tip"):
        check_against_list(_headers(chain_20, heights), heights, hashes, hashes[-1], hashes[-2])


def test_answer_with_fewer_items(chain_20: list[FullBlock]) -> None:
    hashes = _hashes(chain_20)
    with pytest.raises(InconsistentPeer, match="2 items for 3 heights"):
        check_against_list(_headers(chain_20, [4, 5]), [4, 5, 6], hashes, hashes[-1], hashes[-1])


def test_answer_at_the_wrong_height(chain_20: list[FullBlock]) -> None:
    """Block 6 answering height 5, in a list where that would otherwise hash and link."""
    hashes = _hashes(chain_20)
    hashes[4], hashes[5] = chain_20[5].header_hash, chain_20[6].header_hash
    with pytest.raises(InconsistentPeer, match="where 5 was asked"):
        check_against_list([chain_20[6].header_block()], [5], hashes, hashes[-1], hashes[-1])


def test_answer_not_in_the_list(block_tools: BlockTools, chain_20: list[FullBlock]) -> None:
    """A fork block at the right height, linking to the list's parent, but not the listed
    block: only the per-block hash check catches it."""
    fork = block_tools.make_chain(1, parent_chain=chain_20[:10], seed=3)
    hashes = _hashes(chain_20)
    assert fork[10].prev_header_hash == hashes[9] and fork[10].header_hash != hashes[10]
    with pytest.raises(InconsistentPeer, match="does not match its hash list"):
        check_against_list([fork[10].header_block()], [10], hashes, hashes[-1], hashes[-1])


def test_answer_not_linking_to_the_list(chain_20: list[FullBlock]) -> None:
    """The listed block at its height, but the list's previous entry is not its parent."""
    hashes = _hashes(chain_20)
    hashes[4] = chain_20[3].header_hash
    with pytest.raises(InconsistentPeer, match="does not link"):
        check_against_list(_headers(chain_20, [5]), [5], hashes, hashes[-1], hashes[-1])


def test_sync_windows_cut_the_heights_with_a_short_first_window() -> None:
    windows = sync_windows(1, 300, 128, 32)
    assert [(w[0], w[-1]) for w in windows] == [(1, 32), (33, 160), (161, 288), (289, 300)]
    assert [h for w in windows for h in w] == list(range(1, 301))
    assert sync_windows(5, 5, 128, 32) == [[5]]
    assert sync_windows(6, 5, 128, 32) == []
    assert sync_windows(0, 59, 32, 128) == [list(range(32)), list(range(32, 60))]  # first <= window
