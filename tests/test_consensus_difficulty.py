"""Difficulty and ips at epoch boundaries (sim: EPOCH 12, BLOCK_TIME_TARGET 2 s), median time.

Real chains from BlockTools with chosen timestamps force fast or slow epochs; the blocks made at
the new difficulty must validate, and the same block at the old difficulty must not.
"""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from trionode.consensus import (
    SIM,
    Err,
    block_difficulty,
    median_timestamp,
    next_difficulty,
    next_ips,
    validate_block,
)
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.testing.block_tools import GENESIS_TIMESTAMP, BlockTools
from trionode.wire import uint32, uint64, uint128

EPOCH = SIM.EPOCH
START = SIM.DIFFICULTY_STARTING


def _ancestor(chain: Sequence[FullBlock]):  # type: ignore[no-untyped-def]
    return lambda h: chain[h].header_block()


def _difficulties(chain: Sequence[FullBlock]) -> list[int]:
    anc = _ancestor(chain)
    return [block_difficulty(b.header_block(), anc) for b in chain]


def _validate_all(bt: BlockTools, chain: Sequence[FullBlock]) -> None:
    for block in chain:
        assert validate_block(SIM, block, bt.context_for(chain, block)) is None, block.height


def _spaced(n: int, step: int, start: int = GENESIS_TIMESTAMP) -> list[int]:
    return [start + i * step for i in range(n)]


def _earliest_timestamps(n: int) -> list[int]:
    """Each timestamp the smallest the median rule allows: as fast as a chain can claim."""
    stamps = [GENESIS_TIMESTAMP]
    while len(stamps) < n:
        last = sorted(stamps[-SIM.MEDIAN_TIMESTAMP_COUNT :])
        stamps.append(last[len(last) // 2] + 1)
    return stamps


def test_constant_during_first_epoch(chain_20: list[FullBlock]) -> None:
    assert _difficulties(chain_20[:EPOCH]) == [START] * EPOCH
    # on-target timestamps: the adjustment at height 12 keeps the difficulty
    assert _difficulties(chain_20) == [START] * 20


def test_fast_epoch_doubles_difficulty(block_tools: BlockTools) -> None:
    # 1 s blocks against a 2 s target; window at h=12 is 11 intervals from genesis
    chain = block_tools.make_chain(EPOCH + 3, timestamps=_spaced(EPOCH + 3, 1))
    diffs = _difficulties(chain)
    assert diffs[:EPOCH] == [START] * EPOCH
    assert diffs[EPOCH] == START * 2 * 11 // 11 == 2 * START
    assert diffs[EPOCH + 1 :] == [2 * START] * 2  # constant until the next boundary
    _validate_all(block_tools, chain)


def test_slow_epoch_halves_difficulty_then_second_epoch(block_tools: BlockTools) -> None:
    chain = block_tools.make_chain(2 * EPOCH + 1, timestamps=_spaced(2 * EPOCH + 1, 4))
    diffs = _difficulties(chain)
    assert diffs[EPOCH] == START * 2 * 11 // 44 == START // 2
    # the second boundary measures a full EPOCH of intervals: 12 * 4 s against 12 * 2 s
    assert diffs[2 * EPOCH] == (START // 2) * 2 * 12 // 48 == START // 4
    _validate_all(block_tools, chain)


def test_clamped_to_three_times(block_tools: BlockTools) -> None:
    stamps = _earliest_timestamps(EPOCH + 1)
    elapsed = stamps[EPOCH - 1] - stamps[0]
    assert START * 2 * 11 // elapsed > 3 * START  # the unclamped value would exceed 3x
    chain = block_tools.make_chain(EPOCH + 1, timestamps=stamps)
    assert _difficulties(chain)[EPOCH] == 3 * START
    _validate_all(block_tools, chain)


def test_clamped_to_a_third(block_tools: BlockTools) -> None:
    chain = block_tools.make_chain(EPOCH + 1, timestamps=_spaced(EPOCH + 1, 60))
    assert START * 2 * 11 // (60 * 11) < START // 3
    assert _difficulties(chain)[EPOCH] == START // 3
    _validate_all(block_tools, chain)


def test_block_at_the_old_difficulty_is_rejected(block_tools: BlockTools) -> None:
    chain = block_tools.make_chain(EPOCH + 1, timestamps=_spaced(EPOCH + 1, 1))
    block = chain[EPOCH]
    ctx = block_tools.context_for(chain, block)
    assert ctx.difficulty == 2 * START
    stale = ctx.__class__(
        parent=ctx.parent,
        difficulty=START,
        median_timestamp=ctx.median_timestamp,
        now=ctx.now,
        coins=ctx.coins,
    )
    assert validate_block(SIM, block, stale) == Err.INVALID_WEIGHT


def _synthetic(
    template: HeaderBlock, stamps: Sequence[int], diffs: Sequence[int]
) -> list[HeaderBlock]:
    """Header blocks with given timestamps and difficulties (only the fields the difficulty
    functions read are meaningful)."""
    blocks, weight, iters = [], 0, 0
    for h, (ts, d) in enumerate(zip(stamps, diffs, strict=True)):
        weight += d
        iters += 1000 * (h + 1)
        data = template.header.data.replace(
            height=uint32(h),
            timestamp=uint64(ts),
            weight=uint128(weight),
            total_iters=uint128(iters),
        )
        blocks.append(template.replace(header=template.header.replace(data=data)))
    return blocks


def test_difficulty_never_below_one(chain_20: list[FullBlock]) -> None:
    n = EPOCH
    blocks = _synthetic(chain_20[0].header_block(), _spaced(n, 10_000), [1] * n)
    assert next_difficulty(SIM, blocks[-1], lambda h: blocks[h]) == 1
    blocks = _synthetic(chain_20[0].header_block(), _spaced(n, 10_000), [2] * n)
    assert next_difficulty(SIM, blocks[-1], lambda h: blocks[h]) == 1  # 2 // 3 == 0 -> 1


def test_non_increasing_timestamps_count_as_one_second(chain_20: list[FullBlock]) -> None:
    n = EPOCH
    stamps = [GENESIS_TIMESTAMP + 100] + [GENESIS_TIMESTAMP] * (n - 1)
    blocks = _synthetic(chain_20[0].header_block(), stamps, [START] * n)
    assert next_difficulty(SIM, blocks[-1], lambda h: blocks[h]) == 3 * START


def test_ips_estimate(block_tools: BlockTools) -> None:
    chain = block_tools.make_chain(EPOCH + 2, timestamps=_spaced(EPOCH + 2, 3))
    anc = _ancestor(chain)
    assert next_ips(SIM, None, anc) == SIM.IPS_STARTING
    assert next_ips(SIM, chain[EPOCH - 2].header_block(), anc) == SIM.IPS_STARTING
    total = int(chain[EPOCH - 1].header.data.total_iters) - int(chain[0].header.data.total_iters)
    expected = total // (3 * (EPOCH - 1))
    assert next_ips(SIM, chain[EPOCH - 1].header_block(), anc) == expected
    assert next_ips(SIM, chain[EPOCH].header_block(), anc) == expected  # kept within the epoch


@pytest.mark.parametrize("height", [0, 1, 2, 5, 10, 11, 19])
def test_median_timestamp(chain_20: list[FullBlock], height: int) -> None:
    anc = _ancestor(chain_20)
    parent = chain_20[height].header_block()
    stamps = sorted(
        int(b.header.data.timestamp) for b in chain_20[max(0, height - 10) : height + 1]
    )
    assert median_timestamp(SIM, parent, anc) == stamps[len(stamps) // 2]
    assert median_timestamp(SIM, None, anc) is None
