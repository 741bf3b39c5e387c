"""Long sync (PROTOCOL.md section 4): catch up with a tip far above ours.

Trigger: a peer advertises (sends a Block for) a tip more than ``SYNC_THRESHOLD`` heights above
our heaviest tip and heavier than it. :class:`SyncManager` is a permanent supervised loop that
wakes on such an advert and, one target at a time:

1. waits up to ``gather_seconds`` for ``max_peers`` connected full nodes, asks them for ``AllHeaderHashes`` of the target tip. A list longer
   than the tip's height + 1, or not ending with the tip, bans its peer. Peers giving the same
   list form a group; groups are tried largest first;
2. finds the fork point by binary search against our heaviest chain, then skips what we already
   store (a restarted node resumes from what it committed, without downloading it again);
3. downloads windows of ``window`` heights, each in batches of at most ``batch_size`` heights
   (the responders' cap), from every peer of the group at once. A batch whose peer stalls past
   ``request_timeout`` goes back to the queue for another peer, and the slow peer gets no more
   batches in this sync; headers and blocks must hash to the peer's own list and link, or the
   peer is banned;
4. validates a window's headers in parallel workers (``Blockchain.validate_header_blocks``),
   then adds its blocks (``Blockchain.add_blocks``: full validation in parallel, commits in
   height order). An invalid header or block bans the peer that served it and drops the group.
   The next window downloads while one is validated.

Once a target is reached, the peers of other groups, whose list for the same tip contradicts
the chain just validated, are banned. Progress is logged at INFO after each window and exposed
by :meth:`SyncManager.status`.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import attrs
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.results import AddBlockResult, AddBlockStatus
from trionode.nursery import unwrapped_exception_groups
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError, RemoteProtocolError
from trionode.peers.node import PeerNode
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    RequestAllHeaderHashes,
)
from trionode.protocols.shared_protocol import NodeType
from trionode.sync.errors import InconsistentPeer, InvalidChain, NoSyncPeers
from trionode.sync.fetch import BatchFetcher, Fetched
from trionode.sync.hashes import check_hash_list, find_fork_point
from trionode.sync.progress import SyncProgress
from trionode.wire import bytes32

logger = logging.getLogger(__name__)

OnBlocks = Callable[[Sequence[FullBlock], Sequence[AddBlockResult]], Awaitable[None]]
OnNearTip = Callable[[PeerConnection, FullBlock], Awaitable[None]]


@attrs.frozen
class SyncConfig:
    threshold: int = 20  # SYNC_THRESHOLD: heights above our peak that start a long sync
    batch_size: int = 32  # heights per request (responders cap it at 32)
    window: int = 128  # heights validated and committed per step
    request_timeout: float = 20.0  # a batch's deadline
    max_peers: int = 8
    requests_per_peer: int = 2  # batches in flight per peer
    # Before a sync, wait this long for up to max_peers full nodes (a node just started is
    # still connecting), so the work is spread and hash lists can be compared.
    gather_seconds: float = 1.0


@attrs.define
class SyncStats:
    """Counters over the node's life (tests and the status file read them)."""

    syncs_done: int = 0
    blocks_synced: int = 0
    batches_reassigned: int = 0
    peers_banned: int = 0


@attrs.define
class Advert:
    """The heaviest block a peer has sent us."""

    conn: PeerConnection
    block: FullBlock

    @property
    def header_hash(self) -> bytes32:
        return self.block.header_hash


class SyncManager:
    """See the module docstring. ``node`` gives the peer layer (None until it runs);
    ``on_blocks`` is awaited after each committed window (the node tells its farmers and
    timelords, updates its mempool); ``on_near_tip`` is given the best advertised block once a
    long sync is over and it is close (a short sync fetches the rest)."""

    def __init__(
        self,
        blockchain: Blockchain,
        config: SyncConfig,
        *,
        node: Callable[[], PeerNode | None],
        on_blocks: OnBlocks,
        on_near_tip: OnNearTip | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.blockchain = blockchain
        self.config = config
        self._node = node
        self._on_blocks = on_blocks
        self._on_near_tip = on_near_tip
        self._clock = clock
        self._adverts: dict[bytes32, Advert] = {}  # node_id -> best advert
        # Tips close in height whose fork point is too deep for a short sync: long-synced too.
        self._deep: set[bytes32] = set()
        self._wake = trio.Event()
        self._asked: set[bytes32] = set()  # peers asked for the current target's hash list
        self._contradicting: list[tuple[tuple[bytes32, ...], PeerConnection]] = []
        self.progress: SyncProgress | None = None
        self.stats = SyncStats()
        self.synced = trio.Event()  # set after each finished sync (a fresh one then)
        self._idle = trio.Event()
        self._idle.set()

    # -- what peers advertise ---------------------------------------------------------------

    @property
    def syncing(self) -> bool:
        return self.progress is not None

    def is_far(self, height: int) -> bool:
        """A block at ``height`` is for a long sync, not a short one."""
        peak = self.blockchain.peak_height
        return height > (-1 if peak is None else peak) + self.config.threshold

    def note_tip(self, conn: PeerConnection, block: FullBlock, *, deep: bool = False) -> None:
        """Remember the heaviest block ``conn`` has sent; wake the loop if it is far ahead, or
        if ``deep``: its fork from our chain is below what a short sync fetches (two chains of
        similar height that split long ago), so only the binary search can join them."""
        old = self._adverts.get(conn.node_id)
        if old is None or old.conn is not conn or block.weight > old.block.weight:
            self._adverts[conn.node_id] = Advert(conn, block)
        if deep:
            self._deep.add(block.header_hash)
        if deep or self.is_far(int(block.height)):
            self._wake.set()

    def _wanted(self, advert: Advert) -> bool:
        return advert.header_hash in self._deep or self.is_far(int(advert.block.height))

    async def wait_idle(self) -> None:
        """Return when no sync attempt is running (at once if none is)."""
        await self._idle.wait()

    def status(self) -> dict[str, Any]:
        """For the status file and the RPC: syncing, target height, progress, ETA."""
        out: dict[str, Any] = {"syncing": self.syncing}
        if self.progress is not None:
            out.update(self.progress.as_dict())
        out.update(attrs.asdict(self.stats))
        return out

    # -- the loop -----------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Sync whenever a far, heavier tip is advertised; never returns."""
        task_status.started()
        while True:
            target = self._best_target(far_only=True)
            if target is None:
                await self._near_tip()
                await self._wake.wait()
                self._wake = trio.Event()
                continue
            self._idle = trio.Event()
            try:
                await self._gather_peers()
                await self.sync_to(target)
            except NoSyncPeers as exc:
                logger.warning("sync to height %d stopped: %s", target.block.height, exc)
                # Peers that could not serve it are not asked again until they advertise anew.
                self._forget(target.header_hash, only=self._asked)
                await trio.sleep(1.0)  # do not spin on a target nobody serves
            finally:
                self._idle.set()

    def _best_target(self, *, far_only: bool) -> Advert | None:
        peak = self.blockchain.get_peak()
        weight = -1 if peak is None else int(peak.weight)
        best: Advert | None = None
        for node_id, advert in list(self._adverts.items()):
            if advert.conn.closed.is_set():
                del self._adverts[node_id]
                continue
            if self.blockchain.contains_block(advert.header_hash) or advert.block.weight <= weight:
                continue
            if far_only and not self._wanted(advert):
                continue
            if best is None or advert.block.weight > best.block.weight:
                best = advert
        self._deep &= {advert.header_hash for advert in self._adverts.values()}
        return best

    async def _gather_peers(self) -> None:
        node = self._node()
        if node is None:
            return
        with trio.move_on_after(self.config.gather_seconds):
            while len(node.get_connections(NodeType.FULL_NODE)) < self.config.max_peers:
                await node.wait_connection_change()

    def _forget(self, header_hash: bytes32, only: set[bytes32] | None = None) -> None:
        if only is None:
            self._deep.discard(header_hash)
        for node_id, advert in list(self._adverts.items()):
            if advert.header_hash == header_hash and (only is None or node_id in only):
                del self._adverts[node_id]

    async def _near_tip(self) -> None:
        """A heavier tip close above ours (e.g. blocks made while we synced): short sync."""
        target = self._best_target(far_only=False)
        if target is None or self._on_near_tip is None:
            return
        self._forget(target.header_hash)
        try:
            await self._on_near_tip(target.conn, target.block)
        except PeerRequestError as exc:
            logger.info("short sync to height %d failed: %s", target.block.height, exc)
        except RemoteProtocolError as exc:
            self._ban(target.conn, exc)  # e.g. an invalid block: not in a handler, so ban here

    # -- one target ---------------------------------------------------------------------------

    async def sync_to(self, target: Advert) -> None:
        """Bring our chain to ``target`` (see the module docstring). Raises NoSyncPeers."""
        tip, height = target.header_hash, int(target.block.height)
        self._asked = set()
        groups = await self._hash_lists(target)
        if not groups:
            raise NoSyncPeers(f"no peer serves the chain of {tip.hex()[:16]}")
        ordered = sorted(groups.items(), key=lambda kv: -len(kv[1]))
        logger.info(
            "long sync to height %d (%s): %d peers, %d distinct hash lists",
            height,
            tip.hex()[:16],
            sum(len(c) for c in groups.values()),
            len(groups),
        )
        done = False
        for hashes, conns in ordered:
            # An invalid header or block banned (closed) its server: go on with the others.
            while not done and (live := [c for c in conns if not c.closed.is_set()]):
                try:
                    await self._sync_from(tip, list(hashes), live)
                    done = True
                except InvalidChain as exc:
                    logger.info(
                        "sync from %d peers: %s; going on without its server", len(live), exc
                    )
                except NoSyncPeers as exc:
                    logger.info("sync from %d peers failed: %s", len(live), exc)
                    break
            if done:
                break
        if not done:
            raise NoSyncPeers(f"every peer serving {tip.hex()[:16]} failed")
        # The chain to the target is validated now: any other list for it was a lie.
        true_list = tuple(self.blockchain.get_header_hashes(tip))
        others = [(h, c) for h, conns in ordered for c in conns] + self._contradicting
        for hashes, conn in others:
            if hashes != true_list and not conn.closed.is_set():
                self._ban(conn, InconsistentPeer("its header hash list was false"))
        self.stats.syncs_done += 1
        self.synced.set()
        self.synced = trio.Event()

    async def _hash_lists(self, target: Advert) -> dict[tuple[bytes32, ...], list[PeerConnection]]:
        node = self._node()
        if node is None:
            return {}
        conns = node.get_connections(NodeType.FULL_NODE)
        advertisers = {
            a.conn for a in self._adverts.values() if a.header_hash == target.header_hash
        }
        conns.sort(key=lambda c: c not in advertisers)
        conns = conns[: self.config.max_peers]
        groups: dict[tuple[bytes32, ...], list[PeerConnection]] = collections.defaultdict(list)
        tip, height = target.header_hash, int(target.block.height)

        async def ask(conn: PeerConnection) -> None:
            hashes = await self._hash_list(conn, tip, height)
            if hashes is not None:
                groups[hashes].append(conn)

        async with trio.open_nursery() as nursery:
            for conn in conns:
                nursery.start_soon(ask, conn)
        self._asked = {c.node_id for c in conns}
        self._contradicting = []
        return dict(groups)

    async def _hash_list(
        self, conn: PeerConnection, tip: bytes32, height: int
    ) -> tuple[bytes32, ...] | None:
        """``conn``'s consistent hash list for ``tip`` (None if it has none; banned if it
        answers an inconsistent one)."""
        try:
            reply = await conn.request(
                RequestAllHeaderHashes(tip), reply_within=self.config.request_timeout
            )
        except PeerRequestError as exc:
            logger.debug("%r has no hash list for %s: %s", conn, tip.hex()[:16], exc)
            return None
        assert isinstance(reply, AllHeaderHashes)
        try:
            check_hash_list(reply.header_hashes, tip, height)
        except InconsistentPeer as exc:
            self._ban(conn, exc)
            return None
        return tuple(reply.header_hashes)

    async def _join_new_peers(self, session: BatchFetcher) -> None:
        """Peers connected since the sync started join it if their list is the same."""
        node = self._node()
        if node is None:
            return
        new = [
            c
            for c in node.get_connections(NodeType.FULL_NODE)
            if c.node_id not in self._asked and c not in session.sources
        ][: max(0, self.config.max_peers - len(session.sources))]
        if not new:
            return
        height = len(session.hashes) - 1

        async def ask(conn: PeerConnection) -> None:
            self._asked.add(conn.node_id)
            hashes = await self._hash_list(conn, session.tip, height)
            if hashes is None:
                return
            if list(hashes) == session.hashes:
                session.sources.append(conn)
                logger.info("%r joins the sync", conn)
            else:
                self._contradicting.append((hashes, conn))

        async with trio.open_nursery() as nursery:
            for conn in new:
                nursery.start_soon(ask, conn)

    async def _sync_from(
        self, tip: bytes32, hashes: list[bytes32], conns: list[PeerConnection]
    ) -> None:
        top = len(hashes) - 1
        fork = find_fork_point(hashes, self.blockchain.height_to_hash)
        start = fork + 1
        while start <= top and self.blockchain.contains_block(hashes[start]):
            start += 1
        session = BatchFetcher(
            tip,
            hashes,
            conns,
            batch_size=self.config.batch_size,
            requests_per_peer=self.config.requests_per_peer,
            request_timeout=self.config.request_timeout,
            ban=self._ban,
            on_reassigned=self._count_reassigned,
        )
        peak = self.blockchain.peak_height
        self.progress = SyncProgress(
            target_height=top,
            target_hash=tip.hex(),
            start_height=start,
            started_at=self._clock(),
            clock=self._clock,
            height=start - 1 if peak is None else min(peak, start - 1),
            peers=len(conns),
        )
        logger.info(
            "syncing heights %d..%d from %d peers (fork point %d)", start, top, len(conns), fork
        )
        try:
            windows = [
                list(range(s, min(s + self.config.window, top + 1)))
                for s in range(start, top + 1, self.config.window)
            ]
            send, receive = trio.open_memory_channel[tuple[list[int], Fetched, Fetched]](1)
            with unwrapped_exception_groups():
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._download, session, windows, send)
                    async with receive:
                        async for heights, headers, blocks in receive:
                            await self._commit_window(session, heights, headers, blocks)
            logger.info("sync done: %s", self.progress.describe())
        finally:
            self.progress = None

    async def _download(
        self,
        session: BatchFetcher,
        windows: list[list[int]],
        send: trio.MemorySendChannel[tuple[list[int], Fetched, Fetched]],
    ) -> None:
        async with send:
            for heights in windows:
                await self._join_new_peers(session)
                headers = await session.fetch("headers", heights)
                await self._join_new_peers(session)
                blocks = await session.fetch("blocks", heights)
                await send.send((heights, headers, blocks))

    async def _commit_window(
        self, session: BatchFetcher, heights: list[int], headers: Fetched, blocks: Fetched
    ) -> None:
        header_list = [headers[h][0] for h in heights]
        assert all(isinstance(h, HeaderBlock) for h in header_list)
        errors = await self.blockchain.validate_header_blocks(header_list)  # type: ignore[arg-type]
        for height, err in zip(heights, errors, strict=True):
            if err is not None:
                self._ban(headers[height][1], InconsistentPeer(f"invalid header: {err.name}"))
                raise InvalidChain(f"header at height {height} is invalid: {err.name}")
        block_list: list[FullBlock] = [blocks[h][0] for h in heights]  # type: ignore[misc]
        results = await self.blockchain.add_blocks(block_list)
        bad = [
            (h, r)
            for h, r in zip(heights, results, strict=True)
            if r.status in (AddBlockStatus.INVALID, AddBlockStatus.DISCONNECTED)
        ]
        added = sum(1 for r in results if r.added)
        self.stats.blocks_synced += added
        await self._on_blocks(block_list, results)
        if bad:
            height, result = bad[0]
            reason = result.error.name if result.error is not None else result.status.value
            self._ban(blocks[height][1], InconsistentPeer(f"invalid block: {reason}"))
            raise InvalidChain(f"block at height {height} is invalid: {reason}")
        assert self.progress is not None
        peak = self.blockchain.peak_height
        self.progress.height = heights[-1] if peak is None else max(peak, heights[-1])
        self.progress.peers = len(session.sources)
        logger.info("sync: %s", self.progress.describe())

    def _count_reassigned(self) -> None:
        self.stats.batches_reassigned += 1

    def _ban(self, conn: PeerConnection, exc: RemoteProtocolError) -> None:
        reason = f"sync: {exc}"
        logger.warning("banning %r: %s", conn, reason)
        node = self._node()
        if node is not None:
            node.bans.ban(conn.host, exc.ban_seconds, reason)
        conn.close(reason)
        self.stats.peers_banned += 1
