"""Start-up of the farmer: keys, a listener for harvesters (private CA) and the link to its full
node (public network CA)."""

from __future__ import annotations

import functools
import logging

import attrs
import trio

from trionode import runfiles
from trionode.consensus import get_constants
from trionode.keys.keychain import Keychain
from trionode.nursery import Supervisor
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerErrorReply
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.harvester_protocol import HarvesterHandshake, RequestPlots, RespondPlots
from trionode.protocols.harvester_protocol_v1 import HarvesterHandshake as HarvesterHandshakeV1
from trionode.protocols.shared_protocol import ErrorCode, NodeType
from trionode.roles.farm_limits import farm_link_limits
from trionode.roles.farmer.api import FarmerAPI
from trionode.roles.farmer.node import FarmerState
from trionode.roles.farmer.pool_link import PoolLink
from trionode.roles.farmer.rpc import start_farmer_surface
from trionode.roles.greeter import greet_new_connections
from trionode.roles.runtime import write_ready
from trionode.roles.supervision import role_supervisor
from trionode.roles.upstream import keep_connected
from trionode.service import ServiceSettings
from trionode.wire import bytes32

logger = logging.getLogger(__name__)


@attrs.frozen
class FarmerConfig(ServiceSettings):
    """The shell (root, network, ports, limits) and the farmer's own keys."""

    full_node: tuple[str, int]
    # The pool to farm pooled plots with (config farmer.pool, "host:port"; None = solo) and
    # where it pays this farmer (None = the farmer puzzle hash, sha256(farmer pk)).
    pool: tuple[str, int] | None = None
    payout_puzzle_hash: bytes32 | None = None


class Farmer:
    def __init__(self, config: FarmerConfig) -> None:
        self.config = config
        # The supervisor of the role's own loops and operator surface, while it runs.
        self.loops: Supervisor | None = None
        self.constants = get_constants(config.network)
        keys = Keychain(config.root).farm_keys()
        self.state = FarmerState(self.constants, keys)
        network_id = self.constants.genesis_challenge
        limits = farm_link_limits(config.limits)
        self.harvester_node = PeerNode(
            PeerNodeConfig(
                network_id=network_id,
                node_type=NodeType.FARMER,
                host=config.host,
                port=config.port,
                limits=limits,
                accepted_node_types=frozenset({NodeType.HARVESTER}),
            ),
            make_websocket_transport(NodeIdentity.private(config.root, "farmer"), limits),
        )
        # The full-node side listens too (every node is a server) on a port of the OS's choice.
        self.full_node_side = PeerNode(
            PeerNodeConfig(
                network_id=network_id,
                node_type=NodeType.FARMER,
                host=config.host,
                port=0,
                limits=limits,
                # The pool link shares this (public CA) side.
                accepted_node_types=frozenset({NodeType.FULL_NODE, NodeType.POOL}),
            ),
            make_websocket_transport(NodeIdentity.public(config.root, "farmer"), limits),
        )
        self.pool_link: PoolLink | None = None
        if config.pool is not None:
            payout = config.payout_puzzle_hash or keys.farmer_puzzle_hash
            self.pool_link = PoolLink(self.constants, keys, payout)
        self.api = FarmerAPI(self.state, self.harvester_node, self.full_node_side, self.pool_link)
        self.harvester_node.on_disconnect.append(self._forget_harvester)
        self.harvester_node.register_api(self.api)
        self.full_node_side.register_api(self.api)

    async def _on_full_node_connect(self, conn: PeerConnection) -> None:
        # A (re)connected full node may have lost the headers and unfinished blocks it held
        # (a restart): its challenges must be farmed again, not skipped as already seen.
        self.state.forget_challenges()

    def _forget_harvester(self, conn: PeerConnection) -> None:
        self.state.harvester_generation.pop(conn.node_id, None)
        self.state.harvester_plots.pop(conn.node_id, None)

    async def _greet_harvester(self, conn: PeerConnection) -> None:
        """Tell the harvester generations apart and hand each its handshake.

        Both generations get the seed 001 handshake first, then the probe ``request_plots``:
        a v2 harvester answers ``respond_plots``; a v1 harvester has no handler for either and
        its peer layer answers ``Error(NOT_SUPPORTED)``, so it is sent the legacy handshake
        (pool keys only) instead. Any other answer leaves the harvester unused (logged).
        """
        keys = self.state.keys
        await conn.send(HarvesterHandshake([keys.farmer_pk], [keys.pool_pk]))
        try:
            plots: RespondPlots = await conn.request(RequestPlots())
        except PeerErrorReply as exc:
            if exc.code != ErrorCode.NOT_SUPPORTED:
                logger.warning("harvester %r refused request_plots: %s", conn, exc)
                return
            await conn.send(HarvesterHandshakeV1([keys.pool_pk]))
            generation = 1
        else:
            self.state.harvester_plots[conn.node_id] = plots
            generation = 2
        if conn.closed.is_set():
            return
        self.state.harvester_generation[conn.node_id] = generation
        logger.info(
            "harvester %s speaks harvester protocol v%d", conn.node_id.hex()[:8], generation
        )
        latest = self.state.latest()
        if latest is not None:
            await self.api.send_challenge(conn, latest)

    async def run(self, *, task_status: trio.TaskStatus[Farmer] = trio.TASK_STATUS_IGNORED) -> None:
        runfiles.clear(self.config.root, "farmer")
        async with trio.open_nursery() as nursery:
            await nursery.start(self.harvester_node.run)
            await nursery.start(self.full_node_side.run)
            async with role_supervisor("farmer", until=self.harvester_node.stopped) as loops:
                self.loops = loops
                await self._start_loops(loops)
                assert self.harvester_node.port is not None
                surface = await start_farmer_surface(self, loops)
                write_ready(self.config.root, "farmer", self.harvester_node.port, **surface)
                task_status.started(self)

    async def _start_loops(self, loops: Supervisor) -> None:
        """Greet harvesters; keep the links to the full node and the pool up."""
        await loops.start_child(
            "greet-harvesters",
            greet_new_connections,
            self.harvester_node,
            self._greet_harvester,
        )
        host, port = self.config.full_node
        await loops.start_child(
            "full-node-link",
            functools.partial(
                keep_connected, what="full node", on_connect=self._on_full_node_connect
            ),
            self.full_node_side,
            host,
            port,
        )
        if self.config.pool is not None and self.pool_link is not None:
            pool_host, pool_port = self.config.pool
            await loops.start_child(
                "pool-link",
                functools.partial(
                    keep_connected, what="pool", on_connect=self.pool_link.on_connect
                ),
                self.full_node_side,
                pool_host,
                pool_port,
            )
