"""An in-process :class:`Transport` over trio memory channels, for tests and simulation.

A :class:`MemoryNetwork` is the "internet" of one test: transports listen on (host, port)
addresses inside it and connect to each other without sockets. It keeps the websocket
transport's contract: node_ids known before the first message, whole binary messages, a close
reason seen by the other side, a message above the receiver's ``max_message_size`` closing the
stream with code 1009 (the receiver gets MessageTooLarge, the sender TransportClosed),
``admit`` consulted before anything else, a ping seen by the other side (``peer_pinged_at``)
and answered unless that side's transport was made with ``answer_pings=False``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Protocol

import attrs
import trio

from trionode.nursery import unwrapped_exception_groups
from trionode.peers.errors import DialError, MessageTooLarge, TransportClosed
from trionode.peers.limits import MAX_MESSAGE_SIZE
from trionode.peers.transport import (
    AdmitFn,
    PeerStream,
    StreamHandler,
    Transport,
    _admit_all,
    admitted_slot,
)
from trionode.wire import bytes32

__all__ = ["MemoryNetwork", "MemoryPeerStream", "MemoryTransport"]

logger = logging.getLogger(__name__)

_QUEUE = 16  # messages buffered per direction; a full queue blocks the sender (backpressure)


class LinkShaper(Protocol):
    """What a network simulator puts between ``send`` and delivery (latency, loss, partitions):
    it calls ``stream.deliver(data)`` when, and if, the message reaches the other end."""

    async def send(self, stream: MemoryPeerStream, data: bytes) -> None: ...


@attrs.define
class _Pipe:
    """State shared by the two ends of one connection."""

    close_reason: TransportClosed | None = None
    closed_event: trio.Event = attrs.field(factory=trio.Event)

    def close(self, reason: TransportClosed) -> None:
        if self.close_reason is None:
            self.close_reason = reason
        self.closed_event.set()


class MemoryPeerStream(PeerStream):
    def __init__(
        self,
        pipe: _Pipe,
        send: trio.MemorySendChannel[bytes],
        receive: trio.MemoryReceiveChannel[bytes],
        *,
        remote_node_id: bytes32,
        remote_host: str,
        remote_port: int,
        outbound: bool,
        max_message_size: int,
        remote_answers_pings: bool = True,
    ) -> None:
        self._pipe = pipe
        self._remote_answers_pings = remote_answers_pings
        self._send = send
        self._receive = receive
        self.remote_node_id = remote_node_id
        self.remote_host = remote_host
        self.remote_port = remote_port
        self.outbound = outbound
        self._max = max_message_size
        # The other end of the pipe (set by the transport once both ends exist).
        self._partner: MemoryPeerStream | None = None
        self.sees_peer_pings = True
        self.local_host = ""  # set by the transport: the address the other end sees
        self.shaper: LinkShaper | None = None  # the network's, if it has one

    @property
    def closed_event(self) -> trio.Event:
        return self._pipe.closed_event

    def _closed_error(self) -> TransportClosed:
        return self._pipe.close_reason or TransportClosed("closed")

    async def send(self, data: bytes) -> None:
        if self._pipe.close_reason is not None:
            raise self._closed_error()
        if self.shaper is not None:
            await self.shaper.send(self, bytes(data))
            return
        await self.deliver(data)

    async def deliver(self, data: bytes) -> None:
        """Put ``data`` in the other end's queue (the shaper's way past itself)."""
        if self._pipe.close_reason is not None:
            raise self._closed_error()
        try:
            await self._send.send(bytes(data))
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            raise self._closed_error() from None

    async def receive(self) -> bytes:
        try:
            data = await self._receive.receive()
        except (trio.EndOfChannel, trio.ClosedResourceError):
            raise self._closed_error() from None
        if len(data) > self._max:
            self._shut(
                TransportClosed(
                    f"Exceeded maximum message size: {self._max} bytes (code 1009)", code=1009
                )
            )
            raise MessageTooLarge(f"sent a message above the maximum of {self._max} bytes")
        return data

    async def ping(self) -> None:
        if self._pipe.close_reason is not None:
            raise self._closed_error()
        if self._partner is not None:
            self._partner.peer_pinged_at = trio.current_time()
        if not self._remote_answers_pings:
            # A frozen peer: the pong never comes; only a close ends the wait.
            await self._pipe.closed_event.wait()
            raise self._closed_error()
        await trio.lowlevel.checkpoint()

    def _shut(self, reason: TransportClosed) -> None:
        self._pipe.close(reason)
        self._send.close()
        self._receive.close()

    async def aclose(self, reason: str = "", code: int = 1000) -> None:
        self._shut(TransportClosed(f"{reason or 'closed'} (code {code})", code=code))
        await trio.lowlevel.checkpoint()

    @property
    def closed(self) -> bool:
        return self._pipe.close_reason is not None


@attrs.define
class _Incoming:
    stream: MemoryPeerStream
    accepted: trio.Event = attrs.field(factory=trio.Event)


class MemoryNetwork:
    """The address space that :class:`MemoryTransport` s of one test share."""

    def __init__(self, shaper: LinkShaper | None = None) -> None:
        self._listeners: dict[tuple[str, int], _Listener] = {}
        self._next_port = 20000
        self.shaper = shaper

    def _bind(self, host: str, port: int, listener: _Listener) -> int:
        if port == 0:
            while (host, self._next_port) in self._listeners:
                self._next_port += 1
            port = self._next_port
            self._next_port += 1
        if (host, port) in self._listeners:
            raise OSError(f"address {host}:{port} already in use")
        self._listeners[(host, port)] = listener
        return port

    def _unbind(self, host: str, port: int) -> None:
        self._listeners.pop((host, port), None)


@attrs.define
class _Listener:
    transport: MemoryTransport
    admit: AdmitFn
    incoming: trio.MemorySendChannel[_Incoming]


class MemoryTransport(Transport):
    """One node's endpoint on a :class:`MemoryNetwork`; ``host`` is the address peers see."""

    def __init__(
        self,
        network: MemoryNetwork,
        *,
        local_node_id: bytes32,
        host: str = "127.0.0.1",
        max_message_size: int = MAX_MESSAGE_SIZE,
        answer_pings: bool = True,
    ) -> None:
        self.local_node_id = local_node_id
        # False simulates a frozen peer whose websocket never answers a ping.
        self.answer_pings = answer_pings
        self._network = network
        self._host = host
        self._max = max_message_size
        self._listen_port = 0

    async def serve(
        self,
        handler: StreamHandler,
        host: str,
        port: int,
        *,
        admit: AdmitFn = _admit_all,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        send, receive = trio.open_memory_channel[_Incoming](0)
        bound = self._network._bind(host, port, _Listener(self, admit, send))
        self._listen_port = bound
        try:
            async with trio.open_nursery() as nursery, receive:
                task_status.started(bound)
                async for incoming in receive:
                    incoming.accepted.set()
                    nursery.start_soon(self._handle, incoming.stream, handler)
        finally:
            self._network._unbind(host, bound)

    async def _handle(self, stream: MemoryPeerStream, handler: StreamHandler) -> None:
        try:
            with unwrapped_exception_groups():
                await handler(stream)
        except TransportClosed as exc:
            logger.warning("connection from %s ended: %s", stream.remote_host, exc.reason)
        except Exception:
            logger.exception("handler for %s failed", stream.remote_host)
        finally:
            if stream.setup_slot is not None:
                stream.setup_slot.release()
            await stream.aclose()

    @asynccontextmanager
    async def connect(self, host: str, port: int) -> AsyncIterator[PeerStream]:
        listener = self._network._listeners.get((host, port))
        if listener is None:
            await trio.lowlevel.checkpoint()
            raise DialError(f"cannot connect to {host}:{port}: connection refused")
        admitted, slot = admitted_slot(listener.admit(self._host))
        if not admitted:
            await trio.lowlevel.checkpoint()
            raise DialError(f"cannot connect to {host}:{port}: closed by peer before setup")
        pipe = _Pipe()
        c2s_send, c2s_recv = trio.open_memory_channel[bytes](_QUEUE)
        s2c_send, s2c_recv = trio.open_memory_channel[bytes](_QUEUE)
        ours = MemoryPeerStream(
            pipe,
            c2s_send,
            s2c_recv,
            remote_node_id=listener.transport.local_node_id,
            remote_host=host,
            remote_port=port,
            outbound=True,
            max_message_size=self._max,
            remote_answers_pings=listener.transport.answer_pings,
        )
        theirs = MemoryPeerStream(
            pipe,
            s2c_send,
            c2s_recv,
            remote_node_id=self.local_node_id,
            remote_host=self._host,
            remote_port=self._listen_port,
            outbound=False,
            max_message_size=listener.transport._max,
            remote_answers_pings=self.answer_pings,
        )
        ours._partner, theirs._partner = theirs, ours
        ours.local_host, theirs.local_host = self._host, host
        ours.shaper = theirs.shaper = self._network.shaper
        theirs.setup_slot = slot
        incoming = _Incoming(theirs)
        try:
            await listener.incoming.send(incoming)
        except (trio.BrokenResourceError, trio.ClosedResourceError):
            if slot is not None:
                slot.release("listener closed")
            raise DialError(f"cannot connect to {host}:{port}: listener closed") from None
        try:
            yield ours
        finally:
            await ours.aclose()
