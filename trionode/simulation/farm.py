"""The honest farm and wallet of a run.

Farmers: at random virtual times (exponential, mean ``block_interval``) one of a few farmers
(each with its own reward key, so two farmers on one parent make different blocks) farms on a
random honest node's heaviest tip, as that node's own farmer and timelord would: the block has
a real proof of space from the block tools' k=18 plots, the transactions the node's mempool
selects, the node's (skewed) wall time as timestamp and a real VDF; the node adds it as its
own. Proofs of time are memoised by (challenge, iterations), in memory and in ``cache_dir``:
farmers on one parent share one VDF, and a replayed seed farms from cache.

An equivocating farmer (when the run has Byzantine nodes) sometimes makes two blocks from one
proof of space (two timestamps) and gives them to two different nodes.

The wallet spends mature coinbase coins of the farm's keys on some node's chain, now and then
twice (a conflicting spend with a higher fee sent elsewhere): what the coin invariants watch.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio

from trionode.consensus import coinbase_coin
from trionode.mempool import AddResult
from trionode.nursery.offload import run_blocking
from trionode.protocols.chain_types import FullBlock, ProofOfTime, Transaction
from trionode.simulation.eventlog import EventLog
from trionode.simulation.nodes import SimNode
from trionode.testing.block_tools import BlockTools, NoProofError
from trionode.wire import bytes32

FARMER_SEEDS = (1, 2, 3)
SPEND_DEPTH = 3  # the wallet spends coinbases at least this deep under the peak
MEDIAN_WINDOW = 11


class CachedBlockTools(BlockTools):
    """Block tools whose proofs of time are kept (memory and disk) by challenge and
    iterations."""

    def __init__(self, *args: object, cache_dir: Path | None = None, **kwargs: object) -> None:
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]
        self._pots: dict[tuple[bytes32, int], ProofOfTime] = {}
        self._dir = cache_dir
        if cache_dir is not None:
            cache_dir.mkdir(parents=True, exist_ok=True)
        self.vdfs_run = 0

    def prove_time(self, challenge_hash: bytes32, iterations: int) -> ProofOfTime:
        key = (challenge_hash, iterations)
        pot = self._pots.get(key)
        if pot is not None:
            return pot
        path = None if self._dir is None else self._dir / f"{challenge_hash.hex()}-{iterations}"
        if path is not None and path.exists():
            pot = ProofOfTime.from_bytes(path.read_bytes())
        else:
            pot = super().prove_time(challenge_hash, iterations)
            self.vdfs_run += 1
            if path is not None:
                tmp = path.with_suffix(".tmp")
                tmp.write_bytes(bytes(pot))
                tmp.replace(path)
        self._pots[key] = pot
        return pot


@attrs.define
class Made:
    block: FullBlock
    at: float  # virtual time it was made
    farmer: int
    encoded: bytes = attrs.field(init=False)  # bytes(block), made once

    @encoded.default
    def _encode(self) -> bytes:
        return bytes(self.block)


class Farm:
    def __init__(self, bt: BlockTools, rand: random.Random, log: EventLog) -> None:
        self.bt = bt
        self.rand = rand
        self.log = log
        self.made: dict[bytes32, Made] = {}  # every valid block of the run
        self.equivocations = 0
        self.dead_ends = 0
        # The wallet's record: transactions some node accepted, and where.
        self.accepted: dict[bytes32, tuple[Transaction, str, float]] = {}
        self.submitted = 0
        self._spent_by_wallet: set[bytes32] = set()

    def chain_to(self, tip: bytes32 | None) -> list[FullBlock]:
        """The chain (genesis first) ending at ``tip``, from the blocks this farm made."""
        out: list[FullBlock] = []
        h = tip
        while h is not None:
            block = self.made[h].block
            out.append(block)
            h = None if block.height == 0 else block.prev_header_hash
        out.reverse()
        return out

    def _timestamp(self, chain: Sequence[FullBlock], node: SimNode) -> int:
        recent = [int(b.header.data.timestamp) for b in chain[-MEDIAN_WINDOW:]]
        return max([int(node.wall()), *(t + 1 for t in recent)])

    async def farm_on(self, node: SimNode, *, equivocate: bool = False) -> list[FullBlock]:
        """Make the next block on ``node``'s heaviest tip and give it to ``node``; when no plot
        answers that tip's challenge, a short branch below the tip that outweighs it. Returns
        the equivocating twin (not given to ``node``), if one was made."""
        peak = node.blockchain.get_peak()
        chain = self.chain_to(None if peak is None else peak.header_hash)
        farmer = self.rand.choice(FARMER_SEEDS)
        parent_hash = None if not chain else chain[-1].header_hash
        txs = await node.full_node.mempool.select_for(parent_hash, self.bt.constants.MAX_BLOCK_COST)
        stamp = self._timestamp(chain, node)
        try:
            blocks = [await run_blocking(self._make, chain, stamp, txs, farmer, 0)]
        except NoProofError:
            # Nothing answers the tip's challenge (e^-4 of challenges with 4 plots): every
            # later attempt on this tip would fail alike, and a sibling of the same weight
            # does not move the nodes off it, so the farm stalled for good. A real farm of
            # many plots answers every challenge; ours branches below the tip instead.
            self.dead_ends += 1
            blocks = await run_blocking(self._branch, chain, stamp, farmer)
            if not blocks:
                return []
            equivocate = False
        if equivocate:
            # The same proof of space on the same parent, with another timestamp.
            twin = await run_blocking(self._make, chain, stamp + 1, (), farmer, 0)
            blocks.append(twin)
            self.equivocations += 1
        for block in blocks:
            self.made[block.header_hash] = Made(block, trio.current_time(), farmer)
            self.log.write(
                "farm",
                node.name,
                block.height,
                block.header_hash.hex()[:16],
                farmer,
                len(block.body.transactions),
            )
        twins = blocks[1:] if equivocate else []
        for block in blocks[:1] if equivocate else blocks:
            await node.full_node.add_block(block, source=None)
        return twins

    def _branch(self, chain: list[FullBlock], stamp: int, farmer: int) -> list[FullBlock]:
        """``back + 1`` blocks on ``chain[:-back]`` (next-best proofs where the best lead to a
        dead end, as ``make_chain`` backs up): one block more than they replace, so the
        branch is the heavier. Empty if no branch up to three blocks back can be made."""
        for back in (1, 2, 3):
            if len(chain) <= back:
                break
            n = back + 1
            try:
                made = self.bt.make_chain(
                    n,
                    parent_chain=chain[:-back],
                    timestamps=[stamp + i for i in range(n)],
                    seed=farmer,
                )
            except NoProofError:
                continue
            return made[-n:]
        return []

    def _make(
        self,
        chain: list[FullBlock],
        stamp: int,
        txs: Sequence[Transaction],
        farmer: int,
        candidate: int,
    ) -> FullBlock:
        return self.bt.next_block(
            chain, timestamp=stamp, transactions=txs, seed=farmer, candidate=candidate
        )

    # -- the wallet -----------------------------------------------------------------------

    async def spend_on(self, node: SimNode, others: Sequence[SimNode]) -> None:
        """Spend one mature coinbase coin of ``node``'s chain through ``node``; sometimes also
        a conflicting spend of it, with a higher fee, through another node."""
        peak = node.blockchain.get_peak()
        if peak is None or int(peak.height) < SPEND_DEPTH:
            return
        chain = self.chain_to(peak.header_hash)
        height = self.rand.randrange(0, len(chain) - SPEND_DEPTH)
        cb = chain[height].body.coinbase
        coin = coinbase_coin(int(cb.height), cb.puzzle_hash, int(cb.amount))
        if coin.name() in self._spent_by_wallet:
            return
        self._spent_by_wallet.add(coin.name())
        fee = self.rand.randrange(1, 1000)
        tx = await run_blocking(lambda: self.bt.spend_coins([coin], fee=fee))
        await self._submit(node, tx)
        if others and self.rand.random() < 0.2:
            rival = await run_blocking(lambda: self.bt.spend_coins([coin], fee=fee * 3 + 1))
            await self._submit(self.rand.choice(list(others)), rival)

    async def _submit(self, node: SimNode, tx: Transaction) -> AddResult:
        self.submitted += 1
        result = await node.full_node.add_transaction(tx, source=None)
        tx_id = tx.get_hash()
        self.log.write("tx", node.name, tx_id.hex()[:16], result.status.value)
        if result.added:
            self.accepted[tx_id] = (tx, node.name, trio.current_time())
        return result
