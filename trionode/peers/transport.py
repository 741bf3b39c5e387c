"""The Transport interface: how a node accepts and opens message streams to peers.

A transport moves whole binary messages between two authenticated endpoints and knows each
side's node_id before the first message. It knows nothing of the protocol: the handshake,
requests and limits live above it, in :mod:`trionode.peers.connection`. Two implementations
pass the same conformance test (``tests/test_peers_transport.py``):

- :class:`trionode.peers.ws_transport.WebSocketTransport`: websockets over TLS (the real one);
- :class:`trionode.peers.memory_transport.MemoryTransport`: in-process channels, for tests and
  simulation.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import trio

from trionode.wire import bytes32

__all__ = ["AdmitFn", "PeerStream", "StreamHandler", "Transport"]


class PeerStream(abc.ABC):
    """One open, authenticated message stream to a peer.

    ``send`` / ``receive`` move whole messages and raise
    :class:`~trionode.peers.errors.TransportClosed` once the stream is closed by either side
    (``receive`` first returns what arrived before the close). ``receive`` raises
    :class:`~trionode.peers.errors.RemoteProtocolError` for a frame that is not a binary message.
    A message above the receiver's ``max_message_size`` closes the stream (websocket code 1009):
    the receiver's ``receive`` raises :class:`~trionode.peers.errors.MessageTooLarge` (the peer
    broke our limit), the sender's sees TransportClosed with ``code`` 1009.
    """

    remote_node_id: bytes32
    remote_host: str
    remote_port: int
    outbound: bool
    # trio.current_time() when the connection began (before TLS): the handshake deadline covers
    # the whole set-up, not just the Handshake messages. None: when the stream was made.
    opened_at: float | None = None
    # trio.current_time() of the last websocket ping the peer sent us (None: none yet). Pings
    # the peer initiates show it is alive; the pongs answering ours only show that its
    # websocket library is (every library answers pings by itself).
    peer_pinged_at: float | None = None
    # True if this stream keeps peer_pinged_at. A stream that cannot see the peer's pings
    # leaves it False, and the connection then counts answered pings as hearing from the peer.
    sees_peer_pings: bool = False

    @abc.abstractmethod
    async def send(self, data: bytes) -> None: ...

    @abc.abstractmethod
    async def receive(self) -> bytes: ...

    @abc.abstractmethod
    async def ping(self) -> None:
        """Return once the peer answered a websocket ping with a pong."""

    @abc.abstractmethod
    async def aclose(self, reason: str = "", code: int = 1000) -> None:
        """Close, telling the peer ``reason``. Idempotent; bounded in time; never raises."""

    @property
    @abc.abstractmethod
    def closed(self) -> bool: ...

    def __repr__(self) -> str:
        direction = "to" if self.outbound else "from"
        return f"<{type(self).__name__} {direction} {self.remote_host}:{self.remote_port}>"


StreamHandler = Callable[[PeerStream], Awaitable[None]]
# Called with the remote IP right after accept, before TLS: False closes the socket at once.
AdmitFn = Callable[[str], bool]


def _admit_all(host: str) -> bool:
    return True


class Transport(abc.ABC):
    """Accepts and opens :class:`PeerStream` s for one node identity."""

    local_node_id: bytes32

    @abc.abstractmethod
    async def serve(
        self,
        handler: StreamHandler,
        host: str,
        port: int,
        *,
        admit: AdmitFn = _admit_all,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Listen on ``host:port`` (0: any free port) and run ``handler(stream)`` per peer.

        Reports the bound port through ``task_status``. The stream is closed when the handler
        returns. An exception from one handler is logged and ends that stream only: it never
        reaches the listener.
        """

    @abc.abstractmethod
    def connect(self, host: str, port: int) -> AbstractAsyncContextManager[PeerStream]:
        """Open a stream to ``host:port``; closed when the ``async with`` block ends.

        Raises :class:`~trionode.peers.errors.DialError` if the stream cannot be set up.
        """
