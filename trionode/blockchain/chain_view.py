"""The chain as the Blockchain holds it in memory, and the validation contexts read from it.

:class:`ChainView` owns the block index (an entry per stored block), the heaviest chain's height
map and the header and coin-delta caches. Its ``*_in`` methods take a
:class:`~trionode.storage.ChainReader` and run inside one store snapshot (a worker thread) while
the Blockchain holds its state lock, so the index does not change under them; the caches are
thread-safe. Memory: an index entry (height, prev hash, weight, seen order) per stored block and
a hash per height; headers and per-block coin changes are cached (LRU, bounded by count).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence

from trionode.blockchain.caches import LRU
from trionode.consensus import (
    CoinRecord,
    ConsensusConstants,
    ValidationContext,
    block_additions,
    block_removals,
    median_timestamp,
    next_difficulty,
    next_ips,
)
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.storage import BlockDelta, BlockInfo, ChainReader, ForkCoins, StoreCorruptError
from trionode.wire import bytes32

AnyBlock = FullBlock | HeaderBlock

HEADER_CACHE_SIZE = 4096
DELTA_CACHE_SIZE = 1024


def block_delta(block: FullBlock) -> BlockDelta:
    """The coin-set change of ``block``: its coinbase and fees coins (flagged), outputs, spends."""
    additions = block_additions(block)  # coinbase coin, fees coin, then outputs
    return BlockDelta(
        int(block.height),
        block.header_hash,
        tuple((coin, i < 2) for i, coin in enumerate(additions)),
        tuple(block_removals(block)),
    )


def _as_header(block: AnyBlock) -> HeaderBlock:
    return block if isinstance(block, HeaderBlock) else block.header_block()


def _no_ancestor(height: int) -> HeaderBlock:
    raise KeyError(f"a block at height 0 has no ancestor at height {height}")


class ChainView:
    """Block index, height map and caches; contexts gathered from them and one snapshot."""

    def __init__(self, constants: ConsensusConstants) -> None:
        self.constants = constants
        self.blocks: dict[bytes32, BlockInfo] = {}
        self.height_map: list[bytes32] = []  # index = height, on the heaviest chain
        self.headers: LRU[bytes32, HeaderBlock] = LRU(HEADER_CACHE_SIZE)
        self.deltas: LRU[bytes32, BlockDelta] = LRU(DELTA_CACHE_SIZE)

    def fork_of(
        self, top: bytes32, pending: Mapping[bytes32, AnyBlock]
    ) -> tuple[int, list[bytes32]]:
        """The chain ending at ``top`` as (fork_height, fork): heights up to fork_height are the
        heaviest chain's, then the hashes in ``fork`` (ascending, ending with ``top``).

        Raises KeyError for a block neither stored nor in ``pending``."""
        fork: list[bytes32] = []
        h = top
        fork_height = -1
        while True:
            info = self.blocks.get(h)
            if info is not None:
                height, prev = info.height, info.prev_hash
                if height < len(self.height_map) and self.height_map[height] == h:
                    fork_height = height
                    break
            else:
                block = pending.get(h)
                if block is None:
                    raise KeyError(h)
                height, prev = int(block.height), block.prev_header_hash
            fork.append(h)
            if height == 0:
                break
            h = prev
        fork.reverse()
        return fork_height, fork

    def hashes_at(self, heights: Sequence[int], tip_hash: bytes32 | None) -> list[bytes32]:
        """The hashes at ``heights`` on the chain of ``tip_hash`` (None: the heaviest chain).

        Raises ValueError for a height above that tip, KeyError for an unknown tip."""
        fork: list[bytes32] = []
        if tip_hash is None:
            fork_height = len(self.height_map) - 1
        else:
            fork_height, fork = self.fork_of(tip_hash, {})
        top = fork_height + len(fork)
        out = []
        for h in heights:
            if not 0 <= h <= top:
                raise ValueError(f"height {h} is not on the chain (top height {top})")
            out.append(self.height_map[h] if h <= fork_height else fork[h - fork_height - 1])
        return out

    # -- run inside a store snapshot -------------------------------------------------------

    def header_in(
        self, reader: ChainReader, header_hash: bytes32, pending: Mapping[bytes32, AnyBlock]
    ) -> HeaderBlock:
        block = pending.get(header_hash)
        if block is not None:
            return _as_header(block)
        header = self.headers.get(header_hash)
        if header is None:
            header = reader.header_blocks([header_hash]).get(header_hash)
            if header is None:
                raise StoreCorruptError(
                    "header_block_missing", f"no header block for {header_hash.hex()}"
                )
            self.headers.put(header_hash, header)
        return header

    def _ancestry_in(
        self,
        reader: ChainReader,
        parent_hash: bytes32 | None,
        pending: Mapping[bytes32, AnyBlock],
        forks: dict[bytes32, tuple[int, list[bytes32]]] | None = None,
    ) -> tuple[HeaderBlock | None, Callable[[int], HeaderBlock], int, list[bytes32]]:
        if parent_hash is None:
            return None, _no_ancestor, -1, []
        fork_height, fork = self._fork_memo(parent_hash, pending, {} if forks is None else forks)
        height_map = self.height_map

        def ancestor(height: int) -> HeaderBlock:
            h = height_map[height] if height <= fork_height else fork[height - fork_height - 1]
            return self.header_in(reader, h, pending)

        return self.header_in(reader, parent_hash, pending), ancestor, fork_height, fork

    def _fork_memo(
        self,
        top: bytes32,
        pending: Mapping[bytes32, AnyBlock],
        forks: dict[bytes32, tuple[int, list[bytes32]]],
    ) -> tuple[int, list[bytes32]]:
        """``fork_of``, remembering the forks of pending blocks in ``forks``: a pending block's
        fork is its parent's plus itself, so a window's blocks in order cost one step each
        instead of a walk down to the stored chain each."""
        known = forks.get(top)
        if known is not None:
            return known
        block = pending.get(top)
        found: tuple[int, list[bytes32]] | None = None
        if block is not None and top not in self.blocks and int(block.height) > 0:
            below = forks.get(block.prev_header_hash)
            if below is not None:
                found = (below[0], [*below[1], top])
        if found is None:
            found = self.fork_of(top, pending)
        if block is not None:
            forks[top] = found
        return found

    def params_in(self, reader: ChainReader, parent_hash: bytes32 | None) -> tuple[int, int]:
        """(difficulty, ips) of a child of ``parent_hash`` (None: a genesis block)."""
        parent, ancestor, _, _ = self._ancestry_in(reader, parent_hash, {})
        return (
            next_difficulty(self.constants, parent, ancestor),
            next_ips(self.constants, parent, ancestor),
        )

    def gather_in(
        self,
        reader: ChainReader,
        blocks: Sequence[AnyBlock],
        pending: Mapping[bytes32, AnyBlock],
        now: int,
    ) -> list[ValidationContext]:
        """The validation context of each block on its own chain (parents stored or pending).

        Linear in a window of pending blocks given in chain order: forks are remembered per
        pending block, and the coins a fork created and spent are one running
        :class:`ForkCoins` extended block by block (rebuilt only when a block is on another
        fork than the one before it)."""
        contexts = []
        forks: dict[bytes32, tuple[int, list[bytes32]]] = {}
        deltas: dict[bytes32, BlockDelta] = {}
        running: tuple[int, list[bytes32], ForkCoins] | None = None
        for block in blocks:
            parent_hash = None if block.height == 0 else block.prev_header_hash
            parent, ancestor, fork_height, fork = self._ancestry_in(
                reader, parent_hash, pending, forks
            )
            coins: dict[bytes32, CoinRecord] = {}
            if isinstance(block, FullBlock):
                removals = block_removals(block)
                if removals:
                    # The running map serves if this fork extends the one it covers (a
                    # chain's hash fixes its ancestry: the same last hash, the same prefix).
                    covered: list[bytes32] = [] if running is None else running[1]
                    if not (
                        running is not None
                        and running[0] == fork_height
                        and len(covered) <= len(fork)
                        and (not covered or fork[len(covered) - 1] == covered[-1])
                    ):
                        running, covered = (fork_height, [], ForkCoins()), []
                    changes = running[2]
                    for delta in self._deltas_memo(reader, fork[len(covered) :], pending, deltas):
                        changes.extend(delta)
                    running = (fork_height, fork, changes)
                    coins = reader.coin_records_with(removals, fork_height, changes)
            contexts.append(
                ValidationContext(
                    parent=parent,
                    difficulty=next_difficulty(self.constants, parent, ancestor),
                    median_timestamp=median_timestamp(self.constants, parent, ancestor),
                    now=now,
                    coins=coins,
                )
            )
        return contexts

    def _deltas_memo(
        self,
        reader: ChainReader,
        hashes: Sequence[bytes32],
        pending: Mapping[bytes32, AnyBlock],
        memo: dict[bytes32, BlockDelta],
    ) -> list[BlockDelta]:
        missing = [h for h in hashes if h not in memo]
        if missing:
            memo.update(zip(missing, self.deltas_in(reader, missing, pending), strict=True))
        return [memo[h] for h in hashes]

    def deltas_in(
        self, reader: ChainReader, hashes: Sequence[bytes32], pending: Mapping[bytes32, AnyBlock]
    ) -> list[BlockDelta]:
        """The coin changes of the blocks ``hashes`` (pending, cached, else read and cached)."""
        found: dict[bytes32, BlockDelta] = {}
        for h in hashes:
            block = pending.get(h)
            if isinstance(block, FullBlock):
                found[h] = block_delta(block)
            elif (cached := self.deltas.get(h)) is not None:
                found[h] = cached
        missing = [h for h in hashes if h not in found]
        if missing:
            stored = reader.full_blocks(missing)
            for h in missing:
                if h not in stored:
                    raise StoreCorruptError("block_missing", f"block {h.hex()} is not stored")
                found[h] = block_delta(stored[h])
                self.deltas.put(h, found[h])
        return [found[h] for h in hashes]
