"""Start-up of the introducer (``--role introducer``): the peer layer's Introducer on the
network's id."""

from __future__ import annotations

from pathlib import Path

import trio

from trionode.consensus import get_constants
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.introducer import Introducer
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.runtime import write_ready


class IntroducerService:
    def __init__(self, root: Path, network: str, port: int) -> None:
        self.root = root
        constants = get_constants(network)
        self.node = PeerNode(
            PeerNodeConfig(
                network_id=constants.genesis_challenge,
                node_type=NodeType.INTRODUCER,
                port=port,
            ),
            make_websocket_transport(NodeIdentity.public(root, "introducer")),
        )
        self.introducer = Introducer(self.node)

    async def run(
        self, *, task_status: trio.TaskStatus[IntroducerService] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.introducer.serve)
            assert self.node.port is not None
            write_ready(self.root, "introducer", self.node.port)
            task_status.started(self)
