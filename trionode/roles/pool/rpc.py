"""The pool's operator face: its RPC methods (one table, ``METHODS``, which the CLI's ``rpc``
command reads too: ``get_pool_state``, ``get_farmers``, ``payout_now``, plus the peer methods
every role has) and its metrics."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from trionode.nursery import Supervisor
from trionode.rpc.common import PEER_METHODS, MethodTable, PeerMethods, bind
from trionode.rpc.events import EventHub
from trionode.rpc.metrics import RoleMetrics
from trionode.rpc.params import Params
from trionode.rpc.surface import start_surface

if TYPE_CHECKING:
    from trionode.roles.pool.main import Pool


__all__ = ["METHODS", "PoolRpc", "start_pool_surface"]


class PoolRpc(PeerMethods):
    """The handlers of :data:`METHODS` over one pool and its farmer listener."""

    def __init__(self, pool: Pool) -> None:
        super().__init__(pool.node)
        self.pool = pool

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


# The pool's RPC: method name -> handler (plus the server's get_routes and stop_node).
METHODS: MethodTable = {
    **PEER_METHODS,
    "get_pool_state": PoolRpc.get_pool_state,
    "get_farmers": PoolRpc.get_farmers,
    "payout_now": PoolRpc.payout_now,
}


async def start_pool_surface(pool: Pool, owner: Supervisor) -> dict[str, int]:
    """The pool's RPC and metrics, as children of ``owner``."""
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
        owner,
        "pool",
        cfg,
        methods=bind(METHODS, PoolRpc(pool)),
        stop=stop,
        peer_nodes=nodes,
        events=EventHub(),
        metrics=metrics,
    )
