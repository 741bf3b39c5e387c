"""Start-up of a full node: the chain store, the blockchain, the peer layer and its services."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import attrs
import trio

from trionode import runfiles
from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import get_constants
from trionode.mempool.mempool import DEFAULT_MAX_BLOCKS, DEFAULT_MAX_BYTES
from trionode.peers.full_node import FullNodePeers
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.peers.manager import PeerManagerConfig
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.peers.transport import Transport
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.full_node.api import FullNodeAPI
from trionode.roles.full_node.gossip import IntakeLimits
from trionode.roles.full_node.node import FullNode
from trionode.roles.full_node.wallet_api import WalletAPI
from trionode.roles.greeter import greet_new_connections
from trionode.roles.runtime import write_ready
from trionode.rpc.surface import start_full_node_surface
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_url
from trionode.storage.peer_store import AddressLimits, PeerStore
from trionode.sync import SyncConfig

logger = logging.getLogger(__name__)

STATUS_INTERVAL = 2.0


@attrs.frozen
class FullNodeConfig:
    root: Path
    network: str
    port: int = 8444
    host: str = "127.0.0.1"
    # Peer-layer limits and deadlines (config.yaml peers:); host is the peer listener's
    # address, the RPC and metrics stay on loopback.
    limits: PeerLimits = attrs.field(factory=PeerLimits)
    peers: tuple[tuple[str, int], ...] = ()
    introducer: tuple[str, int] | None = None
    db_url: str | None = None
    peer_db: str | None = None  # None: the peers table lives in the chain database
    target_outbound: int = 8
    max_inbound: int = 80
    validation_workers: int = 2
    exempt_loopback_from_bans: bool = False
    sync: SyncConfig = SyncConfig()  # batch sizes and deadlines of the long sync
    # Bounds of the pools of peer input (config.yaml full_node: keys; docs/protocol.md s. 2)
    intake: IntakeLimits = IntakeLimits()
    # Operator surface (trionode.rpc.surface): None = off. The CLI's default RPC port is
    # trionode.rpc.DEFAULT_RPC_PORTS["full_node"] (8555); rpc_tls_port 0 = OS's choice.
    rpc_port: int | None = None
    rpc_tls_port: int | None = 0
    metrics_port: int | None = None
    # Bounded pools (docs/protocol.md section 3).
    mempool_max_bytes: int = DEFAULT_MAX_BYTES
    mempool_max_blocks: int = DEFAULT_MAX_BLOCKS
    address_limits: AddressLimits = AddressLimits()


class FullNodeService:
    """Owns the store for its whole life: opened in ``run``, closed when ``run`` ends."""

    api_class: type[FullNodeAPI] = FullNodeAPI  # tests give misbehaving peers their own
    wallet_api_class: type[WalletAPI] = WalletAPI  # light wallets' requests (wallet protocol)

    def __init__(self, config: FullNodeConfig) -> None:
        self.config = config
        self.constants = get_constants(config.network)
        self.full_node: FullNode | None = None
        self.node: PeerNode | None = None

    async def run(
        self, *, task_status: trio.TaskStatus[FullNodeService] = trio.TASK_STATUS_IGNORED
    ) -> None:
        cfg = self.config
        runfiles.clear(cfg.root, "full_node")
        url = cfg.db_url or default_db_url(cfg.root, self.constants.network_name)
        store = await ChainStore.open(url)
        try:
            blockchain = await Blockchain.create(
                store, self.constants, validation_workers=cfg.validation_workers
            )
            full_node = FullNode(
                self.constants, blockchain, cfg.root, sync_config=cfg.sync, limits=cfg.intake
            )
            full_node.mempool.mempool.set_limits(
                max_total_cost=cfg.mempool_max_blocks * self.constants.MAX_BLOCK_COST,
                max_total_bytes=cfg.mempool_max_bytes,
            )
            limits = dataclasses.replace(cfg.limits, max_inbound=cfg.max_inbound)
            peer_store = PeerStore.open(
                url if cfg.peer_db is None else _peer_db_location(cfg.root, cfg.peer_db),
                limits=cfg.address_limits,
            )
            try:
                peers = FullNodePeers(
                    PeerNodeConfig(
                        network_id=self.constants.genesis_challenge,
                        node_type=NodeType.FULL_NODE,
                        host=cfg.host,
                        port=cfg.port,
                        limits=limits,
                        exempt_loopback_from_bans=cfg.exempt_loopback_from_bans,
                    ),
                    self.make_transport(limits),
                    peer_store,
                    PeerManagerConfig(
                        target_outbound=cfg.target_outbound,
                        bootstrap=cfg.peers,
                        introducer=cfg.introducer,
                    ),
                    self.api_class(full_node),
                    self.wallet_api_class(full_node),
                )
                node = peers.node
                full_node.node = node
                self.full_node, self.node = full_node, node
                async with trio.open_nursery() as nursery:
                    await nursery.start(peers.run)
                    await node.start_service(
                        "greeter", greet_new_connections, node, full_node.greet
                    )
                    await node.start_service("chain-follower", full_node.follow_chain)
                    await node.start_service("status", self._status_loop)
                    await node.start_service("sync", full_node.sync.run)
                    assert node.port is not None
                    surface = await start_full_node_surface(self)
                    full_node.write_status()
                    write_ready(
                        cfg.root,
                        "full_node",
                        node.port,
                        network=self.constants.network_name,
                        **surface,
                    )
                    task_status.started(self)
            finally:
                peer_store.close()
        finally:
            with trio.CancelScope(shield=True):
                await store.aclose()

    def make_transport(self, limits: PeerLimits) -> Transport:
        """TLS websockets with this root's identity (the network simulator gives its own)."""
        return make_websocket_transport(NodeIdentity.public(self.config.root, "full_node"), limits)

    async def _status_loop(self) -> None:
        assert self.full_node is not None
        while True:
            self.full_node.write_status()
            await trio.sleep(STATUS_INTERVAL)


def _peer_db_location(root: Path, peer_db: str) -> str | Path:
    """A URL as it is; a path relative to the root."""
    return peer_db if "://" in peer_db else root / peer_db
