"""The MempoolManager follows the heaviest tip of a real Blockchain (SQLite store, real farmed
blocks): a block spending a held transaction's coins removes it, a reorg that drops that block
puts the transaction back, a transaction spending a spent coin is refused."""

from __future__ import annotations

from pathlib import Path

from trionode.blockchain import Blockchain
from trionode.consensus import Err, coinbase_coin
from trionode.mempool import AddStatus, MempoolManager
from trionode.protocols.chain_types import FullBlock
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
