"""The introducer role's peer logic (PROTOCOL.md, seed 002 "Introducer").

It accepts full nodes, remembers each one's server address (its IP and the server_port of its
Handshake), checks that the address is reachable by dialling it back (TLS and websocket only,
and the certificate there must have the same node_id), and answers
``request_peers_introducer`` with a random subset (at most 20) of peers seen recently and found
reachable, never including the one asking.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

import trio

from trionode.nursery.clock import rng
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import DialError
from trionode.peers.node import PeerNode
from trionode.protocols.introducer_protocol import RequestPeersIntroducer, RespondPeersIntroducer
from trionode.protocols.peer_protocol import PeerInfo
from trionode.protocols.shared_protocol import NodeType
from trionode.wire import bytes32, uint16

__all__ = ["Introducer", "MAX_PEERS_INTRODUCED"]

logger = logging.getLogger(__name__)

MAX_PEERS_INTRODUCED = 20


@dataclass
class _Known:
    node_id: bytes32
    last_seen: float
    reachable: bool = False
    last_vetted: float = float("-inf")


class Introducer:
    """The introducer's logic on top of a PeerNode of type INTRODUCER.

    ``Introducer(node)`` registers itself as the node's API; :meth:`serve` runs the node and
    the vetting loop until ``node.stop()``."""

    def __init__(
        self,
        node: PeerNode,
        *,
        recent_seconds: float = 3600.0,
        revet_seconds: float = 600.0,
        max_known: int = 10_000,
    ) -> None:
        self.node = node
        self.recent_seconds = recent_seconds
        self.revet_seconds = revet_seconds
        self.max_known = max_known
        self.known: dict[tuple[str, int], _Known] = {}
        send, receive = trio.open_memory_channel[tuple[str, int]](1000)
        self._to_vet, self._vet_queue = send, receive
        node.register_api(self)
        node.on_connect.append(self._on_connect)

    def _on_connect(self, conn: PeerConnection) -> None:
        info = conn.peer_info
        if conn.node_type is not NodeType.FULL_NODE or info is None or not info.port:
            return
        addr = (info.host, int(info.port))
        now = trio.current_time()
        known = self.known.get(addr)
        if known is None or known.node_id != conn.node_id:
            if len(self.known) >= self.max_known:
                oldest = min(self.known, key=lambda a: self.known[a].last_seen)
                del self.known[oldest]
            known = self.known[addr] = _Known(conn.node_id, now)
        known.last_seen = now
        if now - known.last_vetted >= self.revet_seconds:
            try:
                self._to_vet.send_nowait(addr)
            except trio.WouldBlock:
                logger.info("vetting queue full; %s:%d not checked now", *addr)

    async def request_peers_introducer(
        self, request: RequestPeersIntroducer, peer: PeerConnection
    ) -> RespondPeersIntroducer:
        now = trio.current_time()
        asking = peer.peer_info
        pool = [
            addr
            for addr, k in self.known.items()
            if k.reachable
            and now - k.last_seen <= self.recent_seconds
            and k.node_id != peer.node_id
            and (asking is None or addr != (asking.host, int(asking.port)))
        ]
        chosen = rng().sample(pool, min(MAX_PEERS_INTRODUCED, len(pool)))
        return RespondPeersIntroducer([PeerInfo(h, uint16(p)) for h, p in chosen])

    async def serve(
        self, *, task_status: trio.TaskStatus[Introducer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Run the node and the vetting loop (a permanent child of the node); returns after
        ``node.stop()`` has closed everything."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.node.run)
            await self.node.start_service("vetting", self.run)
            task_status.started(self)

    async def run(
        self, *, task_status: trio.TaskStatus[Introducer] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Vet addresses as full nodes arrive (one at a time: the queue bounds the work)."""
        task_status.started(self)
        async for addr in self._vet_queue:
            await self._vet(*addr)

    async def _vet(self, host: str, port: int) -> None:
        known = self.known.get((host, port))
        if known is None:
            return
        known.last_vetted = trio.current_time()
        try:
            with trio.fail_after(self.node.limits.handshake_timeout):
                async with self.node.transport.connect(host, port) as stream:
                    same = stream.remote_node_id == known.node_id
                    await stream.aclose("introducer reachability check")
        except (DialError, trio.TooSlowError, OSError) as exc:
            known.reachable = False
            logger.info("full node at %s:%d is not reachable: %s", host, port, exc)
            return
        known.reachable = same
        logger.info(
            "full node at %s:%d %s", host, port, "is reachable" if same else "has another node_id"
        )
