"""The full node's operator face: its RPC methods (one table, ``METHODS``, which the CLI's
``rpc`` command reads too), its RPC events (``new_tip``, ``sync_progress``) and its metrics.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

import trio

from trionode.nursery import RestartPolicy, Supervisor
from trionode.peers.errors import DialError, PeerRequestError, RemoteProtocolError, TransportClosed
from trionode.peers.node import PeerNode
from trionode.protocols.chain_types import Transaction
from trionode.protocols.shared_protocol import NodeType
from trionode.rpc.common import PEER_METHODS, MethodTable, PeerMethods, bind, connection_json
from trionode.rpc.events import EventHub
from trionode.rpc.metrics import RoleMetrics
from trionode.rpc.params import BadParams, NotFound, Params, RpcError, Unavailable
from trionode.rpc.surface import start_surface
from trionode.wire import DecodeError

if TYPE_CHECKING:
    from trionode.protocols.chain_types import HeaderBlock
    from trionode.roles.full_node.main import FullNodeService
    from trionode.roles.full_node.node import FullNode

__all__ = [
    "METHODS",
    "SYNC_EVENT_INTERVAL",
    "FullNodeRpc",
    "TransactionRejected",
    "start_full_node_surface",
    "sync_status",
]

# How long open_connection waits for the dial and handshake.
CONNECT_TIMEOUT = 15.0
# How often the full node checks its sync status for ``sync_progress`` events.
SYNC_EVENT_INTERVAL = 1.0


class TransactionRejected(RpcError):
    """The mempool refused the transaction (invalid, conflicting, or the pool is full)."""

    status = 400
    code = "rejected"


def _tip_json(tip: HeaderBlock) -> dict[str, Any]:
    return {
        "header_hash": tip.header_hash.hex(),
        "height": int(tip.height),
        "weight": int(tip.weight),
        "timestamp": int(tip.header.data.timestamp),
    }


def sync_status(full_node: FullNode) -> dict[str, Any]:
    """``{"syncing", "progress", "target_height", "blocks_per_second", "eta_seconds"}``.

    The long sync reports its state through ``full_node.sync_status()``; while none runs the
    node follows block by block, reported as not syncing.
    """
    peak = full_node.blockchain.get_peak()
    height = None if peak is None else int(peak.height)
    base: dict[str, Any] = {
        "syncing": False,
        "progress": 1.0,
        "peak_height": height,
        "target_height": height,
        "blocks_per_second": None,
        "eta_seconds": None,
    }
    base.update(full_node.sync_status())
    return base


class FullNodeRpc(PeerMethods):
    """The handlers of :data:`METHODS` over one full node and its peer layer."""

    def __init__(self, full_node: FullNode, node: PeerNode, network: str) -> None:
        super().__init__(node)
        self.full_node = full_node
        self.node = node
        self.network = network

    # -- chain -------------------------------------------------------------------------------

    async def blockchain_state(self) -> dict[str, Any]:
        chain = self.full_node.blockchain
        peak = chain.get_peak()
        constants = self.full_node.constants
        mempool = self.full_node.mempool.mempool
        return {
            "network": self.network,
            "genesis_challenge": constants.genesis_challenge.hex(),
            "height": None if peak is None else int(peak.height),
            "weight": 0 if peak is None else int(peak.weight),
            "peak": None if peak is None else peak.header_hash.hex(),
            "heaviest": None if peak is None else _tip_json(peak),
            "tips": [_tip_json(t) for t in chain.get_tips()],
            "difficulty": int(await chain.get_next_difficulty()),
            "ips": int(await chain.get_next_ips()),
            "sync": sync_status(self.full_node),
            "peers": {
                t.name.lower(): len(self.node.get_connections(t))
                for t in (NodeType.FULL_NODE, NodeType.FARMER, NodeType.TIMELORD)
            },
            "blocks_made": self.full_node.blocks_made,
            "mempool_size": len(mempool),
            "event_loop_lag": self.node.loop_lag.as_json(),
        }

    async def get_blockchain_state(self, params: Params) -> dict[str, Any]:
        return {"blockchain_state": await self.blockchain_state()}

    async def get_block(self, params: Params) -> dict[str, Any]:
        """Params: ``header_hash``."""
        header_hash = params.get_bytes32("header_hash")
        block = await self.full_node.blockchain.get_block(header_hash)
        if block is None:
            raise NotFound(f"no block {header_hash.hex()}")
        return {"block": block.to_json_dict()}

    async def get_header(self, params: Params) -> dict[str, Any]:
        """Params: ``header_hash``. Returns the header block (header and its proofs)."""
        header_hash = params.get_bytes32("header_hash")
        header = await self.full_node.blockchain.get_header_block(header_hash)
        if header is None:
            raise NotFound(f"no block {header_hash.hex()}")
        return {"header_block": header.to_json_dict()}

    async def get_block_by_height(self, params: Params) -> dict[str, Any]:
        """Params: ``height``; ``tip`` (optional header hash: that tip's chain instead of the
        heaviest)."""
        height = params.get_int("height", minimum=0, maximum=2**32 - 1)
        chain = self.full_node.blockchain
        if params.has("tip"):
            tip = params.get_bytes32("tip")
            if not chain.contains_block(tip):
                raise NotFound(f"no block {tip.hex()}")
            info = chain.block_info(tip)
            if info is None or height > info.height:
                raise NotFound(f"the chain of {tip.hex()[:16]} has no height {height}")
            blocks = await chain.get_blocks_at([height], tip)
            block = blocks[0] if blocks else None
        else:
            header_hash = chain.height_to_hash(height)
            block = None if header_hash is None else await chain.get_block(header_hash)
        if block is None:
            raise NotFound(f"no block at height {height} (peak: {chain.peak_height})")
        return {"block": block.to_json_dict()}

    # -- peers -------------------------------------------------------------------------------

    async def open_connection(self, params: Params) -> dict[str, Any]:
        """Params: ``host`` (an IP address or a host name, resolved here), ``port``. Dials a
        full node and waits for the handshake; answers the new connection or 503 with the
        reason it failed."""
        host = await _resolve(params.get_str("host"))
        port = params.get_port("port")
        try:
            with trio.fail_after(CONNECT_TIMEOUT):
                conn = await self.node.connect(host, port)
        except trio.TooSlowError:
            raise Unavailable(
                f"no handshake with {host}:{port} within {CONNECT_TIMEOUT:g} s"
            ) from None
        except (DialError, RemoteProtocolError, TransportClosed, PeerRequestError, OSError) as exc:
            raise Unavailable(f"cannot connect to {host}:{port}: {exc}") from None
        return {"connection": connection_json(conn)}

    # -- mempool -----------------------------------------------------------------------------

    async def get_mempool(self, params: Params) -> dict[str, Any]:
        """The held transactions, best fee per cost first."""
        mempool = self.full_node.mempool.mempool
        items = [
            {
                "transaction_id": item.tx_id.hex(),
                "fee": int(item.fee),
                "cost": int(item.cost),
                "removals": [r.hex() for r in item.removals],
                "transaction": item.tx.to_json_dict(),
            }
            for item in mempool.items()
        ]
        return {"size": len(items), "total_cost": int(mempool.total_cost), "transactions": items}

    async def push_transaction(self, params: Params) -> dict[str, Any]:
        """Params: ``transaction`` (the JSON form of a Transaction). Validated against the
        heaviest tip; a new valid one is held and announced to the other full nodes. A
        transaction the mempool refuses is a 400 ``rejected`` naming the rule."""
        raw = params.get_object("transaction")
        try:
            tx = Transaction.from_json_dict(raw)
        except DecodeError as exc:
            raise BadParams(f"parameter 'transaction': {exc}") from None
        result = await self.full_node.add_transaction(tx, source=None)
        status = result.status.value
        if status not in ("added", "already_have"):
            raise TransactionRejected(f"transaction refused: {result.describe()}")
        return {
            "transaction_id": tx.get_hash().hex(),
            "status": status,
            "replaced": [r.hex() for r in result.replaced],
        }


# The full node's RPC: method name -> handler (plus the server's get_routes and stop_node).
METHODS: MethodTable = {
    **PEER_METHODS,
    "get_blockchain_state": FullNodeRpc.get_blockchain_state,
    "get_block": FullNodeRpc.get_block,
    "get_header": FullNodeRpc.get_header,
    "get_block_by_height": FullNodeRpc.get_block_by_height,
    "open_connection": FullNodeRpc.open_connection,
    "get_mempool": FullNodeRpc.get_mempool,
    "push_transaction": FullNodeRpc.push_transaction,
}

_HOST_NAME = re.compile(
    r"(?=.{1,253}$)[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)*\.?"
)


async def _resolve(host: str) -> str:
    """``host`` as an IP address: as it is if it is one, else its first address."""
    try:
        ipaddress.ip_address(host)
        return host
    except ValueError:
        pass
    if not _HOST_NAME.fullmatch(host):
        raise BadParams(f"parameter 'host' must be an IP address or a host name, not {host!r}")
    try:
        infos = await trio.socket.getaddrinfo(host, None, type=trio.socket.SOCK_STREAM)
    except (OSError, UnicodeError) as exc:
        raise BadParams(f"parameter 'host': cannot resolve {host!r}: {exc}") from None
    if not infos:
        raise BadParams(f"parameter 'host': {host!r} has no address")
    # IPv4 first: nodes listen on 127.0.0.1 by default, and "localhost" may list ::1 first.
    infos.sort(key=lambda info: info[0] != trio.socket.AF_INET)
    return str(infos[0][4][0])


# -- events and metrics ------------------------------------------------------------------------


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


def _full_node_metrics(full_node: FullNode) -> RoleMetrics:
    chain = full_node.blockchain
    metrics = RoleMetrics("full_node")
    metrics.instrument_blockchain(chain)
    metrics.gauge(
        "height",
        "height of the heaviest tip (-1 before the genesis block)",
        lambda: -1 if chain.peak_height is None else chain.peak_height,
    )
    metrics.gauge("weight", "weight of the heaviest tip", lambda: _peak_weight(full_node))
    metrics.gauge("tips", "number of tips", lambda: len(chain.get_tips()))
    metrics.gauge(
        "blocks_made", "blocks this node finished for its farmers", lambda: full_node.blocks_made
    )
    metrics.gauge(
        "syncing", "1 while a long sync runs", lambda: int(bool(sync_status(full_node)["syncing"]))
    )
    metrics.gauge(
        "sync_blocks_per_second",
        "blocks added per second by the running sync",
        lambda: sync_status(full_node)["blocks_per_second"],
    )
    metrics.gauge(
        "mempool_size", "transactions in the mempool", lambda: len(full_node.mempool.mempool)
    )
    return metrics


def _peak_weight(full_node: FullNode) -> int:
    peak = full_node.blockchain.get_peak()
    return 0 if peak is None else int(peak.weight)


async def start_full_node_surface(service: FullNodeService, owner: Supervisor) -> dict[str, int]:
    """The full node's RPC (with its events) and metrics, as children of ``owner``."""
    cfg = service.config
    if cfg.rpc_port is None and cfg.metrics_port is None:
        return {}
    full_node, node = service.full_node, service.node
    assert full_node is not None and node is not None
    hub = EventHub()
    metrics = (
        _full_node_metrics(full_node) if cfg.metrics_port is not None else RoleMetrics("full_node")
    )
    rpc = FullNodeRpc(full_node, node, service.constants.network_name)
    extra = await start_surface(
        owner,
        "full_node",
        cfg,
        methods=bind(METHODS, rpc),
        stop=node.stop,
        peer_nodes=[node],
        events=hub,
        metrics=metrics,
    )
    if cfg.rpc_port is not None:
        await owner.start_child(
            "rpc-chain-events", _chain_events, full_node, hub, policy=RestartPolicy.PERMANENT
        )
    return extra
