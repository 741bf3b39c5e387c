"""Start-up of the timelord: VDF workers and the link to its full node."""

from __future__ import annotations

import functools
import logging

import attrs
import trio

from trionode import runfiles
from trionode.config import TimelordSettings
from trionode.consensus import get_constants
from trionode.nursery import Supervisor
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import ConnectionClosedError
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.shared_protocol import NodeType
from trionode.protocols.timelord_protocol import ProofOfTimeFinished
from trionode.roles.runtime import write_ready
from trionode.roles.supervision import role_supervisor
from trionode.roles.timelord.api import TimelordAPI
from trionode.roles.timelord.node import Timelord
from trionode.roles.upstream import keep_connected
from trionode.rpc.surface import start_peer_role_surface
from trionode.service import ServiceSettings

logger = logging.getLogger(__name__)


_DEFAULTS = TimelordSettings()  # config.yaml's timelord: defaults (trionode.config)


@attrs.frozen
class TimelordConfig(ServiceSettings):
    """The shell (root, network, ports, limits) and the timelord's own keys."""

    full_node: tuple[str, int]
    workers: int = _DEFAULTS.workers
    use_processes: bool = not _DEFAULTS.vdf_threads


class TimelordService:
    def __init__(self, config: TimelordConfig) -> None:
        self.config = config
        # The supervisor of the role's own loops and operator surface, while it runs.
        self.loops: Supervisor | None = None
        self.constants = get_constants(config.network)
        self.timelord = Timelord(
            self.constants.DISCRIMINANT_SIZE_BITS,
            self._send,
            workers=config.workers,
            use_processes=config.use_processes,
        )
        self.node = PeerNode(
            PeerNodeConfig(
                network_id=self.constants.genesis_challenge,
                node_type=NodeType.TIMELORD,
                host=config.host,
                port=config.port,
                limits=config.limits,
                accepted_node_types=frozenset({NodeType.FULL_NODE}),
            ),
            make_websocket_transport(NodeIdentity.public(config.root, "timelord"), config.limits),
            TimelordAPI(self.timelord),
        )

    async def _send(self, msg: ProofOfTimeFinished) -> None:
        nodes = self.node.get_connections(NodeType.FULL_NODE)
        if not nodes:
            raise ConnectionClosedError("no full node connected")
        await nodes[0].send(msg)

    async def _on_connect(self, conn: PeerConnection) -> None:
        await self.timelord.resend_pending()

    async def run(
        self, *, task_status: trio.TaskStatus[TimelordService] = trio.TASK_STATUS_IGNORED
    ) -> None:
        runfiles.clear(self.config.root, "timelord")
        async with trio.open_nursery() as nursery:
            await nursery.start(self.node.run)
            async with role_supervisor("timelord", until=self.node.stopped) as loops:
                self.loops = loops
                await loops.start_child("vdf", self.timelord.run)
                host, port = self.config.full_node
                await loops.start_child(
                    "full-node-link",
                    functools.partial(
                        keep_connected, what="full node", on_connect=self._on_connect
                    ),
                    self.node,
                    host,
                    port,
                )
                assert self.node.port is not None
                cfg = self.config
                surface = await start_peer_role_surface(loops, self.node, "timelord", cfg)
                write_ready(cfg.root, "timelord", self.node.port, **surface)
                task_status.started(self)
