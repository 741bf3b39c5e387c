"""Start-up of a full node: the chain store, the blockchain, the peer layer and its services."""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path

import attrs
import trio

from trionode import runfiles
from trionode.blockchain.blockchain import Blockchain
from trionode.config import FullNodeSettings, PeersSettings
from trionode.consensus import get_constants
from trionode.nursery import Supervisor
from trionode.peers.full_node import FullNodePeers
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.peers.manager import PeerManagerConfig
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.peers.transport import Transport
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.full_node.api import FullNodeAPI
from trionode.roles.full_node.node import FullNode
from trionode.roles.full_node.rpc import start_full_node_surface
from trionode.roles.full_node.wallet_api import WalletAPI
from trionode.roles.runtime import write_ready
from trionode.roles.supervision import role_supervisor
from trionode.service import ServiceSettings
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_url
from trionode.storage.peer_store import AddressLimits, PeerStore
from trionode.sync import IntakeLimits, SyncConfig

logger = logging.getLogger(__name__)


# config.yaml's full_node: and peers: defaults, written in trionode.config.
_DEFAULTS = FullNodeSettings()
_PEERS = PeersSettings()


@attrs.frozen
class FullNodeConfig(ServiceSettings):
    """The shell (root, network, ports, limits) and the full node's own keys."""

    peers: tuple[tuple[str, int], ...] = ()
    introducer: tuple[str, int] | None = None
    db: str | None = None  # the chain store's URL (None: SQLite under the root)
    peer_db: str | None = None  # None: the peers table lives in the chain database
    target_outbound: int = _DEFAULTS.target_outbound
    max_inbound: int = _DEFAULTS.max_inbound
    validation_workers: int = _DEFAULTS.validation_workers
    exempt_loopback_from_bans: bool = _PEERS.exempt_loopback_from_bans
    sync: SyncConfig = SyncConfig()  # batch sizes and deadlines of the long sync
    # Bounds of the pools of peer input (config.yaml full_node: keys; docs/protocol.md s. 2)
    intake: IntakeLimits = IntakeLimits()
    # Bounded pools (docs/protocol.md section 3).
    mempool_max_bytes: int = _DEFAULTS.mempool_max_bytes
    mempool_max_blocks: int = _DEFAULTS.mempool_max_blocks
    address_limits: AddressLimits = AddressLimits()


class FullNodeService:
    """Owns the store for its whole life: opened in ``run``, closed when ``run`` ends."""

    api_class: type[FullNodeAPI] = FullNodeAPI  # tests give misbehaving peers their own
    wallet_api_class: type[WalletAPI] = WalletAPI  # light wallets' requests (wallet protocol)

    def __init__(self, config: FullNodeConfig) -> None:
        self.config = config
        # The supervisor of the role's own loops and operator surface, while it runs.
        self.loops: Supervisor | None = None
        self.constants = get_constants(config.network)
        self.full_node: FullNode | None = None
        self.node: PeerNode | None = None

    async def run(
        self, *, task_status: trio.TaskStatus[FullNodeService] = trio.TASK_STATUS_IGNORED
    ) -> None:
        cfg = self.config
        runfiles.clear(cfg.root, "full_node")
        url = cfg.db or default_db_url(cfg.root, self.constants.network_name)
        store = await ChainStore.open(url)
        try:
            blockchain = await Blockchain.create(
                store, self.constants, validation_workers=cfg.validation_workers
            )
            limits = dataclasses.replace(cfg.limits, max_inbound=cfg.max_inbound)
            # The peers table shares the chain store's engine and runner when it is in the
            # same database (the default): one writer per database.
            peer_store = await PeerStore.open_beside(
                store.runner,
                None if cfg.peer_db is None else _peer_db_location(cfg.root, cfg.peer_db),
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
                )
                node = peers.node
                full_node = FullNode(
                    self.constants,
                    blockchain,
                    cfg.root,
                    node,
                    sync_config=cfg.sync,
                    limits=cfg.intake,
                )
                full_node.mempool.mempool.set_limits(
                    max_total_cost=cfg.mempool_max_blocks * self.constants.MAX_BLOCK_COST,
                    max_total_bytes=cfg.mempool_max_bytes,
                )
                node.register_api(self.api_class(full_node))
                node.register_api(self.wallet_api_class(full_node))
                self.full_node, self.node = full_node, node
                # The role owns its loops (FullNode.loops names them): they run under its own
                # supervisor, beside the peer layer, until the peer layer stops (stop_node).
                async with trio.open_nursery() as nursery:
                    await nursery.start(peers.run)
                    async with role_supervisor("full_node", until=node.stopped) as loops:
                        self.loops = loops
                        for name, loop in full_node.loops():
                            await loops.start_child(name, loop)
                        assert node.port is not None
                        surface = await start_full_node_surface(self, loops)
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


def _peer_db_location(root: Path, peer_db: str) -> str | Path:
    """A URL as it is; a path relative to the root."""
    return peer_db if "://" in peer_db else root / peer_db
