"""Committing a run of verified blocks: planned on the in-memory view, written in one
transaction, applied to the view only after it committed.

:class:`CommitRun` is the commit half of :class:`~trionode.blockchain.blockchain.Blockchain`
(its base class: both share the chain's view, tip set and store). Each block's commit is
planned (:meth:`CommitRun._stage`) on the view as the blocks before it in the run left it:
the plan is applied to the view at once (no await, so no other task sees it), recorded in an
:class:`Undo`, and the view is put back before the run is written; a kill at any instant
leaves the store before or after the whole run, so the stored blocks stay a prefix of
validated blocks. Only after the transaction committed is each plan applied for good
(:meth:`CommitRun._apply` without an undo: caches, logs and subscribers too).
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence

import attrs
import trio

from trionode.blockchain.caches import LRU
from trionode.blockchain.chain_view import ChainView, block_delta
from trionode.blockchain.results import AddBlockResult, AddBlockStatus, ChainEvent
from trionode.consensus import ConsensusConstants, Err
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.storage import BlockCommit, BlockDelta, BlockInfo, ChainStore
from trionode.wire import bytes32

logger = logging.getLogger(__name__)

#: Told of a block that validated and is about to be added to a tip (before its commit).
OnValid = Callable[[FullBlock, AddBlockResult], Awaitable[None]]


class CommitRun:
    """Planning, writing and applying runs of verified blocks (module docstring). The state
    below is set up by the Blockchain, and changed in place only under its lock."""

    constants: ConsensusConstants
    store: ChainStore
    _chain: ChainView
    _blocks: dict[bytes32, BlockInfo]
    _height_map: list[bytes32]
    _tips: list[bytes32]  # heaviest first
    _tip_headers: dict[bytes32, HeaderBlock]
    _next_seen: int
    _headers: LRU[bytes32, HeaderBlock]
    _deltas: LRU[bytes32, BlockDelta]
    _subscribers: list[trio.MemorySendChannel[ChainEvent]]
    # Odd while a run's write has begun and its view change is not yet applied: the store is
    # then ahead of the view (a read of it may see blocks the view does not have yet).
    _commit_seq: int = 0
    _view_applied: trio.Event | None = None

    @property
    def commit_seq(self) -> int:
        """Even while the store and the in-memory view agree, odd while a commit is between
        its write and its view change; each commit adds 2. A caller whose store reads must
        match the view (the mempool's coins against the peak it follows) reads it before and
        after them, and reads again if it changed."""
        return self._commit_seq

    async def wait_view_applied(self) -> None:
        """Return once no commit is between its write and its view change."""
        while self._commit_seq % 2:
            assert self._view_applied is not None
            await self._view_applied.wait()

    def _precheck(
        self, block: FullBlock, pending: Mapping[bytes32, FullBlock]
    ) -> AddBlockResult | None:
        header_hash = block.header_hash
        if header_hash in self._blocks or header_hash in pending:
            return AddBlockResult(AddBlockStatus.ALREADY_HAVE)
        if block.height != 0 and not (
            block.prev_header_hash in self._blocks or block.prev_header_hash in pending
        ):
            return AddBlockResult(AddBlockStatus.DISCONNECTED)
        return None

    async def _commit_run(
        self, items: Sequence[tuple[FullBlock, Err | None]], on_valid: OnValid | None = None
    ) -> list[AddBlockResult]:
        """Commit the verified blocks of a batch in order (lock held), as few transactions as
        possible: usually one for the whole batch (one fsync for a sync window).

        Each block's commit is planned on the in-memory view as the blocks before it left it:
        the plan is applied to the view synchronously (no await, so nobody sees it), then the
        view is put back, the batch is written in one transaction, and only after it committed
        is the plan applied for good. A kill at any instant leaves the store before or after
        the whole batch, so the stored blocks stay a prefix of validated blocks. A reorg whose
        fork needs coin changes neither cached nor in the batch ends the run there: what was
        planned commits, the changes are read, and planning goes on."""
        results: list[AddBlockResult] = []
        known: dict[bytes32, BlockDelta] = {}
        i = 0
        while True:
            staged: list[Staged] = []
            need: list[bytes32] = []
            undo = Undo(self)
            try:
                while i < len(items):
                    block, error = items[i]
                    if error is not None:
                        logger.info(
                            "invalid block %s at height %d: %s",
                            block.header_hash.hex()[:16],
                            block.height,
                            error.name,
                        )
                        results.append(AddBlockResult(AddBlockStatus.INVALID, error=error))
                        i += 1
                        continue
                    pre = self._precheck(block, {})
                    if pre is not None:  # committed meanwhile, or its parent was invalid
                        results.append(pre)
                        i += 1
                        continue
                    entry = self._stage(block, known, need)
                    if entry is None:
                        break
                    self._apply(entry, undo)
                    staged.append(entry)
                    results.append(entry.result)
                    known[entry.info.header_hash] = entry.delta
                    i += 1
            finally:
                undo.restore()
            if on_valid is not None:
                for entry in staged:
                    if entry.result.status is AddBlockStatus.ADDED_TO_TIP:
                        await on_valid(entry.block, entry.result)
            if staged:
                # Not abandoned on cancellation (the store's write is not either): the view
                # must follow what the store committed.
                with trio.CancelScope(shield=True):
                    self._commit_seq += 1
                    self._view_applied = trio.Event()
                    try:
                        await self.store.commit_many([e.commit for e in staged])
                        for entry in staged:
                            self._apply(entry, None)
                    finally:
                        self._commit_seq += 1
                        self._view_applied.set()
            if not need:
                return results
            found = await self.store.snapshot(self._chain.deltas_in, need, {})
            known.update(zip(need, found, strict=True))

    def _stage(
        self, block: FullBlock, known: Mapping[bytes32, BlockDelta], need: list[bytes32]
    ) -> Staged | None:
        """Plan ``block``'s commit on the current view; None (and the hashes whose coin
        changes must be read first in ``need``) when its fork needs changes not at hand."""
        header_hash = block.header_hash
        info = BlockInfo(
            header_hash,
            int(block.height),
            block.prev_header_hash,
            int(block.weight),
            self._next_seen,
        )
        tips = [self._blocks[t] for t in self._tips]
        new_tips: tuple[bytes32, ...] | None = None
        if len(tips) < self.constants.NUMBER_OF_TIPS or info.weight > min(t.weight for t in tips):
            ranked = sorted([*tips, info], key=lambda i: (-i.weight, i.seen))
            new_tips = tuple(i.header_hash for i in ranked[: self.constants.NUMBER_OF_TIPS])
        new_peak = new_tips is not None and new_tips[0] == header_hash
        fork_height: int | None = None
        fork: list[bytes32] = []
        apply: tuple[BlockDelta, ...] = ()
        delta = block_delta(block)
        if new_peak:
            fork_height, fork = self._chain.fork_of(header_hash, {header_hash: block})
            earlier: list[BlockDelta] = []
            for h in fork[:-1]:
                got = known.get(h) or self._deltas.get(h)
                if got is None:
                    need.append(h)
                else:
                    earlier.append(got)
            if need:
                return None
            apply = (*earlier, delta)
        commit = BlockCommit(block, info.seen, new_tips, fork_height, apply)
        if new_tips is None:
            result = AddBlockResult(AddBlockStatus.ADDED_AS_ORPHAN)
        else:
            result = AddBlockResult(
                AddBlockStatus.ADDED_TO_TIP, new_peak=new_peak, fork_height=fork_height
            )
        return Staged(block, info, delta, new_tips, fork_height, fork, commit, result)

    def _apply(self, entry: Staged, undo: Undo | None) -> None:
        """Bring the in-memory view in line with ``entry``'s commit. With ``undo``, only to
        plan the next block (recorded to be put back); without, for good (the transaction
        committed): caches, logs and subscribers too."""
        block, info, header_hash = entry.block, entry.info, entry.info.header_hash
        final = undo is None
        if undo is not None:
            undo.added.append(header_hash)
        self._blocks[header_hash] = info
        self._next_seen += 1
        if final:
            header = block.header_block()
            self._headers.put(header_hash, header)
            self._deltas.put(header_hash, entry.delta)
        new_tips = entry.new_tips
        if new_tips is not None:
            if final:  # planning reads the tips only, never their headers
                self._tip_headers = {
                    t: header if t == header_hash else self._tip_headers[t] for t in new_tips
                }
            self._tips = list(new_tips)
        new_peak = entry.result.new_peak
        if new_peak:
            fork_height = entry.fork_height
            assert fork_height is not None
            reorg = fork_height < len(self._height_map) - 1
            if undo is not None:
                undo.cut(fork_height)
            del self._height_map[fork_height + 1 :]
            self._height_map.extend(entry.fork)
            if final and reorg:
                logger.info(
                    "reorg: new heaviest tip %s at height %d, fork at height %d",
                    header_hash.hex()[:16],
                    block.height,
                    fork_height,
                )
            elif final:
                logger.info(
                    "new heaviest tip %s at height %d (weight %d)",
                    header_hash.hex()[:16],
                    block.height,
                    block.weight,
                )
        if final and new_tips is not None:
            self._notify(
                ChainEvent(self._tip_headers[self._tips[0]], new_tips, new_peak, entry.fork_height)
            )

    def _notify(self, event: ChainEvent) -> None:
        for send in list(self._subscribers):
            try:
                send.send_nowait(event)
            except trio.WouldBlock:
                logger.debug("chain subscriber is behind; dropped an event")
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.remove(send)
                send.close()


@attrs.frozen
class Staged:
    """One block's planned commit and the view change that follows it."""

    block: FullBlock
    info: BlockInfo
    delta: BlockDelta
    new_tips: tuple[bytes32, ...] | None
    fork_height: int | None
    fork: list[bytes32]
    commit: BlockCommit
    result: AddBlockResult


class Undo:
    """What planning a batch changed in a Blockchain's view, to put it back (no await between
    the plan and :meth:`restore`)."""

    def __init__(self, chain: CommitRun) -> None:
        self._chain = chain
        self.added: list[bytes32] = []
        self._tips = list(chain._tips)
        self._tip_headers = dict(chain._tip_headers)
        self._next_seen = chain._next_seen
        self._low = len(chain._height_map) - 1  # heights up to here are untouched
        self._tail: list[bytes32] = []  # the original height map above _low

    def cut(self, fork_height: int) -> None:
        """The height map is about to lose everything above ``fork_height``."""
        hm = self._chain._height_map
        if fork_height < self._low:
            self._tail = hm[fork_height + 1 : self._low + 1] + self._tail
            self._low = fork_height

    def restore(self) -> None:
        chain = self._chain
        for h in self.added:
            del chain._blocks[h]
        chain._tips = self._tips
        chain._tip_headers = self._tip_headers
        chain._next_seen = self._next_seen
        del chain._height_map[self._low + 1 :]
        chain._height_map.extend(self._tail)
