"""The shape of a role's RPC table, and the methods every role with a peer layer serves (its
connections, and closing one).

A role's RPC is a class holding the role's objects (a subclass of :class:`PeerMethods`) and one
table, ``METHODS``, mapping each method name to an (unbound) handler of that class. The server
gets the table bound to an instance (:func:`bind`); the CLI's ``rpc`` command reads the same
table's names to find the role serving a method. Adding a method is one handler and one row.
"""

from __future__ import annotations

import functools
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.node import PeerNode
from trionode.rpc.params import NotFound, Params
from trionode.rpc.server import Method

__all__ = [
    "PEER_METHODS",
    "Handler",
    "MethodTable",
    "PeerMethods",
    "bind",
    "connection_json",
    "node_type_name",
]

# A handler of a role's RPC class, unbound: ``handler(rpc_object, params)``.
Handler = Callable[[Any, Params], Awaitable[dict[str, Any]]]
MethodTable = Mapping[str, Handler]


def bind(table: MethodTable, target: object) -> dict[str, Method]:
    """The server's methods: every handler of ``table`` bound to ``target``."""
    return {name: functools.partial(handler, target) for name, handler in table.items()}


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


# The methods of every role with a peer layer; each role's table starts with these.
PEER_METHODS: MethodTable = {
    "get_connections": PeerMethods.get_connections,
    "close_connection": PeerMethods.close_connection,
}
