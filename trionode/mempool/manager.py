"""Keeps a :class:`Mempool` valid against the heaviest tip of a :class:`Blockchain`.

- ``add_transaction`` looks up the coins a transaction spends as the heaviest chain sees them
  and validates it (signatures in a worker thread).
- ``on_new_peak`` follows the heaviest tip: when it moved forward, what the new blocks spend is
  dropped; when it moved to another chain (a reorg), the transactions of the blocks that left
  the heaviest chain are re-admitted with the held ones, against the new coin set. Comparing the
  previous peak with the current height map needs no event: several peak changes between two
  calls are handled at once.
"""

from __future__ import annotations

import logging

import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import transaction_removals
from trionode.consensus.transactions import check_transaction_alone
from trionode.mempool.mempool import AddResult, AddStatus, Mempool
from trionode.nursery.offload import run_blocking
from trionode.protocols.chain_types import Transaction
from trionode.wire import bytes32

logger = logging.getLogger(__name__)


class MempoolManager:
    def __init__(self, blockchain: Blockchain, mempool: Mempool | None = None) -> None:
        self.blockchain = blockchain
        self.mempool = mempool or Mempool(blockchain.constants.MAX_BLOCK_COST)
        peak = blockchain.get_peak()
        self._peak: bytes32 | None = None if peak is None else peak.header_hash
        self._lock = trio.Lock()

    async def add_transaction(self, tx: Transaction) -> AddResult:
        tx_id = tx.get_hash()
        if tx_id in self.mempool:
            return AddResult(AddStatus.ALREADY_HAVE)
        err = await run_blocking(check_transaction_alone, tx, self.mempool.max_block_cost)
        if err is not None:
            return AddResult(AddStatus.INVALID, err)
        async with self._lock:
            await self._catch_up()
            coins = await self.blockchain.get_coin_records(transaction_removals(tx))
            result = self.mempool.add(tx, coins)
        if result.added:
            logger.info(
                "transaction %s added to the mempool (%d held, fee %d)",
                tx_id.hex()[:16],
                len(self.mempool),
                self.mempool._items[tx_id].fee if tx_id in self.mempool else 0,
            )
        return result

    async def on_new_peak(self) -> None:
        async with self._lock:
            await self._catch_up()

    async def select_for(self, parent: bytes32 | None, max_cost: int) -> list[Transaction]:
        """Transactions for a block on ``parent``: the best that fit ``max_cost`` if ``parent``
        is the heaviest tip (the mempool's coin set), none otherwise. Their coins are checked
        again, so a block arriving meanwhile cannot make the body invalid."""
        async with self._lock:
            await self._catch_up()
            if parent is None or parent != self._peak:
                return []
            chosen = self.mempool.select(max_cost)
            if not chosen:
                return []
            ids = [cid for tx in chosen for cid in transaction_removals(tx)]
            coins = await self.blockchain.get_coin_records(ids)
            peak = self.blockchain.get_peak()
            if peak is None or peak.header_hash != parent:
                return []
            return [
                tx
                for tx in chosen
                if all(
                    (r := coins.get(cid)) is not None and r.spent_height is None
                    for cid in transaction_removals(tx)
                )
            ]

    async def _catch_up(self) -> None:
        # The coins must be the peak's: a commit whose write is done but whose view change is
        # not (the blockchain applies it after the write returns) shows its blocks' spends in
        # the store before the peak moves to them. Taken for the peak's, a transaction those
        # blocks spend is dropped while the mempool records the old peak, and if the blocks
        # then lose a reorg before the mempool saw them as the peak, nothing returns it (the
        # reorg is measured from the recorded peak). So read while no commit is in between,
        # and again if one began meanwhile.
        while True:
            await self.blockchain.wait_view_applied()
            seq = self.blockchain.commit_seq
            peak = self.blockchain.get_peak()
            new = None if peak is None else peak.header_hash
            old = self._peak
            if new == old:
                return
            returned = await self._returned_by_reorg(old)
            candidates = [item.tx for item in self.mempool.items()] + returned
            ids = [cid for tx in candidates for cid in transaction_removals(tx)]
            coins = await self.blockchain.get_coin_records(ids) if ids else {}
            if self.blockchain.commit_seq == seq:
                break
        self._peak = new
        if not candidates:
            return
        gone = self.mempool.rebuild(candidates, coins)
        if gone:
            logger.info("mempool: %d transactions left (spent by new blocks)", len(gone))

    async def _returned_by_reorg(self, old: bytes32 | None) -> list[Transaction]:
        """When ``old`` left the heaviest chain (a reorg): the transactions of its blocks above
        the fork, which go back to the mempool."""
        if old is None or self.blockchain.is_on_heaviest_chain(old):
            return []
        old_chain = self.blockchain.get_header_hashes(old)
        fork = len(old_chain) - 1
        while fork >= 0 and self.blockchain.height_to_hash(fork) != old_chain[fork]:
            fork -= 1
        left = old_chain[fork + 1 :]
        returned: list[Transaction] = []
        if left:
            blocks = await self.blockchain.store.get_full_blocks(left)
            returned = [tx for h in left if h in blocks for tx in blocks[h].body.transactions]
        logger.info(
            "mempool: reorg at height %d returns %d transactions of %d blocks",
            fork,
            len(returned),
            len(left),
        )
        return returned
