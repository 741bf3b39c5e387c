"""The pipeline a long sync runs its windows through (PROTOCOL.md section 4, step 4).

Three stages, each its own task, joined by channels of one window:

1. *download*: each window's headers, then its blocks (:class:`~trionode.sync.fetch.BatchFetcher`,
   from every peer of the group at once); peers connected since the sync started join first;
2. *validate*: the window's blocks validated in full in the validation workers
   (``Blockchain.validate_blocks``: contexts in one pass, then ``validate_block`` of each block,
   which checks every header rule before the body's), their parents being stored or blocks of
   windows validated and not committed yet. The stage goes on to the next window as soon as
   this one's contexts are gathered, so the workers always have the next window's jobs queued
   behind this one's and never wait for a commit, a context gather or a hand-off;
3. *commit*: once a window's blocks are validated, each served header is compared with its
   validated block's header (a header that differs is validated on its own: an invalid one bans
   its server), and the window is committed in one transaction
   (``Blockchain.commit_validated``).

At most five windows are held (one downloading, one queued, one being validated, one queued,
one committing). An invalid block or header bans the peer that served it and ends the sync
with :class:`InvalidChain`; the blocks below it are committed first (a valid prefix is kept).

Header validation used to be a stage of its own before the blocks (the proofs it verified were
memoised for the block's validation): the workers then waited at every window's boundary for
the headers stage, the commit and two context gathers, each on the event loop or the store's
thread; with 1,000 sim blocks and 2 workers no verification job ran for 45% of the sync's wall
time (``scripts/bench_sync.py``, session 6). Every header is still validated, inside its
block's validation.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

import attrs
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.results import AddBlockResult, AddBlockStatus
from trionode.consensus import Err
from trionode.nursery import unwrapped_exception_groups
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import RemoteProtocolError
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.sync.errors import InconsistentPeer, InvalidChain
from trionode.sync.fetch import BatchFetcher, Fetched
from trionode.wire import bytes32

#: Told of each window added: (heights, blocks, results), before an invalid block is acted on.
OnAdded = Callable[[list[int], list[FullBlock], list[AddBlockResult]], None]


def sync_windows(start: int, top: int, window: int, first: int) -> list[list[int]]:
    """The heights ``start..top`` cut into windows of ``window`` heights, the first of ``first``
    (at most ``window``)."""
    end = min(top + 1, start + max(1, min(first, window)))
    out = [list(range(start, end))] if end > start else []
    out += [list(range(s, min(s + window, top + 1))) for s in range(end, top + 1, window)]
    return out


def _header_matches(header: HeaderBlock, block: FullBlock) -> bool:
    """``header`` is ``block``'s header block, byte for byte."""
    return bytes(header) == bytes(block.header_block())


@attrs.define
class _Validating:
    """A downloaded window whose blocks are being validated (``errors`` once ``done``)."""

    heights: list[int]
    headers: Fetched
    blocks: Fetched
    block_list: list[FullBlock]
    done: trio.Event = attrs.field(factory=trio.Event)
    errors: list[Err | None] = attrs.field(factory=list)


class WindowPipeline:
    """One sync's windows from ``session`` into ``blockchain`` (module docstring). ``ban``
    bans a peer that served an invalid header or block; ``join_peers`` lets newly connected
    peers join the session before each download; ``on_added`` hears of each added window."""

    def __init__(
        self,
        blockchain: Blockchain,
        session: BatchFetcher,
        *,
        ban: Callable[[PeerConnection, RemoteProtocolError], None],
        join_peers: Callable[[BatchFetcher], Awaitable[None]],
        on_added: OnAdded,
    ) -> None:
        self.blockchain = blockchain
        self.session = session
        self._ban = ban
        self._join_peers = join_peers
        self._on_added = on_added

    async def run(self, windows: list[list[int]]) -> None:
        """Run every window through the stages; raises InvalidChain (after the blocks below
        the invalid one were committed) or NoSyncPeers."""
        send, receive = trio.open_memory_channel[tuple[list[int], Fetched, Fetched]](1)
        validating, to_commit = trio.open_memory_channel[_Validating](1)
        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._download, windows, send)
                nursery.start_soon(self._validate, receive, validating, nursery)
                async with to_commit:
                    async for window in to_commit:
                        await self._commit_window(window)

    async def _download(
        self,
        windows: list[list[int]],
        send: trio.MemorySendChannel[tuple[list[int], Fetched, Fetched]],
    ) -> None:
        session = self.session
        async with send:
            for heights in windows:
                await self._join_peers(session)
                headers = await session.fetch("headers", heights)
                await self._join_peers(session)
                blocks = await session.fetch("blocks", heights)
                try:
                    await send.send((heights, headers, blocks))
                except trio.BrokenResourceError:
                    # The sync stopped at an invalid block: the windows below it still
                    # commit and the sync fails with that block's error, not this.
                    return

    async def _validate(
        self,
        receive: trio.MemoryReceiveChannel[tuple[list[int], Fetched, Fetched]],
        send: trio.MemorySendChannel[_Validating],
        nursery: trio.Nursery,
    ) -> None:
        """Stage 2: start each window's validation as it arrives and hand it to the commit
        stage. ``nursery.start`` returns once the window's contexts are gathered; its
        verification goes on in the workers while the next window's contexts are gathered
        with its blocks as parents (``unstored``: validating or validated, not stored yet)."""
        unstored: dict[bytes32, FullBlock] = {}
        async with receive, send:
            async for heights, headers, blocks in receive:
                block_list = [blocks[h][0] for h in heights]
                assert all(isinstance(b, FullBlock) for b in block_list)
                for h in [h for h in unstored if self.blockchain.contains_block(h)]:
                    del unstored[h]
                window = _Validating(heights, headers, blocks, block_list)  # type: ignore[arg-type]
                await nursery.start(self._verify, window, unstored)
                unstored.update((b.header_hash, b) for b in window.block_list)
                try:
                    await send.send(window)
                except trio.BrokenResourceError:
                    return  # the commit stage stopped at an invalid block

    async def _verify(
        self,
        window: _Validating,
        before: dict[bytes32, FullBlock],
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        window.errors = await self.blockchain.validate_blocks(
            window.block_list, before, task_status=task_status
        )
        window.done.set()

    async def _commit_window(self, window: _Validating) -> None:
        """Stage 3: commit the window's blocks up to the first invalid block or header (a
        header that is not its valid block's own is validated alone first: another valid
        encoding of it is no fault); then ban that block's or header's server."""
        await window.done.wait()
        heights, blocks, errors = window.heights, window.block_list, window.errors
        start = 0
        while start < len(blocks):
            stop = next(
                (
                    i
                    for i in range(start, len(blocks))
                    if errors[i] is not None
                    or not _header_matches(window.headers[heights[i]][0], blocks[i])  # type: ignore[arg-type]
                ),
                len(blocks),
            )
            await self._commit(heights[start:stop], blocks[start:stop], errors[start:stop], window)
            if stop == len(blocks):
                return
            height = heights[stop]
            err = errors[stop]
            if err is not None:
                self._ban(window.blocks[height][1], InconsistentPeer(f"invalid block: {err.name}"))
                raise InvalidChain(f"block at height {height} is invalid: {err.name}")
            header = window.headers[height][0]
            (err,) = await self.blockchain.validate_header_blocks([header])  # type: ignore[list-item]
            if err is not None:
                self._ban(
                    window.headers[height][1], InconsistentPeer(f"invalid header: {err.name}")
                )
                raise InvalidChain(f"header at height {height} is invalid: {err.name}")
            await self._commit([height], [blocks[stop]], [None], window)
            start = stop + 1

    async def _commit(
        self,
        heights: list[int],
        blocks: list[FullBlock],
        errors: list[Err | None],
        window: _Validating,
    ) -> None:
        """Commit validated ``blocks`` (one transaction); an invalid one bans its server."""
        if not blocks:
            return
        results = await self.blockchain.commit_validated(blocks, errors)
        self._on_added(heights, blocks, results)
        bad = next(
            (
                (h, r)
                for h, r in zip(heights, results, strict=True)
                if r.status in (AddBlockStatus.INVALID, AddBlockStatus.DISCONNECTED)
            ),
            None,
        )
        if bad is not None:
            height, result = bad
            reason = result.error.name if result.error is not None else result.status.value
            self._ban(window.blocks[height][1], InconsistentPeer(f"invalid block: {reason}"))
            raise InvalidChain(f"block at height {height} is invalid: {reason}")
