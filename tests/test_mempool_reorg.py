"""The MempoolManager follows the heaviest tip of a real Blockchain (SQLite store, real farmed
blocks): a block spending a held transaction's coins removes it, a reorg that drops that block
puts the transaction back, a transaction spending a spent coin is refused."""

from __future__ import annotations

from pathlib import Path

import trio
import trio.testing

from trionode.blockchain import Blockchain
from trionode.consensus import Err, coinbase_coin
from trionode.mempool import AddStatus, MempoolManager
from trionode.protocols.chain_types import FullBlock
from trionode.storage import BlockCommit
from trionode.storage.chain_store import ChainStore
from trionode.testing.block_tools import BlockTools


async def test_mempool_follows_blocks_and_reorgs(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    reward = chain_20[1].body.coinbase
    coin = coinbase_coin(int(reward.height), reward.puzzle_hash, int(reward.amount))
    tx = block_tools.spend_coins([coin], fee=99)
    with_tx = block_tools.make_chain(1, parent_chain=chain_20, transactions={0: [tx]}, seed=1)
    heavier = block_tools.make_chain(3, parent_chain=chain_20, seed=2)
    async with await ChainStore.open(f"sqlite:///{tmp_path / 'chain.sqlite'}") as store:
        chain = await Blockchain.create(store, block_tools.constants)
        await chain.add_blocks(chain_20)
        manager = MempoolManager(chain)
        assert (await manager.add_transaction(tx)).status is AddStatus.ADDED
        assert await manager.select_for(chain_20[-1].header_hash, 10**6) == [tx]
        assert await manager.select_for(chain_20[-2].header_hash, 10**6) == []  # not the peak

        (result,) = await chain.add_blocks(with_tx[-1:])
        assert result.new_peak
        await manager.on_new_peak()
        assert tx.get_hash() not in manager.mempool  # mined
        again = await manager.add_transaction(tx)
        assert again.status is AddStatus.INVALID and again.error is Err.DOUBLE_SPEND

        results = await chain.add_blocks(heavier[-3:])
        assert results[-1].new_peak
        assert [r.fork_height for r in results if r.new_peak][0] == 19  # the reorg
        await manager.on_new_peak()
        assert tx.get_hash() in manager.mempool  # the reorg returned it
        assert await manager.select_for(heavier[-1].header_hash, 10**6) == [tx]


async def test_coins_read_while_a_commit_is_unapplied_do_not_lose_a_transaction(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    """The store is ahead of the peak between a commit's write and its view change. A mempool
    catching up then must not take the new block's spends for the peak's: it dropped the
    transaction the block mined while recording the old peak, and when the block then lost a
    reorg to a chain from that old peak, nothing returned the transaction (seen in the
    simulator's 50-node, 1,000-block run: "no accepted transaction lost" failed)."""
    reward = chain_20[1].body.coinbase
    coin = coinbase_coin(int(reward.height), reward.puzzle_hash, int(reward.amount))
    tx = block_tools.spend_coins([coin], fee=99)
    a = block_tools.make_chain(1, parent_chain=chain_20, seed=3)
    b = block_tools.make_chain(1, parent_chain=a, transactions={0: [tx]}, seed=4)
    c = block_tools.make_chain(2, parent_chain=a, seed=5)  # heavier than b, from a
    async with await ChainStore.open(f"sqlite:///{tmp_path / 'chain.sqlite'}") as store:
        chain = await Blockchain.create(store, block_tools.constants)
        await chain.add_blocks(chain_20)
        manager = MempoolManager(chain)
        assert (await manager.add_transaction(tx)).status is AddStatus.ADDED
        await chain.add_blocks(a[-1:])  # the peak moves; the mempool has not caught up yet

        written, release = trio.Event(), trio.Event()
        commit_many = store.commit_many

        async def slow_commit(commits: list[BlockCommit]) -> None:
            await commit_many(commits)
            written.set()  # in the store; the blockchain applies it to its view after this
            await release.wait()

        store.commit_many = slow_commit  # type: ignore[method-assign]
        async with trio.open_nursery() as nursery:
            nursery.start_soon(chain.add_blocks, b[-1:])
            await written.wait()
            nursery.start_soon(manager.on_new_peak)
            await trio.testing.wait_all_tasks_blocked()
            release.set()
        store.commit_many = commit_many  # type: ignore[method-assign]

        results = await chain.add_blocks(c[-2:])  # b loses; c builds on a
        peak = chain.get_peak()
        assert results[-1].new_peak and peak is not None and peak.header_hash == c[-1].header_hash
        await manager.on_new_peak()
        assert tx.get_hash() in manager.mempool  # b's reorg returned it
