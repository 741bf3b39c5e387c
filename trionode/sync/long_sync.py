"""Long sync (PROTOCOL.md section 4): catch up with a tip far above ours.

Trigger: a peer advertises (sends a Block for) a tip more than ``SYNC_THRESHOLD`` heights above
our heaviest tip and heavier than it. Only adverts that passed the checks a node can make
without the chain below (:mod:`trionode.blockchain.detached`: proof of space, plot signature,
proof of time, challenge, coinbase) reach the :class:`~trionode.sync.adverts.AdvertBook`; block
intake (:mod:`trionode.sync.intake`) bans the sender of one that fails them. What those checks
cannot settle, the weight, is settled by syncing: the intake's loop wakes on a far advert and
hands targets heaviest first, one at a time, to :meth:`SyncManager.attempt`, which:

1. waits up to ``gather_seconds`` for ``max_peers`` connected full nodes whose advert has
   passed its checks (only those are asked), asks for
   ``AllHeaderHashes`` of the target tip the peers that advertised it (they must serve it: one
   that answers an error or nothing is banned, it advertised a tip it does not have) and,
   within their request budget, the peers whose own advert is at least as heavy (they likely
   hold it; they are not blamed). Peers that advertised lighter tips are never asked about a
   heavier claim, so a liar's adverts cannot spend an honest peer's patience. A list longer
   than the tip's height + 1, or not ending with the tip, bans its peer. Peers giving the same
   list form a group; groups are tried largest first. A target nobody serves is dropped with
   the adverts of the peers asked for it, and the next heaviest is tried at once (a peer that
   advertised it but was not asked keeps its advert: the target is tried again with it);
2. finds the fork point by binary search against our heaviest chain, then skips what we already
   store (a restarted node resumes from what it committed, without downloading it again);
3. downloads windows of ``window`` heights, each in batches of at most ``batch_size`` heights
   (the responders' cap), from every peer of the group at once. A batch whose peer stalls past
   ``request_timeout`` goes back to the queue for another peer, and the slow peer gets no more
   batches in this sync; headers and blocks must hash to the peer's own list and link, or the
   peer is banned;
4. runs the windows through :class:`~trionode.sync.pipeline.WindowPipeline`: downloads,
   full validation in the validation workers (contexts in one pass; every header rule checked
   in its block's validation) and commits (one transaction per window) are three stages, so
   window k+1 validates while window k commits and the workers always have a window's jobs
   queued; at most five windows are held in memory. Each served header must be its validated
   block's header (or valid on its own). An invalid header or block bans the peer that served
   it and drops the group; the blocks below it have committed first (a valid prefix is kept).

Once a target is reached, the peers of other groups, whose list for the same tip contradicts
the chain just validated, are banned. Every request to a peer is paced by its
:class:`~trionode.sync.budget.RequestBudget` (below the rate limits honest peers apply).
Progress is logged at INFO after each window and exposed by :meth:`SyncManager.status`.
"""

from __future__ import annotations

import collections
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import attrs
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.results import AddBlockResult, AddBlockStatus
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import (
    BAN_PROTOCOL_SECONDS,
    ConnectionClosedError,
    PeerErrorReply,
    PeerRequestError,
    RemoteProtocolError,
    RequestTimeout,
)
from trionode.peers.node import PeerNode
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    RequestAllHeaderHashes,
)
from trionode.protocols.shared_protocol import NodeType
from trionode.sync.adverts import Advert, AdvertBook
from trionode.sync.budget import RequestBudget
from trionode.sync.errors import InconsistentPeer, InvalidChain, NoSyncPeers
from trionode.sync.fetch import BatchFetcher
from trionode.sync.hashes import check_hash_list, find_fork_point
from trionode.sync.pipeline import WindowPipeline, sync_windows
from trionode.sync.pools import SeenCache
from trionode.sync.progress import SyncProgress
from trionode.wire import bytes32

logger = logging.getLogger(__name__)


@attrs.frozen
class SyncConfig:
    threshold: int = 20  # SYNC_THRESHOLD: heights above our peak that start a long sync
    batch_size: int = 32  # heights per request (responders cap it at 32)
    window: int = 128  # heights validated and committed per step
    # The first window's heights (at most ``window``): the workers wait for its download
    # alone, so a short one fills the pipeline sooner.
    first_window: int = 32
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
    targets_dropped: int = 0  # sync targets nobody could serve or validate


class SyncManager:
    """See the module docstring. Talks to the peers of ``peers`` (bans go to its ban list),
    takes targets and peers' claims from ``adverts``, records what it stored in ``seen`` (the
    intake's seen-cache: only what validated) and paces requests with ``budget``."""

    def __init__(
        self,
        blockchain: Blockchain,
        config: SyncConfig,
        *,
        peers: PeerNode,
        adverts: AdvertBook,
        seen: SeenCache,
        clock: Callable[[], float] = time.monotonic,
        budget: RequestBudget | None = None,
    ) -> None:
        self.blockchain = blockchain
        self.budget = budget or RequestBudget()
        self.config = config
        self._peers = peers
        self.adverts = adverts
        self._seen = seen
        self._clock = clock
        self._asked: set[bytes32] = set()  # peers asked for the current target's hash list
        self._target_weight = 0
        self._contradicting: list[tuple[tuple[bytes32, ...], PeerConnection]] = []
        self._session_sources: list[PeerConnection] = []  # the running sync's sources
        self.progress: SyncProgress | None = None
        self.stats = SyncStats()
        self.synced = trio.Event()  # set after each finished sync (a fresh one then)
        self._idle = trio.Event()
        self._idle.set()

    @property
    def syncing(self) -> bool:
        return self.progress is not None

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

    # -- one attempt --------------------------------------------------------------------------

    async def attempt(self, target: Advert) -> None:
        """Gather peers and sync to ``target``. A target nobody could serve is dropped (see
        below); one whose peers' request budgets were spent is left for the next attempt."""
        self._idle = trio.Event()
        try:
            await self._gather_peers()
            await self.sync_to(target)
        except NoSyncPeers as exc:
            if not self._asked and not target.conn.closed.is_set():
                # Nobody was asked (request budgets spent): not the target's fault. Try
                # again once its advertiser may be asked.
                wait = self.budget.wait_time(target.conn, T.request_all_header_hashes)
                logger.info(
                    "sync to height %d waits %.1f s for a request budget",
                    target.block.height,
                    wait,
                )
                await trio.sleep(max(wait, 0.1))
                return
            logger.warning("sync to height %d stopped: %s", target.block.height, exc)
            # Dropped with the adverts of the peers asked for it: the next heaviest claim
            # is tried at once. Its advertisers that could not serve it were banned; a peer
            # advertising it again is asked again (and banned if it cannot serve it
            # either). A peer that advertised it but was not asked (its advert checked
            # after the hash lists were requested, or over max_peers) keeps its advert, so
            # the target is tried again with it: forgetting every advert of the tip left
            # the node stuck below an honest tip that nobody would advertise again (a
            # quiet chain), after a liar alone had been asked and failed.
            self._blame_advertisers(target)
            self.adverts.forget(target.header_hash, only=self._asked)
            self.stats.targets_dropped += 1
        finally:
            self._idle.set()

    async def _gather_peers(self) -> None:
        node = self._peers
        # Wait for the peers' adverts, not only their connections: only a peer whose advert
        # has passed its checks is asked for a hash list (``_claims_at_least``), and a peer's
        # advert is checked off the event loop after its handshake. Counting connections alone
        # started the sync with whoever's advert happened to be checked first (on a loaded
        # machine often a single peer), so lists were not compared and a liar was not outvoted.
        with trio.move_on_after(self.config.gather_seconds):
            while self._gathered(node) < self.config.max_peers:
                noted = self.adverts.next_note()
                async with trio.open_nursery() as nursery:

                    async def until(wait: Callable[[], Awaitable[Any]]) -> None:
                        await wait()
                        nursery.cancel_scope.cancel()

                    nursery.start_soon(until, node.wait_connection_change)
                    nursery.start_soon(until, noted.wait)

    def _gathered(self, node: PeerNode) -> int:
        """Connected full nodes whose advert we hold."""
        return sum(
            1
            for c in node.get_connections(NodeType.FULL_NODE)
            if self.adverts.claims_at_least(c, 0)
        )

    def _blame_advertisers(self, target: Advert) -> None:
        """After a target failed: the peers that advertised it and were asked for it, still
        connected (not banned for a lie already), could not serve the tip they claimed. A
        short ban: they may only have been slow, but they cannot keep steering the sync."""
        tip = target.header_hash
        for conn in self.adverts.advertisers(target):
            if conn.node_id in self._asked:
                self.ban(
                    conn,
                    RemoteProtocolError(
                        f"advertised tip {tip.hex()[:16]} at height {target.block.height} "
                        "that could not be synced from it",
                        ban_seconds=BAN_PROTOCOL_SECONDS,
                    ),
                )

    # -- one target ---------------------------------------------------------------------------

    async def sync_to(self, target: Advert) -> None:
        """Bring our chain to ``target`` (see the module docstring). Raises NoSyncPeers."""
        tip, height = target.header_hash, int(target.block.height)
        self._asked = set()
        self._target_weight = int(target.block.weight)
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
                self.ban(conn, InconsistentPeer("its header hash list was false"))
        self.stats.syncs_done += 1
        self.synced.set()
        self.synced = trio.Event()

    async def _hash_lists(self, target: Advert) -> dict[tuple[bytes32, ...], list[PeerConnection]]:
        node = self._peers
        advertisers = self.adverts.advertisers(target)
        others = [
            c
            for c in node.get_connections(NodeType.FULL_NODE)
            if c not in advertisers and self.adverts.claims_at_least(c, int(target.block.weight))
        ]
        groups: dict[tuple[bytes32, ...], list[PeerConnection]] = collections.defaultdict(list)
        tip, height = target.header_hash, int(target.block.height)
        asked: list[PeerConnection] = []

        async def ask(conn: PeerConnection, advertised: bool) -> None:
            hashes = await self._hash_list(conn, tip, height, advertised=advertised)
            if hashes is not None:
                groups[hashes].append(conn)

        async with trio.open_nursery() as nursery:
            # Never wait for one peer's budget: a peer out of it is not asked (nor blamed).
            for conn, advertised in [(c, True) for c in advertisers] + [(c, False) for c in others]:
                if len(asked) >= self.config.max_peers:
                    break
                if self.budget.try_spend(conn, T.request_all_header_hashes):
                    asked.append(conn)
                    nursery.start_soon(ask, conn, advertised)
        self._asked = {c.node_id for c in asked}
        self._contradicting = []
        return dict(groups)

    async def _hash_list(
        self, conn: PeerConnection, tip: bytes32, height: int, *, advertised: bool = False
    ) -> tuple[bytes32, ...] | None:
        """``conn``'s consistent hash list for ``tip`` (None if it has none; banned if it
        answers an inconsistent one, or none at all for a tip it ``advertised``). The caller
        spent the request's budget."""
        try:
            reply = await conn.request(
                RequestAllHeaderHashes(tip), reply_within=self.config.request_timeout
            )
        except ConnectionClosedError as exc:
            logger.debug("%r closed before its hash list for %s: %s", conn, tip.hex()[:16], exc)
            return None
        except (PeerErrorReply, RequestTimeout) as exc:
            if advertised:
                what = f"advertised tip {tip.hex()[:16]} at height {height} but "
                if isinstance(exc, PeerErrorReply):  # it says it does not have it: a lie
                    self.ban(conn, InconsistentPeer(what + f"does not have it ({exc})"))
                else:  # maybe only slow: a short ban
                    self.ban(conn, RemoteProtocolError(what + "did not serve its hash list"))
            else:
                logger.debug("%r has no hash list for %s: %s", conn, tip.hex()[:16], exc)
            return None
        except PeerRequestError as exc:
            logger.debug("%r has no hash list for %s: %s", conn, tip.hex()[:16], exc)
            return None
        assert isinstance(reply, AllHeaderHashes)
        try:
            check_hash_list(reply.header_hashes, tip, height)
        except InconsistentPeer as exc:
            self.ban(conn, exc)
            return None
        return tuple(reply.header_hashes)

    async def _join_new_peers(self, session: BatchFetcher) -> None:
        """Peers connected since the sync started join it if their list is the same."""
        node = self._peers
        height = len(session.hashes) - 1
        new = [
            c
            for c in node.get_connections(NodeType.FULL_NODE)
            if c.node_id not in self._asked
            and c not in session.sources
            and self.adverts.claims_at_least(c, self._target_weight)
        ][: max(0, self.config.max_peers - len(session.sources))]
        new = [c for c in new if self.budget.try_spend(c, T.request_all_header_hashes)]
        if not new:
            return

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
            ban=self.ban,
            on_reassigned=self._count_reassigned,
            budget=self.budget,
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
            self._session_sources = session.sources
            pipeline = WindowPipeline(
                self.blockchain,
                session,
                ban=self.ban,
                join_peers=self._join_new_peers,
                on_added=self._on_added,
            )
            await pipeline.run(
                sync_windows(start, top, self.config.window, self.config.first_window)
            )
            logger.info("sync done: %s", self.progress.describe())
        finally:
            self.progress = None

    def _on_added(
        self, heights: list[int], blocks: list[FullBlock], results: list[AddBlockResult]
    ) -> None:
        """After each window is added: counters, the seen-cache and progress."""
        self.stats.blocks_synced += sum(1 for r in results if r.added)
        # Only what validated is seen: an invalid block a sync peer served must not hide the
        # valid one. (Synced blocks are not relayed: peers that need them sync as well.)
        for block, result in zip(blocks, results, strict=True):
            if result.added or result.status is AddBlockStatus.ALREADY_HAVE:
                self._seen.add(block.header_hash)
        if all(r.added or r.status is AddBlockStatus.ALREADY_HAVE for r in results):
            assert self.progress is not None
            peak = self.blockchain.peak_height
            self.progress.height = heights[-1] if peak is None else max(peak, heights[-1])
            self.progress.peers = len(self._session_sources)
            logger.info("sync: %s", self.progress.describe())

    def _count_reassigned(self) -> None:
        self.stats.batches_reassigned += 1

    def ban(self, conn: PeerConnection, exc: RemoteProtocolError) -> None:
        """Ban ``conn``'s host for ``exc`` and close it (not in a handler: the peer layer
        does not see the error)."""
        reason = f"sync: {exc}"
        logger.warning("banning %r: %s", conn, reason)
        self._peers.bans.ban(conn.host, exc.ban_seconds, reason)
        conn.close(reason)
        self.stats.peers_banned += 1
