"""The pool's operator RPC: ``get_pool_state``, ``get_farmers``, ``payout_now`` (plus the peer
methods every role has), on the shared RPC server (trionode.rpc)."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trionode.metrics import RoleMetrics
from trionode.rpc.common import PeerMethods
from trionode.rpc.events import EventHub
from trionode.rpc.params import Params
from trionode.rpc.server import Method
from trionode.rpc.surface import start_surface

if TYPE_CHECKING:
    from trionode.roles.pool.main import Pool


class PoolRpc:
    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        self.peers = PeerMethods(pool.node)

    def methods(self) -> dict[str, Method]:
        return {
            **self.peers.methods(),
            "get_pool_state": self.get_pool_state,
            "get_farmers": self.get_farmers,
            "payout_now": self.payout_now,
        }

    async def get_pool_state(self, params: Params) -> dict[str, Any]:
        pool = self.pool
        farmers = await pool.store.get_farmers()
        return {
            "pool_contract_puzzle_hash": pool.puzzle_hash.hex(),
            "pool_public_key": bytes(pool.keys.pool_pk).hex(),
            "sub_slot_iters": int(pool.info.sub_slot_iters),
            "target_partials_per_hour": pool.config.target_partials_per_hour,
            "peak_height": pool.state.peak_height,
            "challenges": len(pool.state.challenges),
            "farmers": len(farmers),
            "farmers_connected": len(pool.joined),
            "points": sum(f.points for f in farmers),
            "partials_accepted": sum(f.partials_accepted for f in farmers),
            "partials_refused": dict(pool.refusals),
            "payouts": await pool.store.payouts(),
        }

    async def get_farmers(self, params: Params) -> dict[str, Any]:
        return {"farmers": [f.to_json() for f in await self.pool.store.get_farmers()]}

    async def payout_now(self, params: Params) -> dict[str, Any]:
        return {"payout": await self.pool.payout_once()}


async def start_pool_surface(pool: Pool) -> dict[str, int]:
    cfg = pool.config
    if cfg.rpc_port is None and cfg.metrics_port is None:
        return {}
    metrics = RoleMetrics("pool")
    metrics.gauge(
        "farmers_connected", "farmers joined on open connections", lambda: len(pool.joined)
    )
    metrics.gauge("payouts", "payouts made since start", lambda: pool.payouts_made)
    nodes = [pool.node, pool.chain_link]

    def stop() -> None:
        for n in nodes:
            n.stop()

    return await start_surface(
        pool.node,
        "pool",
        cfg.root,
        rpc_port=cfg.rpc_port,
        rpc_tls_port=cfg.rpc_tls_port,
        metrics_port=cfg.metrics_port,
        methods=PoolRpc(pool).methods(),
        stop=stop,
        peer_nodes=nodes,
        events=EventHub(),
        metrics=metrics,
        host=cfg.host,
    )
