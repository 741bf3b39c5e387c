"""The Transport interface: how a node accepts and opens message streams to peers.

A transport moves whole binary messages between two authenticated endpoints and knows each
side's node_id before the first message. It knows nothing of the protocol: the handshake,
requests and limits live above it, in :mod:`trionode.peers.connection`. Two implementations
pass the same conformance test (``tests/test_peers_transport.py``):

- :class:`trionode.peers.ws_transport.WebSocketTransport`: websockets over TLS (the real one);
- :class:`trionode.testing.memory_transport.MemoryTransport`: in-process channels, for tests and
  simulation.
"""

from __future__ import annotations

import abc
from collections.abc import Awaitable, Callable
from contextlib import AbstractAsyncContextManager

import trio

from trionode.wire import bytes32

__all__ = ["AdmitFn", "PeerStream", "SetupSlot", "StreamHandler", "Transport", "admitted_slot"]


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
    # The admission slot of an inbound stream (None: none): the node releases it once the
    # handshake completed; the transport at the latest when the stream ends.
    setup_slot: SetupSlot | None = None

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


class SetupSlot(abc.ABC):
    """What an admitted connection holds while it sets up (trionode.peers.admission).

    The transport releases it when the set-up fails (with why) and, at the latest, when the
    connection ends; the node releases it as soon as the handshake completed. Idempotent.
    """

    @abc.abstractmethod
    def release(self, failure: str | None = None) -> None: ...


# Called with the remote IP right after accept, before TLS: False or None closes the socket at
# once; True admits; a SetupSlot admits and is released as described there. A stream carries
# its slot as ``stream.setup_slot``.
AdmitFn = Callable[[str], "SetupSlot | bool | None"]


def _admit_all(host: str) -> bool:
    return True


def admitted_slot(verdict: SetupSlot | bool | None) -> tuple[bool, SetupSlot | None]:
    """(admitted?, the slot to release) of an AdmitFn's answer."""
    if isinstance(verdict, SetupSlot):
        return True, verdict
    return bool(verdict), None


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
