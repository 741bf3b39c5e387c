"""Methods every role with a peer layer serves: its connections, and closing one."""

from __future__ import annotations

from typing import Any

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.node import PeerNode
from trionode.rpc.params import NotFound, Params
from trionode.rpc.server import Method

__all__ = ["PeerMethods", "connection_json", "node_type_name"]


def node_type_name(conn: PeerConnection) -> str | None:
    return conn.node_type.name.lower() if conn.node_type is not None else None


def connection_json(conn: PeerConnection) -> dict[str, Any]:
    hs = conn.peer_handshake
    now = trio.current_time()
    return {
        "node_id": conn.node_id.hex(),
        "type": node_type_name(conn),
        "host": conn.host,
        "port": conn.port,
        "outbound": conn.outbound,
        "server_port": None if hs is None else int(hs.server_port),
        "software_version": None if hs is None else hs.software_version,
        "connected_seconds": round(now - conn.connected_at, 3) if conn.connected_at else None,
        "last_heard_seconds": round(now - conn.last_heard, 3) if conn.last_heard else None,
    }


class PeerMethods:
    """``get_connections`` and ``close_connection`` over one or more PeerNodes (the farmer has
    two: harvesters on the private CA, its full node on the public one)."""

    def __init__(self, *nodes: PeerNode) -> None:
        self.nodes = nodes

    def connections(self) -> list[PeerConnection]:
        return [c for node in self.nodes for c in node.get_connections()]

    def methods(self) -> dict[str, Method]:
        return {
            "get_connections": self.get_connections,
            "close_connection": self.close_connection,
        }

    async def get_connections(self, params: Params) -> dict[str, Any]:
        """Params: ``type`` (optional: full_node, farmer, harvester, timelord, introducer)."""
        kind = params.get_str("type", None)
        conns = [c for c in self.connections() if kind is None or node_type_name(c) == kind]
        return {"connections": [connection_json(c) for c in conns]}

    async def close_connection(self, params: Params) -> dict[str, Any]:
        """Params: ``node_id`` (64 hex digits). The peer is not banned; it may come back."""
        node_id = params.get_bytes32("node_id")
        for node in self.nodes:
            conn = node.connections.get(node_id)
            if conn is not None:
                conn.close("closed over RPC")
                with trio.move_on_after(node.limits.close_timeout + 1.0):
                    await conn.closed.wait()
                return {"node_id": node_id.hex()}
        raise NotFound(f"no connection to node {node_id.hex()}")
