"""A network driver for peer tests (STYLE.md 16): named nodes on real loopback sockets.

``net.node("alice")`` starts a PeerNode on 127.0.0.1 port 0 with a fresh certificate;
``net.raw("mallory", source="127.0.0.2")`` opens a bare authenticated stream to a node, to send
whatever a hostile peer would; ``net.wait_for(cond)`` waits on connection events instead of
polling. Offenders connect from their own loopback address (127.0.0.2, ...), because bans are by
IP and loopback is not exempt: the node must go on serving 127.0.0.1.
"""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from dataclasses import replace
from pathlib import Path

import trio

from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.peers.transport import PeerStream, Transport
from trionode.protocols import make_message
from trionode.protocols.shared_protocol import PROTOCOL_VERSION, Handshake, NodeType
from trionode.testing.memory_transport import MemoryNetwork, MemoryTransport
from trionode.wire import Streamable, bytes32, uint8, uint16

__all__ = ["TEST_NETWORK_ID", "PeerTestNet", "handshake_bytes"]

TEST_NETWORK_ID = bytes32(hashlib.sha256(b"trionode genesis peer-tests").digest())


def handshake_bytes(
    *,
    network_id: bytes32 = TEST_NETWORK_ID,
    protocol_version: str = PROTOCOL_VERSION,
    software_version: str = "test",
    server_port: int = 0,
    node_type: int = NodeType.FULL_NODE,
    msg_id: int | None = None,
) -> bytes:
    """An encoded Handshake message, with any field set to a hostile value."""
    hs = Handshake(
        network_id=network_id,
        protocol_version=protocol_version,
        software_version=software_version,
        server_port=uint16(server_port),
        node_type=uint8(node_type),
    )
    return bytes(make_message(hs, id=msg_id))


class PeerTestNet:
    """Named nodes for one test, all stopped when the test's nursery ends."""

    def __init__(
        self,
        nursery: trio.Nursery,
        root: Path,
        *,
        memory: bool = False,
        network_id: bytes32 = TEST_NETWORK_ID,
    ) -> None:
        self._nursery = nursery
        self._root = Path(root)
        self._memory = MemoryNetwork() if memory else None
        self.network_id = network_id
        self.nodes: dict[str, PeerNode] = {}

    def identity(self, name: str, role: str = "full_node") -> NodeIdentity:
        return NodeIdentity.public(self._root / name, role)

    def transport(
        self,
        name: str,
        *,
        source: str = "127.0.0.1",
        limits: PeerLimits | None = None,
        answer_pings: bool = True,
    ) -> Transport:
        identity = self.identity(name)
        if self._memory is not None:
            return MemoryTransport(
                self._memory,
                local_node_id=identity.node_id,
                host=source,
                max_message_size=(limits or PeerLimits()).max_message_size,
                answer_pings=answer_pings,
            )
        if not answer_pings:
            raise ValueError("only the memory transport can simulate a frozen peer")
        return make_websocket_transport(identity, limits, local_address=source)

    async def node(
        self,
        name: str,
        *apis: object,
        node_type: NodeType = NodeType.FULL_NODE,
        limits: PeerLimits | None = None,
        network_id: bytes32 | None = None,
        source: str = "127.0.0.1",
        **config: object,
    ) -> PeerNode:
        """Start a node listening on ``source`` port 0 and return it once it listens."""
        cfg = PeerNodeConfig(
            network_id=network_id or self.network_id,
            node_type=node_type,
            host=source,
            port=0,
            limits=limits or PeerLimits(),
        )
        if config:
            cfg = replace(cfg, **config)  # type: ignore[arg-type]
        node = PeerNode(cfg, self.transport(name, source=source, limits=limits), *apis)
        await self._nursery.start(node.run)
        self.nodes[name] = node
        return node

    @asynccontextmanager
    async def raw(
        self, name: str, target: PeerNode, *, source: str = "127.0.0.2", answer_pings: bool = True
    ) -> AsyncIterator[PeerStream]:
        """A bare stream from a fresh identity at ``source`` to ``target``: no handshake,
        no limits, nothing checked. For playing the hostile peer."""
        assert target.port is not None
        transport = self.transport(name, source=source, answer_pings=answer_pings)
        async with transport.connect(target.config.host, target.port) as stream:
            yield stream

    async def wait_for(self, condition: Callable[[], bool], nodes: Iterable[PeerNode] = ()) -> None:
        """Return once ``condition()`` holds, re-checking at each connect/disconnect of
        ``nodes`` (all nodes if empty). The caller bounds the wait with trio.fail_after."""
        watched = list(nodes) or list(self.nodes.values())
        while True:
            # Take the events before checking, so a change between the two is not missed.
            events = [node.connection_event for node in watched]
            if condition():
                return
            async with trio.open_nursery() as nursery:

                async def wake(event: trio.Event, scope: trio.CancelScope) -> None:
                    await event.wait()
                    scope.cancel()

                for event in events:
                    nursery.start_soon(wake, event, nursery.cancel_scope)

    async def stop_all(self) -> None:
        """Stop every node cleanly and wait until each has closed its connections."""
        for node in self.nodes.values():
            node.stop()
        for node in self.nodes.values():
            await node.stopped.wait()


async def send_payload(stream: PeerStream, payload: Streamable, msg_id: int | None = None) -> None:
    """Send one protocol message on a raw stream."""
    await stream.send(bytes(make_message(payload, id=msg_id)))
