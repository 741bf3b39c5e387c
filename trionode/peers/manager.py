"""The peer manager: keeps a target number of outbound full-node connections.

Each round it takes candidates from the peer store (peers that worked most recently first, then
fewest failures), skips addresses we are connected to, dialling, backing off, banned, or our own;
spreads the picks across address groups (IPv4 /16, IPv6 /32) so one network cannot surround us;
and dials the deficit concurrently. A failed dial backs that address off exponentially. A new
outbound full node is asked for its peers (RequestPeers), and while the node is below target
with nothing left to dial, one connected full node is asked again each ``interval``. The round repeats every ``interval``
seconds or at the next disconnect, whichever comes first.

The introducer is asked only when the node has no good peer at all (issue 3; seed 002: "only
contacted if the peer database has no good peers"), and nothing in the store is left to dial
this round, and no dial is in flight (its outcome may give us one). Good: a full node we are
connected to, or a stored peer that once handshook with us and has failed fewer than
``good_peer_max_failures`` dials in a row since. A node with one good
connection and a deficit therefore keeps dialling its store and learning peers from its peers,
without bothering the introducer each round.

What peers tell us is hostile input: a reply of more than MAX_PEERS_IN_REPLY addresses is
refused whole and its sender banned; the rest goes to the store charged to the sender's address
group, and the store's addrman-style bounds (trionode.storage.peer_store) keep one source from
evicting what other peers told us or any address that worked.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass

import trio

from trionode.nursery.clock import rng, wall_time
from trionode.peers.bans import is_loopback
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import DialError, PeerRequestError, RemoteProtocolError, TransportClosed
from trionode.peers.node import PeerNode
from trionode.protocols.introducer_protocol import RequestPeersIntroducer
from trionode.protocols.peer_protocol import PeerInfo, RequestPeers
from trionode.protocols.shared_protocol import NodeType
from trionode.storage.peer_store import PeerRecord, PeerStore, address_group

__all__ = ["PeerManager", "PeerManagerConfig", "address_group", "is_good_peer"]

logger = logging.getLogger(__name__)

DIAL_ERRORS = (DialError, RemoteProtocolError, TransportClosed, trio.TooSlowError, OSError)


#: The most addresses one Peers reply may carry (what a node sends at most, MAX_PEERS_SENT in
#: trionode.peers.api; the introducer sends 20). A longer reply is a protocol violation: nothing
#: of it is taken and the sender is banned for this long.
MAX_PEERS_IN_REPLY = 1000
OVERSIZED_PEERS_BAN_SECONDS = 3600.0


def is_good_peer(record: PeerRecord, max_failures: int) -> bool:
    """A stored peer that handshook with us once and has not failed ``max_failures`` dials in
    a row since."""
    return record.last_success > 0 and record.failures < max_failures


@dataclass(frozen=True)
class PeerManagerConfig:
    target_outbound: int = 8
    interval: float = 10.0
    backoff_initial: float = 1.0
    backoff_max: float = 300.0
    # How often the introducer may be asked, at most.
    introducer_interval: float = 30.0
    # A stored peer that worked once stops counting as good after this many failed dials in a
    # row (the store resets the count at the next success).
    good_peer_max_failures: int = 3
    introducer: tuple[str, int] | None = None
    bootstrap: tuple[tuple[str, int], ...] = ()


class PeerManager:
    """Dials and redials for one full node. ``await nursery.start(manager.run)``, or
    ``node.start_service("peer-manager", manager.run)``."""

    def __init__(
        self,
        node: PeerNode,
        store: PeerStore,
        config: PeerManagerConfig,
        *,
        wall_clock: Callable[[], float] = wall_time,
    ) -> None:
        self.node = node
        self.store = store
        self.config = config
        self._now = wall_clock
        self._dialing: set[tuple[str, int]] = set()
        # address -> (trio time before which we do not redial, consecutive failures)
        self._backoff: dict[tuple[str, int], tuple[float, int]] = {}
        self._next_introducer = 0.0
        self._next_exchange = 0.0
        self.exchanges = 0  # RequestPeers sent to connected full nodes (tests watch this)
        self._introducer_asks = 0
        self._wake = trio.Event()
        # Rounds run so far and how often the introducer was asked, for operators and tests.
        self.rounds = 0
        self.introducer_requests = 0
        self._round_done = trio.Event()
        self._remember_soon: list[tuple[str, int]] = []
        node.on_connect.append(self._on_connect)
        node.on_disconnect.append(self._on_disconnect)

    # -- hooks (sync, from the node) -------------------------------------------------------

    def _on_connect(self, conn: PeerConnection) -> None:
        if conn.node_type is NodeType.FULL_NODE and not conn.outbound:
            info = conn.peer_info
            if info is not None and info.port:
                self._remember_soon.append((info.host, int(info.port)))
                self._wake.set()

    def _on_disconnect(self, conn: PeerConnection) -> None:
        self._wake.set()

    # -- the loop ----------------------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[PeerManager] = trio.TASK_STATUS_IGNORED
    ) -> None:
        if self.config.bootstrap:
            await self.store.add_seen(self.config.bootstrap, self._now())
        task_status.started(self)
        async with trio.open_nursery() as nursery:
            while True:
                self._wake = trio.Event()
                if self._remember_soon:
                    seen, self._remember_soon = self._remember_soon, []
                    # Each inbound full node vouches for its own address only.
                    for host, port in seen:
                        await self.store.add_seen([(host, port)], self._now(), source=host)
                await self._round(nursery)
                self.rounds += 1
                self._round_done.set()
                self._round_done = trio.Event()
                with trio.move_on_after(self.config.interval):
                    await self._wake.wait()

    async def wait_rounds(self, count: int) -> None:
        """Return once ``count`` more rounds have run (an event barrier; callers bound it)."""
        target = self.rounds + count
        while self.rounds < target:
            await self._round_done.wait()

    def _connected_addresses(self) -> set[tuple[str, int]]:
        out: set[tuple[str, int]] = set()
        for conn in self.node.connections.values():
            out.add((conn.host, conn.port))
            if conn.peer_info is not None:
                out.add((conn.host, int(conn.peer_info.port)))
        return out

    def _is_self(self, host: str, port: int) -> bool:
        return port == self.node.port and (host == self.node.config.host or is_loopback(host))

    def outbound_full_nodes(self) -> int:
        return len(self.node.get_connections(NodeType.FULL_NODE, outbound=True))

    async def _round(self, nursery: trio.Nursery) -> None:
        deficit = self.config.target_outbound - self.outbound_full_nodes() - len(self._dialing)
        if deficit <= 0:
            return
        now = trio.current_time()
        skip = self._connected_addresses() | self._dialing
        records = await self.store.candidates()
        usable: list[PeerRecord] = []
        for rec in records:
            addr = (rec.host, rec.port)
            if addr in skip or self._is_self(*addr) or self.node.bans.is_banned(rec.host):
                continue
            if self._backoff.get(addr, (0.0, 0))[0] > now:
                continue
            usable.append(rec)
        if usable or self._has_good_peer(records):
            self._introducer_asks = 0
        elif (
            # A dial still in flight may give us a good peer: wait for its outcome (its end
            # wakes the next round) before asking the introducer. Rounds run every
            # ``interval``, and a TLS handshake on a loaded machine outlasts a short one, so
            # the introducer was asked while the first dial to a bootstrap peer was pending.
            not self._dialing
            and self.config.introducer is not None
            and now >= self._next_introducer
        ):
            # Ask again soon at first (the introducer may not know anyone yet), then back
            # off to introducer_interval.
            delay = min(
                self.config.backoff_initial * 2**self._introducer_asks,
                self.config.introducer_interval,
            )
            self._introducer_asks += 1
            self._next_introducer = now + delay
            self.introducer_requests += 1
            nursery.start_soon(self._ask_introducer, *self.config.introducer)
        if not usable and now >= self._next_exchange:
            # Below target with nothing to dial: our peers may have met nodes since we asked
            # them on connecting. Ask one of them again, at most once per interval.
            peers = self.node.get_connections(NodeType.FULL_NODE)
            if peers:
                self._next_exchange = now + self.config.interval
                nursery.start_soon(self._exchange_peers, rng().choice(peers))
        for rec in self._spread(usable, deficit):
            self._dialing.add((rec.host, rec.port))
            nursery.start_soon(self._dial, rec.host, rec.port)

    def _has_good_peer(self, records: list[PeerRecord]) -> bool:
        """A full node connected now, or a stored peer that worked and is not failing."""
        if self.node.get_connections(NodeType.FULL_NODE):
            return True
        limit = self.config.good_peer_max_failures
        return any(
            is_good_peer(rec, limit)
            and not self._is_self(rec.host, rec.port)
            and not self.node.bans.is_banned(rec.host)
            for rec in records
        )

    def _spread(self, usable: list[PeerRecord], count: int) -> list[PeerRecord]:
        """Pick ``count`` records, best first, at most one per address group until every group
        already used has one (then allow repeats)."""
        used = {address_group(c.host) for c in self.node.get_connections(outbound=True)}
        picked: list[PeerRecord] = []
        rest: list[PeerRecord] = []
        for rec in usable:
            group = address_group(rec.host)
            if group in used:
                rest.append(rec)
            else:
                used.add(group)
                picked.append(rec)
        return (picked + rest)[:count]

    async def _dial(self, host: str, port: int) -> None:
        addr = (host, port)
        try:
            attempted = self._now()
            try:
                conn = await self.node.connect(host, port)
            except DIAL_ERRORS as exc:
                _, failures = self._backoff.get(addr, (0.0, 0))
                delay = min(self.config.backoff_initial * 2**failures, self.config.backoff_max)
                self._backoff[addr] = (trio.current_time() + delay, failures + 1)
                await self.store.record_dial(host, port, attempted, ok=False, now=self._now())
                logger.info("dial %s:%d failed (%s); next try in %.0f s", host, port, exc, delay)
                return
            self._backoff.pop(addr, None)
            await self.store.record_dial(host, port, attempted, ok=True, now=self._now())
            if conn.node_type is NodeType.FULL_NODE:
                await self._exchange_peers(conn)
        finally:
            self._dialing.discard(addr)
            self._wake.set()

    async def _exchange_peers(self, conn: PeerConnection) -> None:
        self.exchanges += 1
        try:
            reply = await conn.request(RequestPeers())
        except PeerRequestError as exc:
            logger.info("%r did not share peers: %s", conn, exc)
            return
        if not await self._take_peers(conn, reply.peer_list):
            return
        self._wake.set()  # dial what we learned now, not at the next interval

    async def _take_peers(self, conn: PeerConnection, peer_list: list[PeerInfo]) -> bool:
        """Add a Peers / RespondPeersIntroducer reply to the address table, charged to the
        sender's address group (the table's bounds apply). A reply longer than the protocol
        allows is refused whole, and its sender banned and dropped. False if refused."""
        if len(peer_list) > MAX_PEERS_IN_REPLY:
            reason = f"sent {len(peer_list)} addresses in one reply, more than {MAX_PEERS_IN_REPLY}"
            self.node.bans.ban(conn.host, OVERSIZED_PEERS_BAN_SECONDS, reason)
            conn.close(reason)
            return False
        result = await self.store.add_seen(
            ((p.host, int(p.port)) for p in peer_list), self._now(), source=conn.host
        )
        logger.debug(
            "%r shared %d addresses: %d new, %d known, %d evicted, %d refused, %d dropped",
            conn,
            len(peer_list),
            result.added,
            result.updated,
            result.evicted,
            result.refused,
            result.dropped,
        )
        return True

    async def _ask_introducer(self, host: str, port: int) -> None:
        """Connect to the introducer, take its peer list, hang up."""
        try:
            conn = await self.node.connect(host, port)
        except DIAL_ERRORS as exc:
            logger.warning("introducer %s:%d unreachable: %s", host, port, exc)
            return
        try:
            reply = await conn.request(RequestPeersIntroducer())
            logger.info("introducer %s:%d gave %d peers", host, port, len(reply.peer_list))
            await self._take_peers(conn, reply.peer_list)
        except PeerRequestError as exc:
            logger.warning("introducer %s:%d did not answer: %s", host, port, exc)
        finally:
            conn.close("got peers from the introducer")
            self._wake.set()
