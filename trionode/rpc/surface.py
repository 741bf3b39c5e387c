"""What a role's ``main`` calls to start its operator surface: the RPC server (with its event
feeds) and the metrics server, as permanent supervised services of the role's PeerNode.

Each ``start_<role>_surface`` returns the extra fields for the role's ready file
(``rpc_port``, ``rpc_tls_port``, ``metrics_port``: only those that are on), so tools find ports
chosen at bind time. With neither an RPC port nor a metrics port configured nothing starts.
"""

from __future__ import annotations

import ipaddress
import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import trio

from trionode.metrics import MetricsServer, RoleMetrics
from trionode.peers.connection import PeerConnection
from trionode.peers.identity import NodeIdentity
from trionode.peers.node import PeerNode
from trionode.rpc.auth import ensure_cookie
from trionode.rpc.common import PeerMethods, connection_json
from trionode.rpc.events import EventHub
from trionode.rpc.farmer import FarmerRpc, HarvesterRpc
from trionode.rpc.full_node import FullNodeRpc, sync_status
from trionode.rpc.server import Method, RpcServer

if TYPE_CHECKING:
    from trionode.roles.farmer.main import Farmer
    from trionode.roles.full_node.main import FullNodeService
    from trionode.roles.full_node.node import FullNode
    from trionode.roles.harvester.main import Harvester

__all__ = [
    "SYNC_EVENT_INTERVAL",
    "start_farmer_surface",
    "start_full_node_surface",
    "start_harvester_surface",
    "start_peer_role_surface",
    "start_surface",
]

logger = logging.getLogger(__name__)

# How often the full node checks its sync status for ``sync_progress`` events.
SYNC_EVENT_INTERVAL = 1.0


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
    owner: PeerNode,
    role: str,
    root: Path,
    *,
    rpc_port: int | None,
    rpc_tls_port: int | None,
    metrics_port: int | None,
    methods: Mapping[str, Method],
    stop: Callable[[], None],
    peer_nodes: Sequence[PeerNode],
    events: EventHub,
    metrics: RoleMetrics,
    host: str = "127.0.0.1",
) -> dict[str, int]:
    """Start RPC (if ``rpc_port`` is not None) and metrics (if ``metrics_port`` is not None) as
    children of ``owner``'s supervisor; returns the ready-file fields.

    ``host`` is the role's peer address; the RPC and the metrics listen there only if it is a
    loopback address (tests give nodes 127.0.0.x of their own), else on 127.0.0.1: a node that
    serves peers on every interface still keeps its operator surface local.
    """
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
            tls_identity=None if rpc_tls_port is None else NodeIdentity.private(root, role),
            tls_port=rpc_tls_port or 0,
            events=events,
            stop=stop,
        )
        metrics.gauge("rpc_calls", "RPC calls served", lambda: server.calls)
        ports = await owner.start_service("rpc", server.run)
        extra["rpc_port"] = ports.port
        if ports.tls_port is not None:
            extra["rpc_tls_port"] = ports.tls_port
    if metrics_port is not None:
        for node in peer_nodes:
            metrics.watch_peer_node(node)
        metrics.peer_gauges(peer_nodes)
        server_m = MetricsServer(metrics, host=host, port=metrics_port)
        extra["metrics_port"] = await owner.start_service("metrics", server_m.run)
    return extra


def _role_config(service: Any) -> tuple[int | None, int | None, int | None]:
    cfg = service.config
    return (
        getattr(cfg, "rpc_port", None),
        getattr(cfg, "rpc_tls_port", 0),
        getattr(cfg, "metrics_port", None),
    )


# -- full node ---------------------------------------------------------------------------------


class _SyncEvents:
    """``sync_progress`` events: one after every tip change while a long sync runs (so even a
    short sync is seen), one per SYNC_EVENT_INTERVAL while it runs (stalls show), and a last
    one when it ended."""

    def __init__(self, full_node: FullNode, hub: EventHub) -> None:
        self.full_node = full_node
        self.hub = hub
        self.was_syncing = False

    def check(self) -> None:
        status = sync_status(self.full_node)
        syncing = bool(status.get("syncing"))
        if syncing or self.was_syncing:
            self.hub.publish("sync_progress", status)
        self.was_syncing = syncing

    async def poll(self) -> None:
        while True:
            await trio.sleep(SYNC_EVENT_INTERVAL)
            self.check()


async def _chain_events(
    full_node: FullNode, hub: EventHub, *, task_status: trio.TaskStatus[None]
) -> None:
    """Publish ``new_tip`` for every change of the tip set, and ``sync_progress``."""
    chain = full_node.blockchain
    sync_events = _SyncEvents(full_node, hub)
    with chain.subscribe(buffer=64) as changes:
        task_status.started()
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sync_events.poll)
            async for event in changes:
                peak = event.peak
                hub.publish(
                    "new_tip",
                    {
                        "header_hash": peak.header_hash.hex(),
                        "height": int(peak.height),
                        "weight": int(peak.weight),
                        "new_peak": event.new_peak,
                        "fork_height": event.fork_height,
                        "tips": [t.hex() for t in event.tips],
                    },
                )
                sync_events.check()


async def start_full_node_surface(service: FullNodeService) -> dict[str, int]:
    rpc_port, tls_port, metrics_port = _role_config(service)
    if rpc_port is None and metrics_port is None:
        return {}
    full_node, node = service.full_node, service.node
    assert full_node is not None and node is not None
    chain = full_node.blockchain
    hub = EventHub()
    metrics = RoleMetrics("full_node")
    rpc = FullNodeRpc(full_node, node, service.constants.network_name)
    if metrics_port is not None:
        metrics.instrument_blockchain(chain)
        metrics.gauge(
            "height",
            "height of the heaviest tip (-1 before the genesis block)",
            lambda: -1 if chain.peak_height is None else chain.peak_height,
        )
        metrics.gauge("weight", "weight of the heaviest tip", lambda: _peak_weight(full_node))
        metrics.gauge("tips", "number of tips", lambda: len(chain.get_tips()))
        metrics.gauge(
            "blocks_made",
            "blocks this node finished for its farmers",
            lambda: full_node.blocks_made,
        )
        metrics.gauge(
            "syncing",
            "1 while a long sync runs",
            lambda: int(bool(sync_status(full_node)["syncing"])),
        )
        metrics.gauge(
            "sync_blocks_per_second",
            "blocks added per second by the running sync",
            lambda: sync_status(full_node)["blocks_per_second"],
        )
        metrics.gauge(
            "mempool_size", "transactions in the mempool", lambda: _mempool_size(full_node)
        )
    extra = await start_surface(
        node,
        "full_node",
        service.config.root,
        rpc_port=rpc_port,
        rpc_tls_port=tls_port,
        metrics_port=metrics_port,
        methods=rpc.methods(),
        stop=node.stop,
        peer_nodes=[node],
        events=hub,
        metrics=metrics,
        host=service.config.host,
    )
    if rpc_port is not None:
        await node.start_service("rpc-chain-events", _chain_events, full_node, hub)
    return extra


def _peak_weight(full_node: FullNode) -> int:
    peak = full_node.blockchain.get_peak()
    return 0 if peak is None else int(peak.weight)


def _mempool_size(full_node: FullNode) -> int | None:
    mempool = getattr(getattr(full_node, "mempool", None), "mempool", None)
    return None if mempool is None else len(mempool)


# -- farmer, harvester, timelord, introducer -----------------------------------------------------


async def start_farmer_surface(farmer: Farmer) -> dict[str, int]:
    rpc_port, tls_port, metrics_port = _role_config(farmer)
    if rpc_port is None and metrics_port is None:
        return {}
    nodes = [farmer.harvester_node, farmer.full_node_side]
    metrics = RoleMetrics("farmer")
    state = farmer.state
    metrics.gauge("headers_signed", "headers this farmer signed", lambda: state.headers_signed)
    metrics.gauge(
        "plots",
        "plots reported by connected harvesters",
        lambda: sum(len(p.plots) for p in state.harvester_plots.values()),
    )

    def stop() -> None:
        for n in nodes:
            n.stop()

    return await start_surface(
        farmer.harvester_node,
        "farmer",
        farmer.config.root,
        rpc_port=rpc_port,
        rpc_tls_port=tls_port,
        metrics_port=metrics_port,
        methods=FarmerRpc(farmer).methods(),
        stop=stop,
        peer_nodes=nodes,
        events=EventHub(),
        metrics=metrics,
        host=farmer.config.host,
    )


async def start_harvester_surface(harvester: Harvester) -> dict[str, int]:
    rpc_port, tls_port, metrics_port = _role_config(harvester)
    if rpc_port is None and metrics_port is None:
        return {}
    metrics = RoleMetrics("harvester")
    plots = harvester.plots
    metrics.gauge("plots", "usable plots", lambda: len(plots.plots))
    metrics.gauge(
        "plots_failed",
        "plot files that failed to open",
        lambda: len(plots.failed_to_open_filenames),
    )
    metrics.gauge("proofs_sent", "proofs of space sent", lambda: harvester.api.proofs_sent)
    return await start_surface(
        harvester.node,
        "harvester",
        harvester.config.root,
        rpc_port=rpc_port,
        rpc_tls_port=tls_port,
        metrics_port=metrics_port,
        methods=HarvesterRpc(harvester).methods(),
        stop=harvester.node.stop,
        peer_nodes=[harvester.node],
        events=EventHub(),
        metrics=metrics,
        host=harvester.config.host,
    )


async def start_peer_role_surface(
    node: PeerNode,
    role: str,
    root: Path,
    *,
    rpc_port: int | None,
    rpc_tls_port: int | None = 0,
    metrics_port: int | None = None,
    host: str = "127.0.0.1",
) -> dict[str, int]:
    """The surface of a role whose RPC is its connections only (timelord, introducer)."""
    if rpc_port is None and metrics_port is None:
        return {}
    return await start_surface(
        node,
        role,
        root,
        rpc_port=rpc_port,
        rpc_tls_port=rpc_tls_port,
        metrics_port=metrics_port,
        methods=PeerMethods(node).methods(),
        stop=node.stop,
        peer_nodes=[node],
        events=EventHub(),
        metrics=RoleMetrics(role),
        host=host,
    )
