"""Sending from the full node to its connections: by role, best effort (a peer that cannot take
a message is its own problem: it is logged, the others still get it)."""

from __future__ import annotations

import logging

from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError
from trionode.peers.node import PeerNode
from trionode.protocols.shared_protocol import NodeType
from trionode.wire import Streamable

logger = logging.getLogger(__name__)


class Outbox:
    def __init__(self, node: PeerNode) -> None:
        self.node = node

    def peers(self, node_type: NodeType) -> list[PeerConnection]:
        return self.node.get_connections(node_type)

    async def send_quietly(self, conn: PeerConnection, payload: Streamable) -> None:
        try:
            await conn.send(payload)
        except PeerRequestError as exc:
            logger.info("could not send %s to %r: %s", type(payload).__name__, conn, exc)

    async def send_to_all(self, node_type: NodeType, payload: Streamable) -> None:
        for conn in self.peers(node_type):
            await self.send_quietly(conn, payload)

    async def broadcast(
        self, payload: Streamable, *, exclude: PeerConnection | None = None
    ) -> None:
        """To every full node but ``exclude``."""
        for conn in self.peers(NodeType.FULL_NODE):
            if conn is not exclude:
                await self.send_quietly(conn, payload)
