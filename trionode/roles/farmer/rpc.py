"""The farmer's operator face: its RPC methods (one table, ``METHODS``, which the CLI's ``rpc``
command reads too: its harvesters' plots, its harvesters, its rewards) and its metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import trio

from trionode.nursery import Supervisor
from trionode.peers.errors import PeerRequestError
from trionode.protocols.harvester_protocol import RequestPlots, RespondPlots
from trionode.protocols.shared_protocol import NodeType
from trionode.rpc.common import PEER_METHODS, MethodTable, PeerMethods, bind, connection_json
from trionode.rpc.events import EventHub
from trionode.rpc.metrics import RoleMetrics
from trionode.rpc.params import Params
from trionode.rpc.surface import start_surface

if TYPE_CHECKING:
    from trionode.roles.farmer.main import Farmer

__all__ = ["METHODS", "FarmerRpc", "plots_summary", "start_farmer_surface"]

# How long refresh_plots waits for each harvester's answer.
REFRESH_TIMEOUT = 30.0


def plots_summary(plots: RespondPlots) -> dict[str, int]:
    return {
        "plots": len(plots.plots),
        "failed_to_open": len(plots.failed_to_open_filenames),
        "no_key": len(plots.no_key_filenames),
    }


class FarmerRpc(PeerMethods):
    """The handlers of :data:`METHODS` over one farmer and its two peer nodes."""

    def __init__(self, farmer: Farmer) -> None:
        super().__init__(farmer.harvester_node, farmer.full_node_side)
        self.farmer = farmer

    def _harvesters(self) -> list[Any]:
        return self.farmer.harvester_node.get_connections(NodeType.HARVESTER)

    async def get_plots(self, params: Params) -> dict[str, Any]:
        """The plots every connected harvester last reported, by harvester node id."""
        known = self.farmer.state.harvester_plots
        return {
            "harvesters": {
                conn.node_id.hex(): known[conn.node_id].to_json_dict()
                for conn in self._harvesters()
                if conn.node_id in known
            }
        }

    async def refresh_plots(self, params: Params) -> dict[str, Any]:
        """Ask every connected harvester for its plot list now (RequestPlots)."""
        state = self.farmer.state
        answered: dict[str, Any] = {}
        failed: dict[str, str] = {}

        async def ask(conn: Any) -> None:
            try:
                reply = await conn.request(RequestPlots(), reply_within=REFRESH_TIMEOUT)
            except PeerRequestError as exc:
                failed[conn.node_id.hex()] = str(exc)
                return
            state.harvester_plots[conn.node_id] = reply
            answered[conn.node_id.hex()] = plots_summary(reply)

        async with trio.open_nursery() as nursery:
            for conn in self._harvesters():
                nursery.start_soon(ask, conn)
        return {"harvesters": answered, "failed": failed}

    async def get_harvesters(self, params: Params) -> dict[str, Any]:
        known = self.farmer.state.harvester_plots
        out = []
        for conn in self._harvesters():
            entry = connection_json(conn)
            plots = known.get(conn.node_id)
            entry.update(plots_summary(plots) if plots is not None else {"plots": None})
            out.append(entry)
        return {"harvesters": out}

    async def get_rewards(self, params: Params) -> dict[str, Any]:
        """Where rewards go and what this farmer has done. (Coin balances need a wallet or a
        coin-record RPC on the full node; the farmer has no chain.)"""
        state = self.farmer.state
        keys = state.keys
        return {
            "farmer_puzzle_hash": keys.farmer_puzzle_hash.hex(),
            "pool_puzzle_hash": keys.pool_puzzle_hash.hex(),
            "farmer_public_key": bytes(keys.farmer_pk).hex(),
            "pool_public_key": bytes(keys.pool_pk).hex(),
            "headers_signed": state.headers_signed,
            "challenges": len(state.challenges),
            "best_weight": state.best_weight,
            "ips": state.ips,
            "pool": self.farmer.pool_link.summary() if self.farmer.pool_link else None,
        }


# The farmer's RPC: method name -> handler (plus the server's get_routes and stop_node).
METHODS: MethodTable = {
    **PEER_METHODS,
    "get_plots": FarmerRpc.get_plots,
    "refresh_plots": FarmerRpc.refresh_plots,
    "get_harvesters": FarmerRpc.get_harvesters,
    "get_rewards": FarmerRpc.get_rewards,
}


async def start_farmer_surface(farmer: Farmer, owner: Supervisor) -> dict[str, int]:
    """The farmer's RPC and metrics, as children of ``owner``."""
    cfg = farmer.config
    if cfg.rpc_port is None and cfg.metrics_port is None:
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
        owner,
        "farmer",
        cfg,
        methods=bind(METHODS, FarmerRpc(farmer)),
        stop=stop,
        peer_nodes=nodes,
        events=EventHub(),
        metrics=metrics,
    )
