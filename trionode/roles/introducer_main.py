"""Start-up of the introducer (``--role introducer``): the peer layer's Introducer on the
network's id."""

from __future__ import annotations

from pathlib import Path

import trio

from trionode.consensus import get_constants
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.introducer import Introducer
from trionode.peers.limits import PeerLimits
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.runtime import write_ready
from trionode.roles.supervision import role_supervisor
from trionode.rpc.surface import start_peer_role_surface


class IntroducerService:
    def __init__(
        self,
        root: Path,
        network: str,
        port: int,
        *,
        rpc_port: int | None = None,
        rpc_tls_port: int | None = 0,
        metrics_port: int | None = None,
        host: str = "127.0.0.1",
        limits: PeerLimits | None = None,
    ) -> None:
        """``host``: the peer listener's address (the RPC and metrics stay on loopback).
        ``rpc_port``/``metrics_port``: the operator surface (None = off; the CLI's default
        RPC port in config.yaml is 8556)."""
        self.root = root
        self.rpc_port = rpc_port
        self.rpc_tls_port = rpc_tls_port
        self.metrics_port = metrics_port
        constants = get_constants(network)
        limits = limits or PeerLimits()
        self.node = PeerNode(
            PeerNodeConfig(
                network_id=constants.genesis_challenge,
                node_type=NodeType.INTRODUCER,
                host=host,
                port=port,
                limits=limits,
            ),
            make_websocket_transport(NodeIdentity.public(root, "introducer"), limits),
        )
        self.introducer = Introducer(self.node)

    async def run(
        self, *, task_status: trio.TaskStatus[IntroducerService] = trio.TASK_STATUS_IGNORED
    ) -> None:
        async with trio.open_nursery() as nursery:
            await nursery.start(self.introducer.serve)
            async with role_supervisor("introducer", until=self.node.stopped) as loops:
                assert self.node.port is not None
                surface = await start_peer_role_surface(
                    loops,
                    self.node,
                    "introducer",
                    self.root,
                    rpc_port=self.rpc_port,
                    rpc_tls_port=self.rpc_tls_port,
                    metrics_port=self.metrics_port,
                )
                write_ready(self.root, "introducer", self.node.port, **surface)
                task_status.started(self)
