"""What a role's ``main`` calls to start its operator surface: the RPC server (with its event
feeds) and the metrics server, as permanent children of the role's own supervisor.

Generic: a role passes its method table bound to its RPC object and its metrics; each role's
``roles/<role>/rpc.py`` has the ``start_<role>_surface`` that does so. Each returns the extra
fields for the role's ready file (``rpc_port``, ``rpc_tls_port``, ``metrics_port``: only those
that are on), so tools find ports chosen at bind time. With neither an RPC port nor a metrics
port configured nothing starts.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence

from trionode.nursery import RestartPolicy, Supervisor
from trionode.peers.connection import PeerConnection
from trionode.peers.identity import NodeIdentity
from trionode.peers.node import PeerNode
from trionode.rpc.auth import ensure_cookie
from trionode.rpc.common import PEER_METHODS, PeerMethods, bind, connection_json
from trionode.rpc.events import EventHub
from trionode.rpc.metrics import MetricsServer, RoleMetrics
from trionode.rpc.server import Method, RpcServer
from trionode.service import ServiceSettings

__all__ = ["start_peer_role_surface", "start_surface"]

logger = logging.getLogger(__name__)


def _publish_peer_events(hub: EventHub, nodes: Sequence[PeerNode]) -> None:
    def connected(conn: PeerConnection) -> None:
        hub.publish("peer_connected", connection_json(conn))

    def disconnected(conn: PeerConnection) -> None:
        data = connection_json(conn)
        data["reason"] = conn.close_reason
        hub.publish("peer_disconnected", data)

    for node in nodes:
        node.on_connect.append(connected)
        node.on_disconnect.append(disconnected)


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


async def start_surface(
    owner: Supervisor,
    role: str,
    shell: ServiceSettings,
    *,
    methods: Mapping[str, Method],
    stop: Callable[[], None],
    peer_nodes: Sequence[PeerNode],
    events: EventHub,
    metrics: RoleMetrics,
) -> dict[str, int]:
    """Start RPC (if the shell's ``rpc_port`` is not None) and metrics (if its ``metrics_port``
    is not None) as permanent children of ``owner``, the role's supervisor; returns the
    ready-file fields.

    The shell's ``host`` is the role's peer address; the RPC and the metrics listen there only
    if it is a loopback address (tests give nodes 127.0.0.x of their own), else on 127.0.0.1: a
    node that serves peers on every interface still keeps its operator surface local.
    """
    root, rpc_port, metrics_port = shell.root, shell.rpc_port, shell.metrics_port
    host = shell.host
    host = host if _is_loopback(host) else "127.0.0.1"
    extra: dict[str, int] = {}
    if rpc_port is not None:
        _publish_peer_events(events, peer_nodes)
        server = RpcServer(
            role,
            methods,
            token=ensure_cookie(root),
            host=host,
            port=rpc_port,
            tls_identity=None if shell.rpc_tls_port is None else NodeIdentity.private(root, role),
            tls_port=shell.rpc_tls_port or 0,
            events=events,
            stop=stop,
        )
        metrics.gauge("rpc_calls", "RPC calls served", lambda: server.calls)
        ports = await owner.start_child("rpc", server.run, policy=RestartPolicy.PERMANENT)
        extra["rpc_port"] = ports.port
        if ports.tls_port is not None:
            extra["rpc_tls_port"] = ports.tls_port
    if metrics_port is not None:
        for node in peer_nodes:
            metrics.watch_peer_node(node)
        metrics.peer_gauges(peer_nodes)
        server_m = MetricsServer(metrics, host=host, port=metrics_port)
        extra["metrics_port"] = await owner.start_child(
            "metrics", server_m.run, policy=RestartPolicy.PERMANENT
        )
    return extra


async def start_peer_role_surface(
    owner: Supervisor, node: PeerNode, role: str, shell: ServiceSettings
) -> dict[str, int]:
    """The surface of a role whose RPC is its connections only (timelord, introducer)."""
    if shell.rpc_port is None and shell.metrics_port is None:
        return {}
    return await start_surface(
        owner,
        role,
        shell,
        methods=bind(PEER_METHODS, PeerMethods(node)),
        stop=node.stop,
        peer_nodes=[node],
        events=EventHub(),
        metrics=RoleMetrics(role),
    )
