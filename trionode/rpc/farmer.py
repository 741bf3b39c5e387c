"""Farmer and harvester RPC methods: plots, harvesters, rewards."""

from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

import trio

from trionode.nursery.offload import run_blocking
from trionode.peers.errors import PeerRequestError
from trionode.protocols.harvester_protocol import RequestPlots, RespondPlots
from trionode.protocols.shared_protocol import NodeType
from trionode.rpc.common import PeerMethods, connection_json
from trionode.rpc.params import Params
from trionode.rpc.server import Method

if TYPE_CHECKING:
    from trionode.roles.farmer.main import Farmer
    from trionode.roles.harvester.main import Harvester

__all__ = ["FarmerRpc", "HarvesterRpc"]

logger = logging.getLogger(__name__)

# How long refresh_plots waits for each harvester's answer.
REFRESH_TIMEOUT = 30.0


def _plots_summary(plots: RespondPlots) -> dict[str, int]:
    return {
        "plots": len(plots.plots),
        "failed_to_open": len(plots.failed_to_open_filenames),
        "no_key": len(plots.no_key_filenames),
    }


class FarmerRpc:
    def __init__(self, farmer: Farmer) -> None:
        self.farmer = farmer
        self.peers = PeerMethods(farmer.harvester_node, farmer.full_node_side)

    def methods(self) -> dict[str, Method]:
        return {
            **self.peers.methods(),
            "get_plots": self.get_plots,
            "refresh_plots": self.refresh_plots,
            "get_harvesters": self.get_harvesters,
            "get_rewards": self.get_rewards,
        }

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
            answered[conn.node_id.hex()] = _plots_summary(reply)

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
            entry.update(_plots_summary(plots) if plots is not None else {"plots": None})
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


class HarvesterRpc:
    def __init__(self, harvester: Harvester) -> None:
        self.harvester = harvester
        self.peers = PeerMethods(harvester.node)

    def methods(self) -> dict[str, Method]:
        return {
            **self.peers.methods(),
            "get_plots": self.get_plots,
            "refresh_plots": self.refresh_plots,
            "get_harvesters": self.get_harvesters,
            "get_rewards": self.get_rewards,
        }

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
