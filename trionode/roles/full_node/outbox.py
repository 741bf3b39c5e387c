"""Sending from the full node to its connections: by role, best effort (a peer that cannot take
a message is its own problem: it is logged, the others still get it)."""

from __future__ import annotations

import logging
from collections.abc import Sequence

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError
from trionode.peers.node import PeerNode
from trionode.protocols import Encoded, message_type_of
from trionode.protocols.shared_protocol import NodeType
from trionode.wire import Streamable

logger = logging.getLogger(__name__)


class Outbox:
    def __init__(self, node: PeerNode) -> None:
        self.node = node

    def peers(self, node_type: NodeType) -> list[PeerConnection]:
        return self.node.get_connections(node_type)

    async def send_quietly(self, conn: PeerConnection, payload: Streamable | Encoded) -> None:
        try:
            await conn.send(payload)
        except PeerRequestError as exc:
            what = message_type_of(payload).name
            logger.info("could not send %s to %r: %s", what, conn, exc)

    async def send_to_all(self, node_type: NodeType, payload: Streamable) -> None:
        for conn in self.peers(node_type):
            await self.send_quietly(conn, payload)

    async def broadcast(
        self,
        payload: Streamable,
        *,
        exclude: PeerConnection | None = None,
        to: Sequence[PeerConnection] | None = None,
    ) -> None:
        """To every full node but ``exclude`` (or to the connections ``to``). Encoded once;
        sent to all at once, so a peer slow to take it delays no other."""
        conns = [
            c for c in (self.peers(NodeType.FULL_NODE) if to is None else to) if c is not exclude
        ]
        if len(conns) == 1:
            await self.send_quietly(conns[0], payload)
        elif conns:
            encoded = Encoded(message_type_of(payload), bytes(payload))
            async with trio.open_nursery() as nursery:
                for conn in conns:
                    nursery.start_soon(self.send_quietly, conn, encoded)
