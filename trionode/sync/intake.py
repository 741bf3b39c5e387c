"""Block intake: every block this node is given (by a peer, by a short or long sync, finished
here by a proof of time) goes through here to :class:`~trionode.blockchain.blockchain.Blockchain`.

Decisions for a ``Block`` from a peer (PROTOCOL.md section 4, seed 000; bounds in
docs/protocol.md section 2), in order:

- *seen*: a block already stored is dropped (the seen-cache holds only blocks that validated,
  so an invalid copy never hides the valid block);
- *parent known*: a block whose parent is stored (or a genesis block) is validated fully and
  stored; an invalid one bans its sender (:class:`InvalidBlockFromPeer`, raised to the peer
  layer's handler);
- otherwise the block is disconnected and must first pass the checks that need no parent
  (:mod:`trionode.blockchain.detached`), or its sender is banned; only then does it count as
  the peer's tip advert (:class:`~trionode.sync.adverts.AdvertBook`):
- *far*: more than SYNC_THRESHOLD heights above our peak, it is a long sync target
  (:class:`~trionode.sync.long_sync.SyncManager`, run by :meth:`BlockIntake.run`);
- *orphan*: while a long sync runs, it waits in the orphan pool (bounded in blocks and bytes)
  for its parents to arrive with the sync;
- *near*: otherwise it is kept in the orphan pool and its parents fetched from its sender
  with ``RequestBlock``, each checked before the next is asked for (short sync), then added.

A stored block's orphans are added after it. Each block added to a tip by any path but the
long sync is reported to the role on a bounded memory channel (:class:`BlockAdded`), which
relays it; a full channel makes intake wait (the role's relay is the back-pressure). The report
goes as soon as the block has validated and its commit is planned, before the commit's
transaction (relay before store, docs/protocol.md 2.4), if the channel has room then; else
after the commit, waiting for room (the chain's lock is never held waiting for the relay).
"""

from __future__ import annotations

import logging

import attrs
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.results import AddBlockResult, AddBlockStatus
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import BAN_INVALID_BLOCK_SECONDS, PeerRequestError, RemoteProtocolError
from trionode.peers.node import PeerNode
from trionode.protocols.chain_types import FullBlock
from trionode.sync.adverts import AdvertBook
from trionode.sync.budget import RequestBudget
from trionode.sync.errors import InconsistentPeer
from trionode.sync.long_sync import SyncConfig, SyncManager
from trionode.sync.pools import IntakeLimits, OrphanPool, SeenCache
from trionode.sync.short_sync import TooFarBehind, fetch_missing_parents
from trionode.wire import bytes32

logger = logging.getLogger(__name__)

#: Reports the role has not taken yet before intake waits for it.
REPORT_BUFFER = 64


class InvalidBlockFromPeer(RemoteProtocolError):
    ban_seconds = BAN_INVALID_BLOCK_SECONDS


@attrs.frozen
class BlockAdded:
    """A block added to a tip, from ``source`` (None: made or finished here, or an orphan
    whose parent arrived): the role relays it to the other full nodes."""

    block: FullBlock
    new_peak: bool
    source: PeerConnection | None


def serialized_size(block: FullBlock) -> int:
    return len(bytes(block))


class BlockIntake:
    """See the module docstring. ``peers`` is the running peer layer (long sync asks its
    connections and bans through it), ``reports`` the sending end of the role's bounded
    channel, ``budget`` our request budget per peer (shared with the role's other requests)."""

    def __init__(
        self,
        blockchain: Blockchain,
        peers: PeerNode,
        reports: trio.MemorySendChannel[BlockAdded],
        *,
        config: SyncConfig,
        limits: IntakeLimits,
        budget: RequestBudget,
    ) -> None:
        self.blockchain = blockchain
        self.limits = limits
        self.budget = budget
        self.seen = SeenCache(limits.seen_cache_size)  # header hashes of blocks stored
        self.orphans = OrphanPool(limits)
        self.adverts = AdvertBook(blockchain, config.threshold)
        self.long_sync = SyncManager(
            blockchain, config, peers=peers, adverts=self.adverts, seen=self.seen, budget=budget
        )
        self._reports = reports
        self._add_lock = trio.Lock()
        # Parents fetched one by one beyond this many: a long sync's job.
        self.short_sync_limit = 2 * config.threshold
        self._short_syncing: set[bytes32] = set()  # node ids of peers we fetch parents from

    # -- the loop ------------------------------------------------------------------------------

    async def run(self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        """Long sync to each far, heavier advert, heaviest first; when none is left, short
        sync to the best near one (e.g. blocks made while we synced). Never returns."""
        task_status.started()
        while True:
            target = self.adverts.best(far_only=True)
            if target is None:
                await self._near_tip()
                await self.adverts.wait_far()
                continue
            await self.long_sync.attempt(target)

    async def _near_tip(self) -> None:
        target = self.adverts.best(far_only=False)
        if target is None:
            return
        self.adverts.forget(target.header_hash)
        try:
            await self._short_sync(target.conn, target.block)
        except PeerRequestError as exc:
            logger.info("short sync to height %d failed: %s", target.block.height, exc)
        except RemoteProtocolError as exc:
            # e.g. an invalid block: not in a handler, so banned here
            self.long_sync.ban(target.conn, exc)

    # -- blocks --------------------------------------------------------------------------------

    async def block_from_peer(self, block: FullBlock, peer: PeerConnection) -> None:
        """A Block from a peer: the decisions of the module docstring. Raises
        InvalidBlockFromPeer (the peer layer bans ``peer``)."""
        if block.header_hash in self.seen or self.blockchain.contains_block(block.header_hash):
            return
        if block.height == 0 or self.blockchain.contains_block(block.prev_header_hash):
            await self.add_block(block, source=peer)
            return
        if self.adverts.advertised(peer, block):
            return  # this peer sent this very block before and it passed
        err, size = await self.blockchain.check_detached(block)
        if err is not None:
            raise InvalidBlockFromPeer(
                f"invalid block at height {block.height} (parent unknown): {err.name}"
            )
        self.adverts.note(peer, block)
        if self.adverts.is_far(int(block.height)):
            return  # the sync loop was woken by the advert
        if self.long_sync.syncing:
            self.orphans.keep(block, size)  # its parents may arrive with the sync
            return
        await self._short_sync(peer, block, size)

    async def add_block(self, block: FullBlock, *, source: PeerConnection | None) -> AddBlockResult:
        """Add a block; report it if it extends a tip. A peer's invalid block raises
        InvalidBlockFromPeer. Orphans kept earlier whose parent this is are added after it."""
        reported = False

        async def relay_before_store(valid: FullBlock, planned: AddBlockResult) -> None:
            # Relay before store (docs/protocol.md 2.4): the block validated in full; the role
            # relays it while our commit runs, so a hop costs validation, not our fsync. Only
            # if the report fits at once: this runs under the chain's lock, which must never
            # wait for the relay (a slow peer's send); a full channel reports after the commit.
            nonlocal reported
            try:
                self._reports.send_nowait(BlockAdded(valid, planned.new_peak, source))
                reported = True
            except trio.WouldBlock:
                pass

        async with self._add_lock:
            result = await self.blockchain.add_block(block, on_valid=relay_before_store)
        if result.added or result.status is AddBlockStatus.ALREADY_HAVE:
            self.seen.add(block.header_hash)  # validated: later copies are dropped
        if result.status is AddBlockStatus.INVALID:
            err = result.error.name if result.error is not None else "?"
            if source is not None:
                raise InvalidBlockFromPeer(f"invalid block at height {block.height}: {err}")
            logger.warning("block at height %d is invalid: %s", block.height, err)
        elif result.status is AddBlockStatus.ADDED_TO_TIP:
            logger.info(
                "block %s at height %d added to a tip%s",
                block.header_hash.hex()[:16],
                block.height,
                " (new peak)" if result.new_peak else "",
            )
            if not reported:  # the channel was full: report now, waiting for room
                await self._reports.send(BlockAdded(block, result.new_peak, source))
        if result.added:
            for child in self.orphans.take_children(block.header_hash):
                await self.add_block(child, source=None)
        return result

    # -- short sync ----------------------------------------------------------------------------

    async def _short_sync(
        self, peer: PeerConnection, block: FullBlock, size: int | None = None
    ) -> None:
        """Fetch ``block``'s missing parents from ``peer``, each checked before the next is
        asked for, then add them. One short sync per peer and ``short_sync_max_running`` in
        all: a block beyond that waits in the orphan pool for its parents."""
        if size is None:
            size = await run_blocking(serialized_size, block)
        self.orphans.keep(block, size)
        if (
            peer.node_id in self._short_syncing
            or len(self._short_syncing) >= self.limits.short_sync_max_running
        ):
            self.adverts.note(peer, block)  # kept for the pass after the running syncs
            return
        self._short_syncing.add(peer.node_id)
        try:
            chain = await fetch_missing_parents(
                peer,
                block,
                self.blockchain.contains_block,
                self.short_sync_limit,
                check=self._checked_parent,
                max_bytes=self.limits.short_sync_max_bytes,
                budget=self.budget,
            )
        except TooFarBehind as exc:
            logger.info("%r: %s: long sync", peer, exc)
            self.adverts.note(peer, block, deep=True)
            return
        except PeerRequestError as exc:
            logger.info("short sync from %r failed: %s", peer, exc)
            self.adverts.wake()
            return
        finally:
            self._short_syncing.discard(peer.node_id)
        try:
            logger.info("short sync: %d missing blocks fetched from %r", len(chain) - 1, peer)
            for b in chain:
                result = await self.add_block(b, source=peer)
                if not result.added and result.status is not AddBlockStatus.ALREADY_HAVE:
                    break
        finally:
            # A heavier tip a peer sent while this sync ran (its short sync busy) waits in the
            # orphan pool; no later block may come to fetch it (production stopped, the peer
            # has nothing newer): the loop's near-tip pass fetches the best such advert now.
            self.adverts.wake()

    async def _checked_parent(self, child: FullBlock, parent: FullBlock) -> int:
        """A parent a peer served for ``child``: it must pass the detached checks and link to
        ``child``; returns its size. Raises InconsistentPeer (the peer is banned)."""
        err, size = await self.blockchain.check_parent(child, parent)
        if err is not None:
            raise InconsistentPeer(
                f"served a parent at height {parent.height} that is invalid: {err.name}"
            )
        return size
