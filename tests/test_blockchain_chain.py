"""Blockchain state over real farmed blocks: add results, three tips, reorgs (the coin set follows
the heaviest tip), fork contexts, restarts, batches, notifications."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator, Iterator, Sequence
from pathlib import Path

import attrs
import pytest
import trio
from sqlalchemy import Connection, select

from tests.chain_store_helpers import BACKENDS, backend_url, reward_coin
from trionode.blockchain import AddBlockStatus, Blockchain
from trionode.consensus import Err
from trionode.consensus.context import CoinRecord
from trionode.protocols.chain_types import FullBlock
from trionode.storage import ChainStore
from trionode.storage import schema as s
from trionode.storage.chain_reads import coin_record
from trionode.testing.block_tools import BlockTools, coin_set
from trionode.wire import bytes32

ADDED = AddBlockStatus.ADDED_TO_TIP
ORPHAN = AddBlockStatus.ADDED_AS_ORPHAN


@attrs.frozen
class Chains:
    """Three chains sharing blocks (indexed by height):

    - main: heights 0..12; its block 6 spends the reward of height 1.
    - fork_a: main[:5] + heights 5..11; block 7 spends the height-1 reward too (unspent on its
      own chain), block 9 spends the fork's own height-5 reward.
    - fork_b: main[:10] + heights 10..13; block 10 spends the reward of height 2.

    Difficulty is the same at every height, so equal heights have equal weights; the heaviest
    chain overall is fork_b, and the three heaviest blocks are fork_b[13], main[12], fork_b[12].
    """

    main: list[FullBlock]
    fork_a: list[FullBlock]
    fork_b: list[FullBlock]


@pytest.fixture(scope="session")
def bt(block_tools: BlockTools) -> BlockTools:
    return block_tools


def _spend_at(bt: BlockTools, height: int, coin_height: int):  # type: ignore[no-untyped-def]
    def txs(chain: Sequence[FullBlock]):  # type: ignore[no-untyped-def]
        if len(chain) == height:
            return [bt.spend_coins([reward_coin(chain[coin_height])])]
        return []

    return txs


@pytest.fixture(scope="session")
def chains(bt: BlockTools) -> Chains:
    main = bt.make_chain(13, transactions=_spend_at(bt, 6, 1))

    def fork_a_txs(chain: Sequence[FullBlock]):  # type: ignore[no-untyped-def]
        if len(chain) == 7:
            return [bt.spend_coins([reward_coin(main[1])])]
        if len(chain) == 9:
            return [bt.spend_coins([reward_coin(chain[5])])]
        return []

    fork_a = bt.make_chain(7, parent_chain=main[:5], seed=1, transactions=fork_a_txs)
    fork_b = bt.make_chain(4, parent_chain=main[:10], seed=2, transactions=_spend_at(bt, 10, 2))
    assert [len(main), len(fork_a), len(fork_b)] == [13, 12, 14]
    assert fork_a[5].header_hash != main[5].header_hash
    assert fork_b[10].header_hash != main[10].header_hash
    for h in range(12):
        assert fork_a[h].weight == main[h].weight
    return Chains(main, fork_a, fork_b)


@pytest.fixture(params=["sqlite"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture(params=BACKENDS)
def any_store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[ChainStore]:
    async with await ChainStore.open(store_url) as st:
        yield st


@pytest.fixture
async def chain(store: ChainStore, bt: BlockTools) -> Blockchain:
    return await Blockchain.create(store, bt.constants)


async def all_coins(store: ChainStore) -> dict[bytes32, CoinRecord]:
    def read(conn: Connection) -> dict[bytes32, CoinRecord]:
        rows = conn.execute(select(*s.coins.c)).all()
        out = {}
        for row in rows:
            record = coin_record(
                (
                    row.coin_id,
                    row.parent,
                    row.puzzle_hash,
                    row.amount,
                    row.confirmed_height,
                    row.spent_height,
                    row.coinbase,
                )
            )
            out[bytes32(row.coin_id)] = record
        return out

    return await store.runner.read(read)


class Reference:
    """What the chain state must be after a sequence of adds: the three heaviest blocks
    (ties: first added), the chain to the heaviest, and that chain's coin set."""

    def __init__(self) -> None:
        self.order: list[FullBlock] = []
        self.by_hash: dict[bytes32, FullBlock] = {}

    def add(self, block: FullBlock) -> None:
        self.order.append(block)
        self.by_hash[block.header_hash] = block

    def ranked(self) -> list[FullBlock]:
        return sorted(self.order, key=lambda b: (-int(b.weight), self.order.index(b)))

    def chain_to(self, top: FullBlock) -> list[FullBlock]:
        out = [top]
        while out[-1].height > 0:
            out.append(self.by_hash[out[-1].prev_header_hash])
        return out[::-1]


async def check_state(bc: Blockchain, ref: Reference) -> None:
    ranked = ref.ranked()
    assert [t.header_hash for t in bc.get_tips()] == [b.header_hash for b in ranked[:3]]
    heaviest = ref.chain_to(ranked[0])
    assert bc.get_header_hashes() == [b.header_hash for b in heaviest]
    assert bc.peak_height == heaviest[-1].height
    assert await all_coins(bc.store) == coin_set(heaviest)
    await bc.store.check_integrity()


async def add_expect(bc: Blockchain, block: FullBlock, status: AddBlockStatus) -> None:
    result = await bc.add_block(block)
    assert result.status is status, (block.height, result)


# -- basic results -----------------------------------------------------------------------------


async def test_linear_chain(chain: Blockchain, chains: Chains) -> None:
    assert chain.get_peak() is None and chain.peak_height is None and chain.get_tips() == []
    first = await chain.add_block(chains.main[0])
    assert first.status is ADDED and first.new_peak and first.fork_height == -1
    for block in chains.main[1:]:
        result = await chain.add_block(block)
        assert result.status is ADDED and result.new_peak
        assert result.fork_height == block.height - 1
    peak = chain.get_peak()
    assert peak is not None and peak.header_hash == chains.main[-1].header_hash
    assert chain.peak_height == 12
    assert [t.height for t in chain.get_tips()] == [12, 11, 10]
    assert await all_coins(chain.store) == coin_set(chains.main)
    spent = await chain.get_coin_record(reward_coin(chains.main[1]).name())
    assert spent is not None and spent.spent_height == 6 and spent.coinbase
    assert await chain.get_block(chains.main[3].header_hash) == chains.main[3]
    header = await chain.get_header_block(chains.main[3].header_hash)
    assert header == chains.main[3].header_block()
    assert await chain.get_blocks_at([2, 0]) == [chains.main[2], chains.main[0]]


async def test_already_have_disconnected_invalid(
    chain: Blockchain, chains: Chains, bt: BlockTools
) -> None:
    main = chains.main
    for block in main[:4]:
        await add_expect(chain, block, ADDED)
    await add_expect(chain, main[2], AddBlockStatus.ALREADY_HAVE)
    await add_expect(chain, main[5], AddBlockStatus.DISCONNECTED)
    assert not chain.contains_block(main[5].header_hash)

    bad = bt.rebuild(main[4], header_changes={"extension_data": bytes32(b"\x01" * 32)})
    result = await chain.add_block(bad)
    assert result.status is AddBlockStatus.INVALID and result.error is Err.INVALID_EXTENSION_DATA
    assert not chain.contains_block(bad.header_hash)
    assert await chain.get_block(bad.header_hash) is None

    # A wrong proof of time (its output changed) is caught in the worker thread too.
    pot = main[4].proof_of_time
    assert pot is not None
    bad_pot = main[4].replace(proof_of_time=pot.replace(witness=bytes(len(pot.witness))))
    result = await chain.add_block(bad_pot)
    assert result.status is AddBlockStatus.INVALID and result.error is Err.INVALID_POT

    # The chain is untouched and the good block still goes in.
    assert chain.peak_height == 3
    await add_expect(chain, main[4], ADDED)
    await chain.store.check_integrity()


async def test_orphans_tips_and_reorg(chain: Blockchain, chains: Chains) -> None:
    main, fork = chains.main[:10], chains.fork_a
    for block in main:
        await add_expect(chain, block, ADDED)
    # Tips are main 9, 8, 7. fork 5, 6 weigh less than the lightest tip; fork 7 only ties it.
    await add_expect(chain, fork[5], ORPHAN)
    await add_expect(chain, fork[6], ORPHAN)
    await add_expect(chain, fork[7], ORPHAN)
    # fork 8 outweighs main 7: a tip, but not the heaviest.
    result = await chain.add_block(fork[8])
    assert result.status is ADDED and not result.new_peak
    assert [t.header_hash for t in chain.get_tips()] == [
        main[9].header_hash,
        main[8].header_hash,
        fork[8].header_hash,
    ]
    # fork 9 ties the heaviest: the block seen first stays heaviest.
    result = await chain.add_block(fork[9])
    assert result.status is ADDED and not result.new_peak
    assert chain.get_header_hashes() == [b.header_hash for b in main]
    # fork 10 is heavier: reorg to the fork from height 4.
    result = await chain.add_block(fork[10])
    assert result.status is ADDED and result.new_peak and result.fork_height == 4
    assert chain.get_header_hashes() == [b.header_hash for b in fork[:11]]
    assert await all_coins(chain.store) == coin_set(fork[:11])
    # main's spend of the height-1 reward at 6 is undone, the fork's at 7 applies.
    record = await chain.get_coin_record(reward_coin(main[1]).name())
    assert record is not None and record.spent_height == 7
    assert await chain.get_coin_record(reward_coin(main[6]).name()) is None
    # And back: main grows heavier again.
    for block in chains.main[10:12]:
        await chain.add_block(block)
    assert chain.get_header_hashes() == [b.header_hash for b in chains.main[:12]]
    assert await all_coins(chain.store) == coin_set(chains.main[:12])
    await chain.store.check_integrity()


def _orders(chains: Chains) -> dict[str, list[FullBlock]]:
    main, a, b = chains.main, chains.fork_a, chains.fork_b
    rr: list[FullBlock] = []
    for i in range(14):
        for c in (main, a, b):
            if i < len(c):
                rr.append(c[i])
    rng = random.Random(4)
    everything = {blk.header_hash: blk for c in (main, a, b) for blk in c}
    remaining = sorted(everything.values(), key=lambda blk: blk.header_hash)
    shuffled: list[FullBlock] = []
    have: set[bytes32] = set()
    while remaining:  # a random order in which parents come before children
        ready = [blk for blk in remaining if blk.height == 0 or blk.prev_header_hash in have]
        pick = rng.choice(ready)
        remaining.remove(pick)
        shuffled.append(pick)
        have.add(pick.header_hash)
    return {
        "main_a_b": main + a + b,
        "b_a_main": b + a + main,
        "a_main_b": a + main + b,
        "round_robin": rr,
        "random": shuffled,
    }


@pytest.mark.parametrize("order", ["main_a_b", "b_a_main", "a_main_b", "round_robin", "random"])
async def test_three_tips_any_order(
    store_url: str, bt: BlockTools, chains: Chains, order: str
) -> None:
    blocks = _orders(chains)[order]
    ref = Reference()
    async with await ChainStore.open(store_url) as st:
        bc = await Blockchain.create(st, bt.constants)
        for block in blocks:
            result = await bc.add_block(block)
            if block.header_hash in ref.by_hash:
                assert result.status is AddBlockStatus.ALREADY_HAVE
                continue
            assert result.added, (block.height, result)
            ref.add(block)
            await check_state(bc, ref)
        tips = {t.header_hash for t in bc.get_tips()}
        assert tips == {
            chains.fork_b[13].header_hash,
            chains.main[12].header_hash,
            chains.fork_b[12].header_hash,
        }
        assert bc.get_header_hashes() == [b.header_hash for b in chains.fork_b]


async def test_reorgs_on_both_backends(any_store_url: str, bt: BlockTools, chains: Chains) -> None:
    ref = Reference()
    async with await ChainStore.open(any_store_url) as st:
        bc = await Blockchain.create(st, bt.constants)
        for block in chains.fork_a + chains.main[5:] + chains.fork_b[10:]:
            result = await bc.add_block(block)
            if result.status is AddBlockStatus.ALREADY_HAVE:
                continue
            ref.add(block)
            await check_state(bc, ref)
    # Reopen: same state, and it goes on.
    async with await ChainStore.open(any_store_url) as st:
        bc = await Blockchain.create(st, bt.constants)
        await check_state(bc, ref)


async def test_fork_context_coins(chain: Blockchain, chains: Chains, bt: BlockTools) -> None:
    """Blocks on a fork are validated against the fork's coin set, not the heaviest chain's."""
    main = chains.main
    for block in main:
        await add_expect(chain, block, ADDED)
    fork = chains.fork_a
    # fork 7 spends the height-1 reward, which main spent at 6 (after the fork at 4): valid.
    # fork 9 spends the fork's own height-5 reward: valid, although main never had that coin.
    for block in fork[5:11]:
        await add_expect(chain, block, ORPHAN)
    await add_expect(chain, fork[11], ADDED)  # outweighs main 10, the lightest tip
    # A fork block spending a coin the fork already spent: double spend on its chain.
    tx = bt.spend_coins([reward_coin(fork[5])])
    # (Parents that already have a child are used: their challenge surely has a proof.)
    again = bt.make_chain(1, parent_chain=fork[:11], seed=1, transactions={0: [tx]})[-1]
    result = await chain.add_block(again)
    assert result.status is AddBlockStatus.INVALID and result.error is Err.DOUBLE_SPEND
    # A fork block spending a coin that exists only on main after the fork point.
    tx = bt.spend_coins([reward_coin(main[8])])
    foreign = bt.make_chain(1, parent_chain=fork[:11], seed=1, transactions={0: [tx]})[-1]
    result = await chain.add_block(foreign)
    assert result.status is AddBlockStatus.INVALID and result.error is Err.UNKNOWN_COIN
    # The same spend on main is fine.
    ok = bt.make_chain(1, parent_chain=main[:12], transactions={0: [tx]})[-1]
    await add_expect(chain, ok, ADDED)


async def test_views_of_a_fork_tip(chain: Blockchain, chains: Chains) -> None:
    for block in chains.main[:12] + chains.fork_b[10:13]:
        await chain.add_block(block)
    tip = chains.fork_b[12].header_hash
    assert chain.get_header_hashes() == [b.header_hash for b in chains.fork_b[:13]]
    assert chain.get_header_hashes(chains.main[11].header_hash) == [
        b.header_hash for b in chains.main[:12]
    ]
    blocks = await chain.get_blocks_at([9, 11], chains.main[11].header_hash)
    assert blocks == [chains.main[9], chains.main[11]]
    headers = await chain.get_header_blocks_at([10, 12], tip)
    assert headers == [chains.fork_b[10].header_block(), chains.fork_b[12].header_block()]
    with pytest.raises(ValueError, match="not on the chain"):
        await chain.get_blocks_at([13])
    with pytest.raises(KeyError):
        chain.get_header_hashes(bytes32(bytes(32)))
    assert chain.is_on_heaviest_chain(chains.fork_b[11].header_hash)
    assert not chain.is_on_heaviest_chain(chains.main[11].header_hash)
    assert chain.height_to_hash(10) == chains.fork_b[10].header_hash
    # Difficulty / ips of the next block match what the block maker used.
    child = chains.fork_b[13]
    assert await chain.get_next_difficulty() == int(child.weight) - int(chains.fork_b[12].weight)
    assert await chain.get_next_ips() >= 1


async def test_add_blocks_batch(chain: Blockchain, chains: Chains, bt: BlockTools) -> None:
    main = chains.main
    bad = bt.rebuild(main[6], header_changes={"extension_data": bytes32(b"\x02" * 32)})
    batch = [*main[:6], bad, main[7], main[6], main[3]]
    results = await chain.add_blocks(batch)
    assert [r.status for r in results] == [ADDED] * 6 + [
        AddBlockStatus.INVALID,
        AddBlockStatus.DISCONNECTED,  # its parent main[6] comes later in the batch
        ADDED,
        AddBlockStatus.ALREADY_HAVE,
    ]
    assert results[6].error is Err.INVALID_EXTENSION_DATA
    results = await chain.add_blocks(main[7:])
    assert all(r.status is ADDED for r in results)
    assert chain.get_header_hashes() == [b.header_hash for b in main]
    await chain.store.check_integrity()


async def test_parent_invalid_in_batch_disconnects_child(
    chain: Blockchain, chains: Chains, bt: BlockTools
) -> None:
    main = chains.main
    bad_pot = main[2].proof_of_time
    assert bad_pot is not None
    bad = main[2].replace(proof_of_time=bad_pot.replace(witness=bytes(len(bad_pot.witness))))
    # main[3]'s parent is main[2], not bad (same header hash? no: the header is unchanged).
    assert bad.header_hash == main[2].header_hash
    results = await chain.add_blocks([main[0], main[1], bad, main[3]])
    assert [r.status for r in results] == [
        ADDED,
        ADDED,
        AddBlockStatus.INVALID,
        AddBlockStatus.DISCONNECTED,
    ]
    assert chain.peak_height == 1


async def test_subscribers_hear_tip_changes(chain: Blockchain, chains: Chains) -> None:
    events = chain.subscribe()
    async with events:
        for block in chains.main[:10]:
            await chain.add_block(block)
        await chain.add_block(chains.fork_a[5])  # orphan: no event
        seen = []
        while True:
            try:
                seen.append(events.receive_nowait())
            except trio.WouldBlock:
                break
    assert [e.peak.height for e in seen] == list(range(10))
    assert all(e.new_peak for e in seen)
    # The closed subscriber is forgotten on the next change.
    await chain.add_block(chains.main[10])
    assert chain._subscribers == []


async def test_validate_unfinished_and_headers(
    chain: Blockchain, chains: Chains, bt: BlockTools
) -> None:
    main = chains.main
    for block in main[:8]:
        await chain.add_block(block)
    unfinished = bt.make_unfinished(main[:8])
    assert await chain.validate_unfinished(unfinished) is None
    assert await chain.validate_unfinished(main[8]) is Err.UNEXPECTED_PROOF_OF_TIME
    orphan_parent = bt.make_unfinished(main[:10])
    assert await chain.validate_unfinished(orphan_parent) is Err.UNKNOWN_PARENT
    headers = [b.header_block() for b in main[8:]]
    assert await chain.validate_header_blocks(headers) == [None] * len(headers)
    broken = headers[1].replace(
        header=headers[1].header.replace(data=headers[1].header.data.replace(timestamp=0))
    )
    errors = await chain.validate_header_blocks([headers[0], broken, headers[3]])
    assert errors[0] is None
    assert errors[1] is not None
    assert errors[2] is Err.UNKNOWN_PARENT


async def test_validate_blocks_beside_the_commit_of_the_run_below(
    chain: Blockchain, chains: Chains
) -> None:
    """A long sync's pipeline: a run validates while the run below it, validated, is not
    committed yet (its blocks are the parents, and the coin a block of it creates is spent in
    this run, height 6 spending height 1's reward); then both commit in order."""
    main = chains.main
    await chain.add_block(main[0])
    below, run = list(main[1:4]), list(main[4:])
    errors_below = await chain.validate_blocks(below, {})
    errors_run = await chain.validate_blocks(run, {b.header_hash: b for b in below})
    assert errors_below == [None] * len(below)
    assert errors_run == [None] * len(run)
    # Without the run below, nothing links the run to the chain.
    assert await chain.validate_blocks(run[:2], {}) == [Err.UNKNOWN_PARENT] * 2
    # An invalid body is found, and its commit refuses it.
    tampered = run[0].replace(body=run[0].body.replace(cost=run[0].body.cost + 1))
    (err,) = await chain.validate_blocks([tampered], {b.header_hash: b for b in below})
    assert err is not None
    assert all(r.added for r in await chain.commit_validated(below, errors_below))
    (result,) = await chain.commit_validated([tampered], [err])
    assert result.status is AddBlockStatus.INVALID
    # A stored block is not validated again; its commit says it is held.
    assert await chain.validate_blocks(below[:1], {}) == [None]
    (again,) = await chain.commit_validated(below[:1], [None])
    assert again.status is AddBlockStatus.ALREADY_HAVE
    assert all(r.added for r in await chain.commit_validated(run, errors_run))
    assert chain.get_header_hashes() == [b.header_hash for b in main]


async def test_restart_resumes(store_url: str, bt: BlockTools, chains: Chains) -> None:
    async with await ChainStore.open(store_url) as st:
        bc = await Blockchain.create(st, bt.constants)
        for block in chains.main[:7] + chains.fork_a[5:8]:
            await bc.add_block(block)
        tips = [t.header_hash for t in bc.get_tips()]
    async with await ChainStore.open(store_url) as st:
        bc = await Blockchain.create(st, bt.constants)
        assert [t.header_hash for t in bc.get_tips()] == tips
        assert bc.get_header_hashes() == [b.header_hash for b in chains.fork_a[:8]]
        # Ties after restart still go to the block seen first (main[7] ties fork_a[7]).
        await add_expect(bc, chains.main[7], ADDED)
        assert bc.get_peak() is not None
        assert bc.get_peak().header_hash == chains.fork_a[7].header_hash  # type: ignore[union-attr]
        for block in chains.main[8:]:
            await bc.add_block(block)
        assert bc.get_header_hashes() == [b.header_hash for b in chains.main]
        assert await all_coins(st) == coin_set(chains.main)


async def test_epoch_difficulty_change(store: ChainStore, bt: BlockTools) -> None:
    """Blocks made twice as fast as the target: the difficulty rises at the epoch boundary and
    the Blockchain agrees with the block maker about it."""
    c = bt.constants
    fast = [1_700_000_000 + i * max(1, c.BLOCK_TIME_TARGET // 2) for i in range(c.EPOCH + 2)]
    blocks = bt.make_chain(c.EPOCH + 2, timestamps=fast)
    bc = await Blockchain.create(store, c)
    diffs = []
    for i, block in enumerate(blocks):
        expected = await bc.get_next_difficulty(None if i == 0 else blocks[i - 1].header_hash)
        actual = int(block.weight) - (0 if i == 0 else int(blocks[i - 1].weight))
        assert expected == actual
        diffs.append(actual)
        await add_expect(bc, block, ADDED)
    assert diffs[c.EPOCH - 1] == c.DIFFICULTY_STARTING
    assert diffs[c.EPOCH] > c.DIFFICULTY_STARTING


async def test_on_valid_runs_before_the_commit_and_never_for_an_invalid_block(
    chain: Blockchain, chains: Chains
) -> None:
    """Relay before store: ``on_valid`` sees a block that validated and is not stored yet,
    with the result its commit then returns; a block that fails validation never reaches it."""
    main = chains.main
    for block in main[:5]:
        await chain.add_block(block)
    told: list[tuple[bytes32, bool, object]] = []

    async def on_valid(block: FullBlock, planned: object) -> None:
        told.append((block.header_hash, chain.contains_block(block.header_hash), planned))

    result = await chain.add_block(main[5], on_valid=on_valid)
    assert result.status is AddBlockStatus.ADDED_TO_TIP and result.new_peak
    assert told == [(main[5].header_hash, False, result)]
    assert chain.contains_block(main[5].header_hash)

    told.clear()
    bad = main[6].replace(
        header=main[6].header.replace(data=main[6].header.data.replace(timestamp=0))
    )
    result = await chain.add_block(bad, on_valid=on_valid)
    assert result.status is AddBlockStatus.INVALID and told == []
    # A window: each block is told before the one transaction that stores them all.
    results = await chain.add_blocks(main[6:10], on_valid=on_valid)
    assert all(r.status is AddBlockStatus.ADDED_TO_TIP for r in results)
    assert [h for h, _, _ in told] == [b.header_hash for b in main[6:10]]
    assert not any(stored for _, stored, _ in told)


async def test_a_batch_reorg_reads_the_fork_coin_changes_it_lacks(
    store: ChainStore, chains: Chains, bt: BlockTools
) -> None:
    """One add_blocks batch that reorgs onto a fork whose lower blocks are stored but not
    cached (a restarted node): the blocks before the reorg commit, the fork's coin changes are
    read, the rest commit; the end state is the fork's chain and coin set, as if added one by
    one."""
    main, fork_a = chains.main, chains.fork_a
    first = await Blockchain.create(store, bt.constants)
    for block in main[:9] + fork_a[5:8]:  # fork_a 5..7 stored as orphans (lighter)
        await first.add_block(block)
    restarted = await Blockchain.create(store, bt.constants)  # empty caches
    results = await restarted.add_blocks([main[9], *fork_a[8:]])
    assert [r.status for r in results] == [AddBlockStatus.ADDED_TO_TIP] * 5
    assert restarted.get_header_hashes() == [b.header_hash for b in fork_a]
    assert await all_coins(store) == coin_set(fork_a)
    again = await Blockchain.create(store, bt.constants)  # what was committed, reloaded
    assert again.get_header_hashes() == [b.header_hash for b in fork_a]
