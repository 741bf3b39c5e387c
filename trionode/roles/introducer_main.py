"""Start-up of the introducer (``--role introducer``): the peer layer's Introducer on the
network's id."""

from __future__ import annotations

import trio

from trionode.consensus import get_constants
from trionode.nursery import Supervisor
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.introducer import Introducer
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.runtime import write_ready
from trionode.roles.supervision import role_supervisor
from trionode.rpc.surface import start_peer_role_surface
from trionode.service import ServiceSettings


class IntroducerService:
    """The introducer has no keys of its own: its config is the shell (root, network, ports,
    limits) every role shares."""

    def __init__(self, config: ServiceSettings) -> None:
        self.config = config
        # The supervisor of the role's own loops and operator surface, while it runs.
        self.loops: Supervisor | None = None
        constants = get_constants(config.network)
        self.node = PeerNode(
            PeerNodeConfig(
                network_id=constants.genesis_challenge,
                node_type=NodeType.INTRODUCER,
                host=config.host,
                port=config.port,
                limits=config.limits,
            ),
            make_websocket_transport(NodeIdentity.public(config.root, "introducer"), config.limits),
        )
        self.introducer = Introducer(self.node)

    async def run(
        self, *, task_status: trio.TaskStatus[IntroducerService] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.introducer.serve)
            async with role_supervisor("introducer", until=self.node.stopped) as loops:
                self.loops = loops
                assert self.node.port is not None
                surface = await start_peer_role_surface(loops, self.node, "introducer", self.config)
                write_ready(self.config.root, "introducer", self.node.port, **surface)
                task_status.started(self)
