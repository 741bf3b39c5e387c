"""Handlers of the peer layer's own messages (one method per message, STYLE.md 4)."""

from __future__ import annotations

from collections.abc import Callable

from trionode.nursery.clock import wall_time
from trionode.peers.connection import PeerConnection
from trionode.protocols.peer_protocol import PeerInfo, Peers, RequestPeers
from trionode.storage.peer_store import PeerStore
from trionode.wire import uint16

__all__ = ["MAX_PEERS_SENT", "RECENT_SECONDS", "FullNodePeerAPI"]

# A Peers reply holds at most this many addresses, seen within RECENT_SECONDS.
MAX_PEERS_SENT = 1000
RECENT_SECONDS = 3 * 3600.0


class FullNodePeerAPI:
    """What a full node answers about peers: a capped random sample of recently seen ones."""

    def __init__(self, store: PeerStore, *, wall_clock: Callable[[], float] = wall_time) -> None:
        self.store = store
        self._now = wall_clock

    async def request_peers(self, request: RequestPeers, peer: PeerConnection) -> Peers:
        sample = await self.store.recent_sample(self._now() - RECENT_SECONDS, MAX_PEERS_SENT)
        return Peers([PeerInfo(r.host, uint16(r.port)) for r in sample])
