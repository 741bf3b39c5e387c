"""The pipeline a long sync runs its windows through (PROTOCOL.md section 4, step 4).

Three stages, each its own task, joined by channels of one window:

1. *download*: each window's headers, then its blocks (:class:`~trionode.sync.fetch.BatchFetcher`,
   from every peer of the group at once); peers connected since the sync started join first;
2. *headers*: the window's headers validated in the validation workers
   (``Blockchain.validate_header_blocks``), their parents being stored or validated headers of
   windows still being added;
3. *add*: the window's blocks added (``Blockchain.add_blocks``: contexts in one pass, full
   validation in the workers, one transaction for the window).

Header validation of window k+1 overlaps the body checks and the commit of window k, so the
workers do not wait for commits. At most four windows are held (one downloading, one queued,
one validating headers, one being added) plus one queued between the stages. An invalid header
or block bans the peer that served it and ends the sync with :class:`InvalidChain`; the windows
below it have been added first (a valid prefix is kept).
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


def _with_checked_header(block: FullBlock, header: HeaderBlock) -> FullBlock:
    """``block`` with the proof of space and header of its validated header block, when they
    are the same bytes: their BLS points were decompressed and subgroup-checked by header
    validation and are kept, so the block's validation does not decompress them again (three
    points, about a sixth of a block's decode). Different bytes leave the block as served; its
    validation settles it."""
    if bytes(block.header) == bytes(header.header) and bytes(block.proof_of_space) == bytes(
        header.proof_of_space
    ):
        return block.replace(proof_of_space=header.proof_of_space, header=header.header)
    return block


@attrs.frozen
class _Checked:
    """A downloaded window after its headers were validated (``bad_header``: the first invalid
    one, height and error)."""

    heights: list[int]
    headers: Fetched
    blocks: Fetched
    bad_header: tuple[int, Err] | None


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
        """Run every window through the stages; raises InvalidChain (after the windows below
        the invalid one were added) or NoSyncPeers."""
        send, receive = trio.open_memory_channel[tuple[list[int], Fetched, Fetched]](1)
        checked, to_add = trio.open_memory_channel[_Checked](1)
        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(self._download, windows, send)
                nursery.start_soon(self._check_headers, receive, checked)
                async with to_add:
                    async for window in to_add:
                        await self._add_window(window)

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
                    # Header validation stopped at an invalid header: the windows below it
                    # still commit and the sync fails with that header's error, not this.
                    return

    async def _check_headers(
        self,
        receive: trio.MemoryReceiveChannel[tuple[list[int], Fetched, Fetched]],
        send: trio.MemorySendChannel[_Checked],
    ) -> None:
        """Pipeline stage 2: validate each window's headers as it arrives, while the window
        below verifies its bodies and commits (both share the validation workers, so they stay
        busy). Headers validated and not stored yet are the parents of the next window's; the
        first invalid header goes down with its window and stops this stage, so the windows
        below it still commit (the valid prefix is kept) before its server is banned."""
        unstored: dict[bytes32, HeaderBlock] = {}
        async with receive, send:
            async for heights, headers, blocks in receive:
                header_list = [headers[h][0] for h in heights]
                assert all(isinstance(h, HeaderBlock) for h in header_list)
                for h in [h for h in unstored if self.blockchain.contains_block(h)]:
                    del unstored[h]
                errors = await self.blockchain.validate_header_blocks(
                    header_list,  # type: ignore[arg-type]
                    unstored,
                )
                bad = next(
                    ((h, e) for h, e in zip(heights, errors, strict=True) if e is not None), None
                )
                await send.send(_Checked(heights, headers, blocks, bad))
                if bad is not None:
                    return
                unstored.update((hb.header_hash, hb) for hb in header_list)  # type: ignore[misc]

    async def _add_window(self, window: _Checked) -> None:
        """Stage 3: a window whose headers validated is added (bodies verified in the workers,
        committed in one transaction); an invalid header or block bans its server."""
        heights, headers, blocks = window.heights, window.headers, window.blocks
        if window.bad_header is not None:
            height, err = window.bad_header
            self._ban(headers[height][1], InconsistentPeer(f"invalid header: {err.name}"))
            raise InvalidChain(f"header at height {height} is invalid: {err.name}")
        block_list = [
            _with_checked_header(blocks[h][0], headers[h][0])  # type: ignore[arg-type]
            for h in heights
        ]
        results = await self.blockchain.add_blocks(block_list)
        self._on_added(heights, block_list, results)
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
            self._ban(blocks[height][1], InconsistentPeer(f"invalid block: {reason}"))
            raise InvalidChain(f"block at height {height} is invalid: {reason}")
