"""Full node RPC methods.

``get_blockchain_state`` reads the Blockchain and the peer layer; sync status and the mempool
are looked up on the FullNode when the sync/mempool work provides them (see ``_sync_status`` and
``_mempool``), so this table keeps working whichever lands first.
"""

from __future__ import annotations

import ipaddress
import re
from typing import TYPE_CHECKING, Any

import trio

from trionode.peers.errors import DialError, PeerRequestError, RemoteProtocolError, TransportClosed
from trionode.peers.node import PeerNode
from trionode.protocols.chain_types import Transaction
from trionode.protocols.shared_protocol import NodeType
from trionode.rpc.common import PeerMethods, connection_json
from trionode.rpc.params import BadParams, NotFound, Params, RpcError, Unavailable
from trionode.rpc.server import Method
from trionode.wire import DecodeError

if TYPE_CHECKING:
    from trionode.protocols.chain_types import HeaderBlock
    from trionode.roles.full_node.node import FullNode

__all__ = ["FullNodeRpc", "TransactionRejected", "sync_status"]

# How long open_connection waits for the dial and handshake.
CONNECT_TIMEOUT = 15.0


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

    The sync work exposes its state as ``full_node.sync_status()`` returning a mapping (or an
    object with ``to_json_dict``); without it the node only short-syncs block by block as blocks
    arrive, which is reported as not syncing.
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
    provider = getattr(full_node, "sync_status", None)
    if callable(provider):
        status = provider()
        if hasattr(status, "to_json_dict"):
            status = status.to_json_dict()
        if isinstance(status, dict):
            base.update(status)
    return base


class FullNodeRpc:
    def __init__(self, full_node: FullNode, node: PeerNode, network: str) -> None:
        self.full_node = full_node
        self.node = node
        self.network = network
        self.peers = PeerMethods(node)

    def methods(self) -> dict[str, Method]:
        return {
            **self.peers.methods(),
            "get_blockchain_state": self.get_blockchain_state,
            "get_block": self.get_block,
            "get_header": self.get_header,
            "get_block_by_height": self.get_block_by_height,
            "open_connection": self.open_connection,
            "get_mempool": self.get_mempool,
            "push_transaction": self.push_transaction,
        }

    # -- chain -------------------------------------------------------------------------------

    async def blockchain_state(self) -> dict[str, Any]:
        chain = self.full_node.blockchain
        peak = chain.get_peak()
        constants = self.full_node.constants
        mempool = self._mempool()
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
            "mempool_size": None if mempool is None else len(mempool),
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

    def _mempool(self) -> Any:
        """The node's Mempool (``full_node.mempool.mempool``: the manager's pool), or None."""
        manager = getattr(self.full_node, "mempool", None)
        return getattr(manager, "mempool", None)

    async def get_mempool(self, params: Params) -> dict[str, Any]:
        """The held transactions, best fee per cost first."""
        mempool = self._mempool()
        if mempool is None:
            raise Unavailable("mempool not available on this node")
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
        add = getattr(self.full_node, "add_transaction", None)
        if add is None:
            raise Unavailable("mempool not available on this node")
        result = await add(tx, source=None)
        status = result.status.value
        if status not in ("added", "already_have"):
            raise TransactionRejected(f"transaction refused: {result.describe()}")
        return {
            "transaction_id": tx.get_hash().hex(),
            "status": status,
            "replaced": [r.hex() for r in result.replaced],
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
