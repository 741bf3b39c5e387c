"""The chain state a full node keeps: tips, the heaviest chain's height map, its coin set.

``Blockchain`` sits on a :class:`~trionode.storage.ChainStore`. Adding blocks goes in three
phases:

1. *gather* (under the state lock, one store hop for the whole batch): for each block
   the :class:`~trionode.consensus.ValidationContext` of its own chain at its parent - parent
   header, difficulty, median timestamp and the coins it spends as that chain sees them (the
   heaviest chain's coin set at the fork point, plus and minus the fork blocks' coins; one
   running map for a batch in chain order, so linear in the batch).
2. *verify* (worker threads, up to ``validation_workers`` at once, no lock): ``validate_block``
   of each block, one job each (:mod:`.verify`); chiapos, chiavdf and blspy release
   the GIL, so blocks really verify in parallel and the event loop stays free. A lone block
   (gossip) is gathered and verified by one job when a worker is free: the thread reads the
   context (the lock held), tells the loop the snapshot ended (the lock is released then) and
   validates at once, so a relay hop waits for one thread hand-off, not two.
3. *commit* (under the lock, in order, one write hop and transaction for the batch;
   :mod:`.commit_run`): each block, the new tip set and, when it becomes the heaviest tip, the
   height map and coin-set change of the reorg; the in-memory view is updated only after the
   transaction committed. ``on_valid`` hears of each block that will join a tip before that
   transaction (relay before store).

A block's context depends only on its own chain, which never changes once its blocks are stored,
so a context gathered before another block committed is still right when this one commits.

Tips (PROTOCOL.md): the NUMBER_OF_TIPS heaviest blocks; a block becomes a tip when fewer exist or
it outweighs the lightest; among equal weights the block seen (stored) first wins, which keeps the
heaviest tip stable under ties. Tips may lie on one chain.

Memory (:mod:`.chain_view`): an index entry per stored block and the height map are kept in
memory; headers and per-block coin changes are cached (LRU). No SQL here: the store's typed
methods, and for a batch's contexts one read snapshot (:meth:`ChainStore.snapshot`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from typing import TypeVar

import trio

from trionode.blockchain.chain_view import AnyBlock, ChainView
from trionode.blockchain.commit_run import CommitRun, OnValid
from trionode.blockchain.detached import check_detached_block, check_parent_link
from trionode.blockchain.results import AddBlockResult, ChainEvent
from trionode.blockchain.verify import claim_token, verify_after_snapshot, verify_many
from trionode.consensus import (
    CoinRecord,
    ConsensusConstants,
    Err,
    ValidationContext,
    check_proofs_ahead,
    validate_block,
    validate_header_block,
    validate_unfinished_block,
    verify_pot,
)
from trionode.consensus.proofs import pot_output_hash
from trionode.nursery import unwrapped_exception_groups
from trionode.nursery.clock import wall_time
from trionode.nursery.offload import current_executor, run_blocking
from trionode.protocols.chain_types import FullBlock, HeaderBlock, ProofOfTime
from trionode.storage import BlockInfo, ChainStore, StoreCorruptError
from trionode.wire import bytes32

logger = logging.getLogger(__name__)

DEFAULT_VALIDATION_WORKERS = 2

B = TypeVar("B", FullBlock, HeaderBlock)


class Blockchain(CommitRun):
    """Tips, height map and coin set of one network, persisted in a :class:`ChainStore`.

    Create with ``await Blockchain.create(store, constants)``. The caller owns the store.
    """

    def __init__(
        self,
        store: ChainStore,
        constants: ConsensusConstants,
        *,
        validation_workers: int = DEFAULT_VALIDATION_WORKERS,
        clock: Callable[[], float] = wall_time,  # the simulator's, per node
    ) -> None:
        self.store = store
        self.constants = constants
        self._clock = clock
        self._verify_limiter = trio.CapacityLimiter(validation_workers)
        self._lock = trio.Lock()
        # The index, height map and caches (shared with the snapshot functions of ChainView;
        # changed in place only, under the lock).
        self._chain = ChainView(constants)
        self._blocks = self._chain.blocks
        self._height_map = self._chain.height_map
        self._tips: list[bytes32] = []  # heaviest first
        self._tip_headers: dict[bytes32, HeaderBlock] = {}
        self._next_seen = 0
        self._headers = self._chain.headers
        self._deltas = self._chain.deltas
        self._subscribers: list[trio.MemorySendChannel[ChainEvent]] = []

    @classmethod
    async def create(
        cls,
        store: ChainStore,
        constants: ConsensusConstants,
        *,
        validation_workers: int = DEFAULT_VALIDATION_WORKERS,
        clock: Callable[[], float] = wall_time,  # the simulator's, per node
    ) -> Blockchain:
        """Load tips and the height map from ``store`` (which ``ChainStore.open`` checked).

        Raises :class:`StoreCorruptError` if what is loaded does not hang together.
        """
        self = cls(store, constants, validation_workers=validation_workers, clock=clock)
        state = await store.load_state()
        self._blocks.update(state.blocks)
        self._height_map.extend(state.height_map)
        for tip in state.tips:
            if tip not in self._blocks:
                raise StoreCorruptError("tip_missing", f"tip {tip.hex()} is not a stored block")
        self._tips = sorted(state.tips, key=self._tip_key)
        if len(self._tips) > constants.NUMBER_OF_TIPS:
            raise StoreCorruptError(
                "too_many_tips",
                f"{len(self._tips)} tips stored, at most {constants.NUMBER_OF_TIPS}",
            )
        if self._tips and self._height_map[-1:] != self._tips[:1]:
            raise StoreCorruptError(
                "heaviest_tip_mismatch", "the heaviest tip is not the top of the height map"
            )
        self._next_seen = 1 + max((i.seen for i in self._blocks.values()), default=-1)
        if self._tips:
            headers = await store.get_header_blocks(self._tips)
            missing = [t.hex() for t in self._tips if t not in headers]
            if missing:
                raise StoreCorruptError("header_block_missing", f"tips {missing} have no header")
            self._tip_headers = headers
            peak = headers[self._tips[0]]
            logger.info(
                "chain loaded: %d blocks, heaviest tip at height %d (weight %d) %s",
                len(self._blocks),
                peak.height,
                peak.weight,
                peak.header_hash.hex()[:16],
            )
        else:
            logger.info("chain loaded: empty, waiting for a genesis block")
        return self

    # -- read-only views ---------------------------------------------------------------------

    def _tip_key(self, header_hash: bytes32) -> tuple[int, int]:
        info = self._blocks[header_hash]
        return (-info.weight, info.seen)

    def get_tips(self) -> list[HeaderBlock]:
        """The tips, heaviest first."""
        return [self._tip_headers[t] for t in self._tips]

    def get_peak(self) -> HeaderBlock | None:
        """The heaviest tip, None while the chain is empty."""
        return self._tip_headers[self._tips[0]] if self._tips else None

    @property
    def peak_height(self) -> int | None:
        """Height of the heaviest tip, None while the chain is empty."""
        return len(self._height_map) - 1 if self._height_map else None

    def contains_block(self, header_hash: bytes32) -> bool:
        return header_hash in self._blocks

    def block_info(self, header_hash: bytes32) -> BlockInfo | None:
        return self._blocks.get(header_hash)

    def height_to_hash(self, height: int) -> bytes32 | None:
        """The hash at ``height`` on the heaviest chain."""
        return self._height_map[height] if 0 <= height < len(self._height_map) else None

    def is_on_heaviest_chain(self, header_hash: bytes32) -> bool:
        info = self._blocks.get(header_hash)
        return info is not None and self.height_to_hash(info.height) == header_hash

    def get_header_hashes(self, tip_hash: bytes32 | None = None) -> list[bytes32]:
        """Hashes of the chain from height 0 to ``tip_hash`` (default: the heaviest tip).

        Raises KeyError for a block that is not stored.
        """
        if tip_hash is None:
            return list(self._height_map)
        fork_height, fork = self._chain.fork_of(tip_hash, {})
        return self._height_map[: fork_height + 1] + fork

    async def get_block(self, header_hash: bytes32) -> FullBlock | None:
        return await self.store.get_full_block(header_hash)

    async def get_header_block(self, header_hash: bytes32) -> HeaderBlock | None:
        header = self._headers.get(header_hash)
        if header is None:
            header = await self.store.get_header_block(header_hash)
            if header is not None:
                self._headers.put(header_hash, header)
        return header

    async def get_blocks_at(
        self, heights: Sequence[int], tip_hash: bytes32 | None = None
    ) -> list[FullBlock]:
        """Full blocks at ``heights`` on the chain of ``tip_hash`` (default: heaviest), in order.

        Raises ValueError for a height above that tip, KeyError for an unknown tip.
        """
        hashes = self._chain.hashes_at(heights, tip_hash)
        found = await self.store.get_full_blocks(hashes)
        return [found[h] for h in hashes]

    async def get_block_bytes(self, header_hash: bytes32) -> bytes | None:
        """A stored block's encoding as stored (served without decoding), None if unknown."""
        if header_hash not in self._blocks:
            return None
        return (await self.store.get_full_block_bytes([header_hash])).get(header_hash)

    async def get_blocks_bytes_at(
        self, heights: Sequence[int], tip_hash: bytes32 | None = None, *, headers: bool = False
    ) -> list[bytes]:
        """As :meth:`get_blocks_at` (``headers``: :meth:`get_header_blocks_at`), the stored
        encodings, not decoded. Raises ValueError and KeyError as they do."""
        hashes = self._chain.hashes_at(heights, tip_hash)
        if headers:
            found = await self.store.get_header_block_bytes(hashes)
        else:
            found = await self.store.get_full_block_bytes(hashes)
        return [found[h] for h in hashes]

    async def get_header_blocks_at(
        self, heights: Sequence[int], tip_hash: bytes32 | None = None
    ) -> list[HeaderBlock]:
        """Header blocks at ``heights`` on the chain of ``tip_hash`` (default: heaviest)."""
        hashes = self._chain.hashes_at(heights, tip_hash)
        cached = {h: hb for h in hashes if (hb := self._headers.get(h)) is not None}
        missing = [h for h in hashes if h not in cached]
        if missing:
            cached.update(await self.store.get_header_blocks(missing))
        return [cached[h] for h in hashes]

    async def get_coin_record(self, coin_id: bytes32) -> CoinRecord | None:
        """The coin as the heaviest chain sees it (None if it does not exist there)."""
        return await self.store.get_coin_record(coin_id)

    async def get_coin_records(self, coin_ids: Sequence[bytes32]) -> dict[bytes32, CoinRecord]:
        return await self.store.get_coin_records(coin_ids)

    async def get_coin_records_by_puzzle_hash(
        self, puzzle_hash: bytes32, *, include_spent: bool = True
    ) -> list[CoinRecord]:
        return await self.store.get_coin_records_by_puzzle_hash(
            puzzle_hash, include_spent=include_spent
        )

    async def get_coin_heights(
        self, puzzle_hashes: Sequence[bytes32], start: int, end: int, limit: int
    ) -> list[int]:
        """Distinct heights in [start, end] where a coin of ``puzzle_hashes`` was created or
        spent on the heaviest chain, ascending, at most ``limit``."""
        return await self.store.get_coin_heights(puzzle_hashes, start, end, limit)

    async def get_next_difficulty(self, parent_hash: bytes32 | None = None) -> int:
        """Difficulty of a child of ``parent_hash`` (default: the heaviest tip; genesis value
        while the chain is empty). Raises KeyError for an unknown parent."""
        return (await self._next_params(parent_hash))[0]

    async def get_next_ips(self, parent_hash: bytes32 | None = None) -> int:
        """ProofOfTimeRate estimate for a child of ``parent_hash`` (default: heaviest tip)."""
        return (await self._next_params(parent_hash))[1]

    async def _next_params(self, parent_hash: bytes32 | None) -> tuple[int, int]:
        if parent_hash is None and self._tips:
            parent_hash = self._tips[0]
        if parent_hash is not None and parent_hash not in self._blocks:
            raise KeyError(parent_hash)
        async with self._lock:
            return await self.store.snapshot(self._chain.params_in, parent_hash)

    def subscribe(self, buffer: int = 16) -> trio.MemoryReceiveChannel[ChainEvent]:
        """A channel of :class:`ChainEvent`, one per change of the tip set.

        The caller owns (and closes) the receive end. A subscriber that lets ``buffer`` events
        pile up misses the newer ones (they are dropped, not queued without bound); the current
        state is always available from :meth:`get_peak` / :meth:`get_tips`.
        """
        send, receive = trio.open_memory_channel[ChainEvent](buffer)
        self._subscribers.append(send)
        return receive

    # -- adding blocks ------------------------------------------------------------------------

    async def add_block(
        self, block: FullBlock, *, on_valid: OnValid | None = None
    ) -> AddBlockResult:
        """Validate ``block`` fully and, if valid and new, store it (see the module docstring)."""
        return (await self.add_blocks([block], on_valid=on_valid))[0]

    async def add_blocks(
        self, blocks: Sequence[FullBlock], *, on_valid: OnValid | None = None
    ) -> list[AddBlockResult]:
        """Add several blocks: contexts gathered in one hop, verified in parallel, committed in
        order. A block may have its parent earlier in ``blocks``. Results are in input order;
        a block whose parent turned out invalid is DISCONNECTED.

        ``on_valid(block, result)`` is awaited for each block that validated and will be added
        to a tip, with the result its commit will return, *before* the commit's transaction
        (relay before store, docs/protocol.md): the block is fully validated by then; if the
        commit then fails (a fault of our store, not of the block), the error is raised here."""
        results: list[AddBlockResult | None] = [None] * len(blocks)
        pending: dict[bytes32, FullBlock] = {}
        jobs: list[int] = []
        errors: list[Err | None] = []  # a lone block's result, from its job
        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                async with self._lock:
                    for i, block in enumerate(blocks):
                        result = self._precheck(block, pending)
                        if result is not None:
                            results[i] = result
                            continue
                        pending[block.header_hash] = block
                        jobs.append(i)
                    chosen, now = [blocks[i] for i in jobs], int(self._clock())
                    # A lone block (gossip: a relay hop waits for it) is gathered and
                    # validated in one worker thread, one hand-off instead of two, if a
                    # validation worker is free now (the lock never waits for one); the lock
                    # is held until the snapshot ended, not while the block validates.
                    worker = object()
                    lone = len(jobs) == 1 and current_executor().concurrent
                    lone = lone and claim_token(self._verify_limiter, worker)
                    if lone:
                        gathered = trio.Event()
                        nursery.start_soon(
                            verify_after_snapshot,
                            validate_block,
                            self.constants,
                            self.store.snapshot_then,
                            self._chain.gather_in,
                            (chosen, pending, now),
                            (self._verify_limiter, worker),
                            gathered,
                            errors,
                            check_proofs_ahead,
                        )
                        await gathered.wait()
                    elif jobs:
                        contexts = await self.store.snapshot(
                            self._chain.gather_in, chosen, pending, now
                        )
        if jobs and not lone:
            errors = await verify_many(
                validate_block, self.constants, chosen, contexts, self._verify_limiter
            )
        if jobs:
            async with self._lock:
                committed = await self._commit_run(
                    [(blocks[i], err) for i, err in zip(jobs, errors, strict=True)], on_valid
                )
            for i, result in zip(jobs, committed, strict=True):
                results[i] = result
        done = [r for r in results if r is not None]
        assert len(done) == len(blocks)
        return done

    # -- validation helpers for other roles --------------------------------------------------

    async def validate_unfinished(self, block: FullBlock) -> Err | None:
        """Validate an unfinished block (no proof of time yet) against its parent's chain."""
        if block.height != 0 and block.prev_header_hash not in self._blocks:
            return Err.UNKNOWN_PARENT
        async with self._lock:
            (ctx,) = await self.store.snapshot(
                self._chain.gather_in, [block], {}, int(self._clock())
            )
        return await run_blocking(
            validate_unfinished_block, self.constants, block, ctx, limiter=self._verify_limiter
        )

    async def verify_proof_of_time(self, pot: ProofOfTime) -> bool:
        """The VDF proves its iterations from its challenge and its output is canonical (what
        a finished block's challenge hashes); in a worker thread."""

        def check() -> bool:
            return pot_output_hash(self.constants, pot) is not None and verify_pot(
                self.constants, pot
            )

        return await run_blocking(check, limiter=self._verify_limiter)

    async def check_detached(self, block: FullBlock) -> tuple[Err | None, int]:
        """The checks of a block whose parent is not stored (:mod:`.detached`), in a worker
        thread; with the block's serialized size."""
        return await run_blocking(
            check_detached_block,
            self.constants,
            block,
            int(self._clock()),
            limiter=self._verify_limiter,
        )

    async def check_parent(self, child: FullBlock, parent: FullBlock) -> tuple[Err | None, int]:
        """``parent`` (fetched for ``child``) passes the detached checks and ``child`` extends
        it; with the parent's serialized size. In a worker thread."""

        def check() -> tuple[Err | None, int]:
            err = check_parent_link(self.constants, child, parent)
            if err is not None:
                return err, 0
            return check_detached_block(self.constants, parent, int(self._clock()))

        return await run_blocking(check, limiter=self._verify_limiter)

    async def validate_header_blocks(
        self,
        headers: Sequence[HeaderBlock],
        before: Mapping[bytes32, HeaderBlock] | None = None,
    ) -> list[Err | None]:
        """Validate a run of header blocks (header sync) in parallel, storing nothing.

        Each header's parent must be stored, earlier in ``headers`` or in ``before`` (headers
        already validated and not stored yet); otherwise its result is ``Err.UNKNOWN_PARENT``.
        """
        return await self._validate_run(
            validate_header_block, headers, before or {}, skip_stored=False
        )

    async def validate_blocks(
        self,
        blocks: Sequence[FullBlock],
        before: Mapping[bytes32, FullBlock],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> list[Err | None]:
        """Validate a run of blocks in full (``validate_block``) in the validation workers,
        storing nothing; :meth:`commit_validated` stores them afterwards. A long sync validates
        window k+1 while window k commits: each block's parent must be stored, earlier in
        ``blocks`` or in ``before`` (blocks validated and not committed yet), else its result
        is ``Err.UNKNOWN_PARENT``. A block stored already is not validated again (None: its
        commit says ALREADY_HAVE). ``task_status.started()`` is called once the contexts are
        gathered, so a caller using ``nursery.start`` can gather the next run's contexts (with
        these blocks in its ``before``) while these verify."""
        return await self._validate_run(
            validate_block, blocks, before, skip_stored=True, task_status=task_status
        )

    async def commit_validated(
        self, blocks: Sequence[FullBlock], errors: Sequence[Err | None]
    ) -> list[AddBlockResult]:
        """Commit blocks in order with their :meth:`validate_blocks` results (one transaction
        for the run, as :meth:`add_blocks`): an error makes its block INVALID, a block whose
        parent is not stored then is DISCONNECTED, a stored one ALREADY_HAVE."""
        async with self._lock:
            return await self._commit_run(list(zip(blocks, errors, strict=True)))

    async def _validate_run(
        self,
        check: Callable[[ConsensusConstants, B, ValidationContext], Err | None],
        items: Sequence[B],
        before: Mapping[bytes32, B],
        *,
        skip_stored: bool,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> list[Err | None]:
        pending: dict[bytes32, AnyBlock] = dict(before)
        jobs: list[int] = []
        errors: list[Err | None] = [Err.UNKNOWN_PARENT] * len(items)
        async with self._lock:
            for i, item in enumerate(items):
                if skip_stored and item.header_hash in self._blocks:
                    errors[i] = None  # its commit says ALREADY_HAVE; nothing is replaced
                elif (
                    item.height == 0
                    or item.prev_header_hash in self._blocks
                    or item.prev_header_hash in pending
                ):
                    pending.setdefault(item.header_hash, item)
                    jobs.append(i)
            pending = {h: b for h, b in pending.items() if h not in self._blocks}
            contexts = await self.store.snapshot(
                self._chain.gather_in, [items[i] for i in jobs], pending, int(self._clock())
            )
        task_status.started()
        checked = await verify_many(
            check, self.constants, [items[i] for i in jobs], contexts, self._verify_limiter
        )
        for i, err in zip(jobs, checked, strict=True):
            errors[i] = err
        return errors
