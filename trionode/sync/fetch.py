"""Downloading headers or blocks of one hash list in batches from several peers at once.

Every source peer gets ``requests_per_peer`` batches in flight (the first ones dealt round
robin, then each takes the next when done). A batch whose peer stalls past the deadline goes
back to the queue for another peer and the slow peer gets no more batches in this sync; a peer
that cannot answer is dropped likewise; a peer whose answer contradicts its own hash list is
banned through ``ban``. Batches are fetched until every height is in or no peer is left. Each
request to a peer waits for the peer's rate budget (:mod:`trionode.sync.budget`).
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Callable, Sequence
from typing import Literal

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError, RemoteProtocolError, RequestTimeout
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.protocols.peer_protocol import (
    HeaderBlocks,
    RequestHeaderBlocks,
    RequestSyncBlocks,
    SyncBlocks,
)
from trionode.sync.budget import RequestBudget
from trionode.sync.errors import InconsistentPeer, NoSyncPeers
from trionode.sync.hashes import check_against_list
from trionode.wire import bytes32, uint32

logger = logging.getLogger(__name__)

Kind = Literal["headers", "blocks"]
# height -> (header block or full block, the peer that served it)
Fetched = dict[int, tuple[HeaderBlock | FullBlock, PeerConnection]]


class BatchFetcher:
    """The peers serving one hash list (``sources``, shrinking as peers fail)."""

    def __init__(
        self,
        tip: bytes32,
        hashes: list[bytes32],
        conns: list[PeerConnection],
        *,
        batch_size: int,
        requests_per_peer: int,
        request_timeout: float,
        ban: Callable[[PeerConnection, RemoteProtocolError], None],
        on_reassigned: Callable[[], None],
        budget: RequestBudget | None = None,
    ) -> None:
        self.tip = tip
        self.hashes = hashes
        self.sources: list[PeerConnection] = list(conns)
        self.batch_size = batch_size
        self.requests_per_peer = requests_per_peer
        self.request_timeout = request_timeout
        self._ban = ban
        self._on_reassigned = on_reassigned
        self._budget = budget

    def _drop(self, conn: PeerConnection) -> None:
        if conn in self.sources:
            self.sources.remove(conn)

    async def fetch(self, kind: Kind, heights: list[int]) -> Fetched:
        """Every height of ``heights``, in batches spread over the sources. Raises
        NoSyncPeers when no source is left."""
        size = self.batch_size
        queue = collections.deque(heights[i : i + size] for i in range(0, len(heights), size))
        out: Fetched = {}
        while queue:
            live = [c for c in self.sources if not c.closed.is_set()]
            if not live:
                raise NoSyncPeers(f"no peer left to serve {kind} for heights {queue[0][0]}..")
            async with trio.open_nursery() as nursery:
                # First batches dealt round robin, so every peer gets work; then each worker
                # takes the next batch when it is done.
                for _ in range(self.requests_per_peer):
                    for conn in live:
                        if queue:
                            first = queue.popleft()
                            nursery.start_soon(self._worker, kind, conn, queue, out, first)
        return out

    async def _worker(
        self,
        kind: Kind,
        conn: PeerConnection,
        queue: collections.deque[list[int]],
        out: Fetched,
        first: list[int],
    ) -> None:
        batch: list[int] | None = first
        while batch is not None:
            try:
                items = await self._request(kind, conn, batch)
            except RequestTimeout:
                queue.append(batch)
                self._on_reassigned()
                logger.warning(
                    "%r stalled on %s %d..%d: the batch goes to another peer",
                    conn,
                    kind,
                    batch[0],
                    batch[-1],
                )
                self._drop(conn)
                return
            except PeerRequestError as exc:
                queue.append(batch)
                logger.info("%r cannot serve %s %d..: %s", conn, kind, batch[0], exc)
                self._drop(conn)
                return
            except InconsistentPeer as exc:
                queue.append(batch)
                self._drop(conn)
                self._ban(conn, exc)
                return
            for height, item in zip(batch, items, strict=True):
                out[height] = (item, conn)
            batch = queue.popleft() if queue and conn in self.sources else None

    async def _request(
        self, kind: Kind, conn: PeerConnection, batch: list[int]
    ) -> Sequence[HeaderBlock | FullBlock]:
        heights = [uint32(h) for h in batch]
        timeout = self.request_timeout
        items: Sequence[HeaderBlock | FullBlock]
        if self._budget is not None:
            mtype = T.request_header_blocks if kind == "headers" else T.request_sync_blocks
            await self._budget.spend(conn, mtype)
        if kind == "headers":
            reply = await conn.request(RequestHeaderBlocks(self.tip, heights), reply_within=timeout)
            assert isinstance(reply, HeaderBlocks)
            items = reply.header_blocks
        else:
            reply = await conn.request(RequestSyncBlocks(self.tip, heights), reply_within=timeout)
            assert isinstance(reply, SyncBlocks)
            items = reply.blocks
        check_against_list(items, batch, self.hashes, self.tip, reply.tip_header_hash)
        return items
