"""The harvester's operator face: its RPC methods (one table, ``METHODS``, which the CLI's
``rpc`` command reads too: its plots, rescanning them, its reward keys) and its metrics."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from trionode.nursery import Supervisor
from trionode.nursery.offload import run_blocking
from trionode.peers.errors import PeerRequestError
from trionode.protocols.shared_protocol import NodeType
from trionode.rpc.common import PEER_METHODS, MethodTable, PeerMethods, bind, connection_json
from trionode.rpc.events import EventHub
from trionode.rpc.metrics import RoleMetrics
from trionode.rpc.params import Params
from trionode.rpc.surface import start_surface

if TYPE_CHECKING:
    from trionode.roles.harvester.main import Harvester

__all__ = ["METHODS", "HarvesterRpc", "start_harvester_surface"]

logger = logging.getLogger(__name__)


class HarvesterRpc(PeerMethods):
    """The handlers of :data:`METHODS` over one harvester and its peer node."""

    def __init__(self, harvester: Harvester) -> None:
        super().__init__(harvester.node)
        self.harvester = harvester

    def _counts(self) -> dict[str, int]:
        plots = self.harvester.plots
        return {
            "plots": len(plots.plots),
            "failed_to_open": len(plots.failed_to_open_filenames),
            "no_key": len(plots.no_key_filenames),
        }

    async def get_harvesters(self, params: Params) -> dict[str, Any]:
        """This harvester, as its farmer's get_harvesters lists it, with the farmers it
        serves (a harvester knows only itself)."""
        node = self.harvester.node
        farmers = [connection_json(c) for c in node.get_connections(NodeType.FARMER)]
        return {
            "harvesters": [{"node_id": node.node_id.hex(), **self._counts(), "farmers": farmers}]
        }

    async def get_rewards(self, params: Params) -> dict[str, Any]:
        """Who the plots' rewards are for: the farmer and pool keys in their memos. (The farmer
        signs the blocks and collects; a harvester holds no reward keys of its own.)"""
        plots = self.harvester.plots.plots.values()
        return {
            **self._counts(),
            "farmer_public_keys": sorted({bytes(p.farmer_public_key).hex() for p in plots}),
            "pool_public_keys": sorted(
                {bytes(p.pool_public_key).hex() for p in plots if p.pool_public_key is not None}
            ),
            "pool_contract_puzzle_hashes": sorted(
                {
                    bytes(p.pool_contract_puzzle_hash).hex()
                    for p in plots
                    if p.pool_contract_puzzle_hash is not None
                }
            ),
        }

    async def get_plots(self, params: Params) -> dict[str, Any]:
        plots = self.harvester.plots
        return {
            "plots": [info.to_plot_message().to_json_dict() for info in plots.plots.values()],
            "failed_to_open": {str(p): r for p, r in plots.failed_to_open_filenames.items()},
            "no_key": {str(p): r for p, r in plots.no_key_filenames.items()},
            "duplicates": {str(p): str(o) for p, o in plots.duplicate_filenames.items()},
        }

    async def refresh_plots(self, params: Params) -> dict[str, Any]:
        """Rescan the plot directories now; a change is sent to the farmer (RespondPlots)."""
        plots = self.harvester.plots
        result = await run_blocking(plots.refresh)
        if result.changed:
            message = plots.respond_plots()
            for conn in self.harvester.node.get_connections(NodeType.FARMER):
                try:
                    with trio.move_on_after(10):
                        await conn.send(message)
                except PeerRequestError as exc:
                    logger.info("could not send the new plot list to %r: %s", conn, exc)
        return {
            "added": [str(p) for p in result.added],
            "removed": [str(p) for p in result.removed],
            "failed": [str(p) for p in result.failed],
            "plots": len(plots.plots),
        }


# The harvester's RPC: method name -> handler (plus the server's get_routes and stop_node).
METHODS: MethodTable = {
    **PEER_METHODS,
    "get_plots": HarvesterRpc.get_plots,
    "refresh_plots": HarvesterRpc.refresh_plots,
    "get_harvesters": HarvesterRpc.get_harvesters,
    "get_rewards": HarvesterRpc.get_rewards,
}


async def start_harvester_surface(harvester: Harvester, owner: Supervisor) -> dict[str, int]:
    """The harvester's RPC and metrics, as children of ``owner``."""
    cfg = harvester.config
    if cfg.rpc_port is None and cfg.metrics_port is None:
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
        owner,
        "harvester",
        cfg,
        methods=bind(METHODS, HarvesterRpc(harvester)),
        stop=harvester.node.stop,
        peer_nodes=[harvester.node],
        events=EventHub(),
        metrics=metrics,
    )
