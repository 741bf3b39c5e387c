"""Websockets over TLS (PROTOCOL.md section 1, Transport): the real :class:`Transport`.

We wrap the TCP stream in a ``trio.SSLStream`` ourselves, so the peer's certificate (and so its
node_id) is known before the websocket upgrade; then trio-websocket's ``wrap_server_stream`` /
``wrap_client_stream`` speak websocket on top, with ``max_message_size`` raised from the
library's 1 MiB default to the node's limit. Bans are checked on the raw socket, before TLS.

trio-websocket does not say who closed a connection with code 1009 (Message Too Big), nor when
the peer pinged us (the idle clock of :mod:`trionode.peers.connection` counts the peer's pings,
not the pongs to ours), and has no public hook for received control frames. :func:`_observe_peer_frames` wraps the wsproto
connection's public ``events()`` method on the instance (trio-websocket's reader calls it afresh
after every read) to see the peer's control frames before trio-websocket handles them. Wrapping
trio-websocket's ``_handle_ping_event`` instead would not work: its reader task binds its
handler table when it starts, before ``wrap_client_stream`` / ``wrap_server_stream`` return.
If a trio-websocket version has no wsproto connection where we look, the stream degrades (noted
at DEBUG): ``sees_peer_pings`` stays False, so answered pings count as hearing from the peer,
and a 1009 close is taken to be the peer's. ``tests/test_peers_transport.py`` checks that the
observation works with the installed version.
"""

from __future__ import annotations

import errno
import logging
import ssl
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from typing import Any

import trio
import trio_websocket
from wsproto.events import CloseConnection, Ping  # trio-websocket's own dependency

from trionode.nursery import unwrapped_exception_groups
from trionode.peers.errors import DialError, MessageTooLarge, RemoteProtocolError, TransportClosed
from trionode.peers.limits import MAX_MESSAGE_SIZE
from trionode.peers.tls import node_id_of_certificate
from trionode.peers.transport import (
    AdmitFn,
    PeerStream,
    SetupSlot,
    StreamHandler,
    Transport,
    _admit_all,
    admitted_slot,
)
from trionode.wire import bytes32

__all__ = ["RESOURCE", "WebSocketPeerStream", "WebSocketTransport"]

logger = logging.getLogger(__name__)

RESOURCE = "/ws"
# Errors from accept() that mean "out of resources for now", not "listener broken".
_ACCEPT_CAPACITY_ERRNOS = {errno.EMFILE, errno.ENFILE, errno.ENOMEM, errno.ENOBUFS}
# Errors that mean "this one connection failed to set up" (TLS, TCP, websocket upgrade).
_SETUP_ERRORS = (
    OSError,
    ssl.SSLError,
    trio.BrokenResourceError,
    trio.ClosedResourceError,
    trio.TooSlowError,
    trio_websocket.HandshakeError,
    trio_websocket.ConnectionClosed,
)


def _close_reason(exc: trio_websocket.ConnectionClosed) -> TransportClosed:
    reason = exc.reason
    if reason is None:
        return TransportClosed("closed")
    text = reason.reason or reason.name
    return TransportClosed(f"{text} (code {reason.code})", code=reason.code)


def _observe_peer_frames(
    ws: trio_websocket.WebSocketConnection, stream: WebSocketPeerStream
) -> bool:
    """Let ``stream`` see the control frames the peer sends on ``ws``; False if this
    trio-websocket version does not allow it (see the module docstring)."""
    conn = getattr(ws, "_wsproto", None)
    events = getattr(conn, "events", None)
    if conn is None or not callable(events):
        logger.debug(
            "trio-websocket %s: cannot observe the peer's control frames; pongs to our pings "
            "count as hearing from the peer, a 1009 close is taken as the peer's",
            getattr(trio_websocket, "__version__", "?"),
        )
        return False

    def observed() -> Iterator[Any]:
        for event in events():
            if isinstance(event, Ping):
                stream.peer_pinged_at = trio.current_time()
            elif isinstance(event, CloseConnection):
                stream._peer_closed = True
            yield event

    conn.events = observed
    return True


class WebSocketPeerStream(PeerStream):
    def __init__(
        self,
        ws: trio_websocket.WebSocketConnection,
        *,
        remote_node_id: bytes32,
        remote_host: str,
        remote_port: int,
        outbound: bool,
        close_timeout: float,
        max_message_size: int = MAX_MESSAGE_SIZE,
    ) -> None:
        self._ws = ws
        self.remote_node_id = remote_node_id
        self.remote_host = remote_host
        self.remote_port = remote_port
        self.outbound = outbound
        self._close_timeout = close_timeout
        self._max_message_size = max_message_size
        # Set when the peer's close frame arrives (only known if frames are observed).
        self._peer_closed = False
        self._observed = _observe_peer_frames(ws, self)
        self.sees_peer_pings = self._observed

    def _closed_error(self, exc: trio_websocket.ConnectionClosed) -> Exception:
        reason = exc.reason
        if reason is not None and reason.code == 1009 and self._observed and not self._peer_closed:
            # We closed it: trio-websocket does so when the peer's message exceeds our limit.
            return MessageTooLarge(
                f"sent a message above the maximum of {self._max_message_size} bytes"
            )
        return _close_reason(exc)

    async def send(self, data: bytes) -> None:
        try:
            await self._ws.send_message(data)
        except trio_websocket.ConnectionClosed as exc:
            raise _close_reason(exc) from None

    async def receive(self) -> bytes:
        try:
            msg = await self._ws.get_message()
        except trio_websocket.ConnectionClosed as exc:
            raise self._closed_error(exc) from None
        if not isinstance(msg, bytes):
            raise RemoteProtocolError("text websocket frame (the protocol is binary)")
        return msg

    async def ping(self) -> None:
        try:
            await self._ws.ping()
        except trio_websocket.ConnectionClosed as exc:
            raise _close_reason(exc) from None

    async def aclose(self, reason: str = "", code: int = 1000) -> None:
        # A close reason must fit a control frame (123 bytes of UTF-8).
        short = reason.encode("utf-8")[:120].decode("utf-8", "ignore")
        with trio.move_on_after(self._close_timeout, shield=True):
            try:
                await self._ws.aclose(code, short or None)
            except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
                pass  # the other side or the reader task closed the socket first: closed

    @property
    def closed(self) -> bool:
        return self._ws.closed is not None


class WebSocketTransport(Transport):
    """wss transport for one node identity (its certificate) and one CA."""

    def __init__(
        self,
        *,
        server_context: ssl.SSLContext,
        client_context: ssl.SSLContext,
        local_node_id: bytes32,
        max_message_size: int = MAX_MESSAGE_SIZE,
        setup_timeout: float = 10.0,
        max_concurrent_setups: int = 32,
        close_timeout: float = 2.0,
        receive_buffer_size: int = 65536,
        local_address: str | None = None,
    ) -> None:
        self.local_node_id = local_node_id
        # Source address of outbound connections (None: the OS picks).
        self._local_address = local_address
        self._server_context = server_context
        self._client_context = client_context
        self._max_message_size = max_message_size
        self._setup_timeout = setup_timeout
        self._max_setups = max_concurrent_setups
        self._setups = 0
        self._close_timeout = close_timeout
        self._receive_buffer_size = receive_buffer_size

    def _stream(
        self, ws: trio_websocket.WebSocketConnection, der: bytes, host: str, port: int, out: bool
    ) -> WebSocketPeerStream:
        return WebSocketPeerStream(
            ws,
            remote_node_id=node_id_of_certificate(der),
            remote_host=host,
            remote_port=port,
            outbound=out,
            close_timeout=self._close_timeout,
            max_message_size=self._max_message_size,
        )

    async def serve(
        self,
        handler: StreamHandler,
        host: str,
        port: int,
        *,
        admit: AdmitFn = _admit_all,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        listeners = await trio.open_tcp_listeners(port, host=host)
        try:
            bound = listeners[0].socket.getsockname()[1]
            logger.info("listening on %s:%d (wss, resource %s)", host, bound, RESOURCE)
            async with trio.open_nursery() as nursery:
                for listener in listeners:
                    nursery.start_soon(self._accept_loop, listener, handler, admit, nursery)
                task_status.started(bound)
        finally:
            with trio.CancelScope(shield=True):
                for listener in listeners:
                    await listener.aclose()

    async def _accept_loop(
        self,
        listener: trio.SocketListener,
        handler: StreamHandler,
        admit: AdmitFn,
        nursery: trio.Nursery,
    ) -> None:
        while True:
            try:
                sock = await listener.accept()
            except OSError as exc:
                if exc.errno in _ACCEPT_CAPACITY_ERRNOS:
                    logger.error("accept failed (%s); raise `ulimit -n`? retrying in 0.1 s", exc)
                    await trio.sleep(0.1)
                    continue
                raise
            try:
                peer_host, peer_port = sock.socket.getpeername()[:2]
            except OSError:  # the peer already went away
                await sock.aclose()
                continue
            # Refusals are not logged here one by one: an attacker reopening sockets would
            # flood the log. The admit function (the node's Admission) counts and sums them up.
            admitted, slot = admitted_slot(admit(peer_host))
            if not admitted:
                logger.debug("refused connection from %s:%d before TLS", peer_host, peer_port)
                await sock.aclose()
                continue
            if self._setups >= self._max_setups:
                logger.debug(
                    "refused connection from %s:%d: %d connection setups already in progress",
                    peer_host,
                    peer_port,
                    self._setups,
                )
                if slot is not None:
                    slot.release("transport set-ups full")
                await sock.aclose()
                continue
            self._setups += 1
            nursery.start_soon(self._handle_inbound, sock, peer_host, peer_port, handler, slot)

    async def _handle_inbound(
        self,
        sock: trio.SocketStream,
        host: str,
        port: int,
        handler: StreamHandler,
        slot: SetupSlot | None,
    ) -> None:
        streams: list[WebSocketPeerStream] = []
        try:
            with unwrapped_exception_groups():
                await self._run_inbound(sock, host, port, handler, streams, slot)
        except (*_SETUP_ERRORS, DialError) as exc:
            if not streams:
                if slot is not None:
                    # Counted in the node's summary line (one per interval, not per socket).
                    slot.release(f"set-up failed ({type(exc).__name__})")
                    logger.debug(
                        "inbound connection from %s:%d failed to set up: %r", host, port, exc
                    )
                else:
                    logger.info(
                        "inbound connection from %s:%d failed to set up: %r", host, port, exc
                    )
            else:
                logger.warning("connection from %s:%d ended: %r", host, port, exc)
        except Exception:
            # A handler bug must not reach the listener (trio-websocket would let it).
            logger.exception("handler for %s:%d failed", host, port)
        finally:
            if slot is not None:
                slot.release()

    async def _run_inbound(
        self,
        sock: trio.SocketStream,
        host: str,
        port: int,
        handler: StreamHandler,
        streams: list[WebSocketPeerStream],
        slot: SetupSlot | None,
    ) -> None:
        began = trio.current_time()
        async with trio.open_nursery() as nursery:
            try:
                try:
                    with trio.fail_after(self._setup_timeout):
                        tls = trio.SSLStream(sock, self._server_context, server_side=True)
                        await tls.do_handshake()
                        der = tls.getpeercert(binary_form=True)
                        if not der:
                            raise DialError("peer presented no certificate")
                        request = await trio_websocket.wrap_server_stream(
                            nursery,
                            tls,
                            max_message_size=self._max_message_size,
                            receive_buffer_size=self._receive_buffer_size,
                        )
                        if request.path != RESOURCE:
                            await request.reject(404)
                            raise DialError(f"wrong resource path {request.path!r}")
                        ws = await request.accept()
                finally:
                    self._setups -= 1
                stream = self._stream(ws, der, host, port, False)
                stream.opened_at = began
                stream.setup_slot = slot
                streams.append(stream)
                await handler(stream)
            finally:
                for stream in streams:
                    await stream.aclose()
                with trio.CancelScope(shield=True):
                    await trio.aclose_forcefully(sock)
                nursery.cancel_scope.cancel()

    @asynccontextmanager
    async def connect(self, host: str, port: int) -> AsyncIterator[PeerStream]:
        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                sock: trio.SocketStream | None = None
                began = trio.current_time()
                try:
                    with trio.fail_after(self._setup_timeout):
                        sock = await trio.open_tcp_stream(
                            host, port, local_address=self._local_address
                        )
                        tls = trio.SSLStream(sock, self._client_context, server_hostname=None)
                        await tls.do_handshake()
                        der = tls.getpeercert(binary_form=True)
                        if not der:
                            raise DialError(f"{host}:{port} presented no certificate")
                        ws = await trio_websocket.wrap_client_stream(
                            nursery,
                            tls,
                            host,
                            RESOURCE,
                            max_message_size=self._max_message_size,
                            receive_buffer_size=self._receive_buffer_size,
                        )
                except BaseException as exc:
                    # Cancellation mid-handshake must close the socket too, or it leaks
                    # until garbage collection.
                    if sock is not None:
                        with trio.CancelScope(shield=True):
                            await trio.aclose_forcefully(sock)
                    nursery.cancel_scope.cancel()
                    if isinstance(exc, _SETUP_ERRORS):
                        raise DialError(f"cannot connect to {host}:{port}: {exc!r}") from exc
                    raise
                stream = self._stream(ws, der, host, port, True)
                stream.opened_at = began
                try:
                    yield stream
                finally:
                    await stream.aclose()
                    with trio.CancelScope(shield=True):
                        await trio.aclose_forcefully(sock)
                    nursery.cancel_scope.cancel()
