"""One peer connection: handshake, request/response by id, announcements, heartbeat, limits.

Rules for incoming messages after the handshake, checked on the raw bytes in this order, so
nothing is decoded before the cheap checks pass (docs/protocol.md section 1):

1. the envelope must parse and its type must be known;
2. ``handshake`` / ``handshake_ack`` again: protocol violation;
3. a message *with an id* whose type is a reply type (``REPLY_TYPES`` values, or ``error``)
   must fit its type's size cap (trionode.protocols.size_caps) and answer one of our open
   requests with that id and the expected type; an id that matches no open request is an
   unsolicited reply, a protocol violation (a late reply to a request that already timed out
   is dropped quietly). A reply is then decoded and handed to its requester at once, whatever
   the handlers are doing;
4. any other type must be routed to our role from the peer's node type
   (trionode.protocols.routing), else :class:`UnroutedMessage` (ban); then it must fit its
   size cap and be within its rate limit;
5. ``error`` without an id is logged and ignored;
6. anything else waits in a bounded queue (messages and wire bytes) for a handler slot, and is
   then decoded and handled in its own task. A handler's return value answers a request that
   carried an id; a request with an id always gets an answer: the reply, or ``Error`` (no
   handler, :class:`RequestRefused`, nothing to return, queue full).

A connection never waits on itself (issue 10, attack 7): the read loop never waits for a handler
slot, so replies are always read, and a handler waiting for a reply gives its slot back
(:mod:`trionode.peers.inbox`). Payloads of at least ``decode_in_thread_bytes`` are
decoded in a worker thread.

Heartbeat (issue 3, PROTOCOL.md Transport, seed 002 "Heartbeat"): we ping every
``ping_interval``; a ping not answered within ``ping_interval`` ends the connection (the peer is
unresponsive). Separately, an idle clock ends it ``idle_timeout`` after the last *sign of life*:
a protocol message from the peer, or a websocket ping the peer initiated. The pongs answering
our own pings do not count: every websocket library sends them by itself, so a client that
handshakes and then says nothing would otherwise stay forever (seed 002: "even if heartbeats
are being received"). Two trionode nodes ping each other, so a quiet link between them stays
up. The idle deadline is exact: the watchdog sleeps until it and re-arms if something arrived.

A handler that raises closes this connection only (:class:`HandlerFailed`). Who logs and bans
is the owner's business (:mod:`trionode.peers.node`): this module raises, says who is at fault,
and never swallows cancellation. The first fault ends the connection; ``serve`` raises it alone
(never an exception group), even when several tasks of the connection fail at once.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Awaitable, Callable, Collection
from typing import Any

import trio

from trionode.peers.decoded import decode_shared
from trionode.peers.envelope import split_envelope
from trionode.peers.errors import (
    ConnectionClosedError,
    HandlerFailed,
    PeerErrorReply,
    RemoteProtocolError,
    RequestRefused,
    RequestTimeout,
    TransportClosed,
    UnroutedMessage,
    UnsolicitedReply,
)
from trionode.peers.handshake import HandshakeMachine
from trionode.peers.inbox import HandlerSlots, InboundQueue, Work, current_slot
from trionode.peers.limits import PeerLimits, RateLimiter
from trionode.peers.transport import PeerStream
from trionode.protocols import REPLY_TYPES, Encoded, make_message, message_type_of
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.peer_protocol import PeerInfo
from trionode.protocols.shared_protocol import Error, ErrorCode, Handshake, NodeType
from trionode.wire import DecodeError, Message, Streamable, bytes32, int16, uint16

__all__ = ["Handler", "HandlerLookup", "MessageObserver", "PeerConnection", "PeerUnresponsive"]

logger = logging.getLogger(__name__)

# A handler gets the decoded payload and the connection it came on; it returns the reply to a
# request (or None), decoded or already encoded (``Encoded``: e.g. blocks served from the
# store's bytes; its type is checked against the request like any reply's).
Handler = Callable[[Any, "PeerConnection"], Awaitable[Streamable | Encoded | None]]
HandlerLookup = Callable[[T], Handler | None]
# Observes every message after the handshake: (outbound, type, size in bytes). Set by whoever
# counts traffic (trionode.rpc.metrics); it must not block or raise.
MessageObserver = Callable[[bool, T, int], None]

REPLY_MESSAGE_TYPES: frozenset[T] = frozenset(REPLY_TYPES.values()) | {T.error}
HANDSHAKE_TYPES: frozenset[T] = frozenset({T.handshake, T.handshake_ack})
ALL_TYPES: frozenset[T] = frozenset(T)
# Remember this many timed-out request ids, so a late reply is not taken for an unsolicited one.
_EXPIRED_IDS = 256


class PeerUnresponsive(Exception):
    """The peer gave no sign of life for ``idle_timeout`` or left our ping unanswered. The
    connection is dropped; nobody is banned (silence breaks no protocol rule)."""


class _Pending:
    __slots__ = ("expected", "done", "reply", "closed")

    def __init__(self, expected: T) -> None:
        self.expected = expected
        self.done = trio.Event()
        self.reply: Any = None
        self.closed = False


class PeerConnection:
    """A connection to one peer over a :class:`PeerStream`.

    The owner drives it: ``await conn.handshake(machine)`` under the handshake deadline, then
    ``await conn.serve(lookup, accepts)`` until the connection ends. Other tasks may call
    :meth:`request`, :meth:`send` and :meth:`close` while it serves.
    """

    def __init__(
        self,
        stream: PeerStream,
        limits: PeerLimits,
        *,
        decode_limiter: trio.CapacityLimiter | None = None,
    ) -> None:
        self.stream = stream
        self.limits = limits
        self.node_id: bytes32 = stream.remote_node_id
        self.host = stream.remote_host
        self.port = stream.remote_port
        self.outbound = stream.outbound
        self.peer_handshake: Handshake | None = None
        self.node_type: NodeType | None = None
        self.close_reason: str | None = None
        self.connected_at = 0.0
        # trio.current_time() of the last protocol message from the peer.
        self.last_heard = 0.0
        # Announcements dropped and requests refused because the queue was full.
        self.dropped = 0
        self._rates = RateLimiter(limits)
        self._pending: dict[int, _Pending] = {}
        self._expired: collections.deque[int] = collections.deque(maxlen=_EXPIRED_IDS)
        self._next_id = 0
        self._cancel_scope: trio.CancelScope | None = None
        self._slots = HandlerSlots(limits.max_concurrent_handlers, limits.max_parked_handlers)
        # Handler tasks started and not yet returned (parked ones included).
        self.handlers_running = 0
        self._inbox = InboundQueue(limits.max_queued_messages, limits.max_queued_bytes)
        self._decode_limiter = decode_limiter
        self._accepts: Collection[T] = ALL_TYPES
        self._refusal: Callable[[T], str] | None = None
        self._failure: BaseException | None = None
        self._serving = False
        self.closed = trio.Event()
        self.message_observer: MessageObserver | None = None

    def __repr__(self) -> str:
        kind = self.node_type.name.lower() if self.node_type is not None else "peer"
        direction = "->" if self.outbound else "<-"
        return f"<{kind} {direction} {self.host}:{self.port} {self.node_id.hex()[:8]}>"

    @property
    def peer_info(self) -> PeerInfo | None:
        """Where this peer's server listens (its IP and the port of its Handshake)."""
        if self.peer_handshake is None:
            return None
        return PeerInfo(self.host, self.peer_handshake.server_port)

    @property
    def queued(self) -> tuple[int, int]:
        """(messages, wire bytes) waiting for a handler slot."""
        return len(self._inbox), self._inbox.bytes

    # -- the owner's side ----------------------------------------------------------------

    async def handshake(self, machine: HandshakeMachine) -> Handshake:
        """Run the handshake; the caller applies the deadline. Raises HandshakeError,
        RemoteProtocolError or TransportClosed."""
        await self._send_message(machine.start())
        while not machine.complete:
            data = await self.stream.receive()
            self._heard()
            mtype, _, _ = split_envelope(data)
            self.limits.check_size(mtype, len(data))
            try:
                msg = Message.from_bytes(data)
            except DecodeError as exc:
                raise RemoteProtocolError(f"undecodable {mtype.name} envelope: {exc}") from None
            for out in machine.receive(msg):
                await self._send_message(out)
        assert machine.peer is not None and machine.peer_node_type is not None
        self.peer_handshake = machine.peer
        self.node_type = machine.peer_node_type
        self.connected_at = trio.current_time()
        return machine.peer

    async def serve(
        self,
        lookup: HandlerLookup,
        accepts: Collection[T] = ALL_TYPES,
        refusal: Callable[[T], str] | None = None,
    ) -> None:
        """Read and dispatch until the connection ends.

        ``accepts``: the message types taken from this peer as requests or announcements
        (trionode.protocols.routing.accepted_from; default all); any other type raises
        UnroutedMessage with ``refusal(type)`` as its reason. Returns after :meth:`close`;
        raises TransportClosed if the peer went away, RemoteProtocolError if it misbehaved,
        PeerUnresponsive if it went silent or stopped answering pings, HandlerFailed if one of
        our handlers raised. Only the first fault is raised.
        """
        if self._serving:
            raise RuntimeError("serve() called twice")
        self._serving = True
        self._accepts = accepts
        self._refusal = refusal
        self._heard()
        try:
            with trio.CancelScope() as scope:
                self._cancel_scope = scope
                if self.close_reason is not None:
                    scope.cancel()
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._guarded, self._heartbeat)
                    nursery.start_soon(self._guarded, self._idle_watchdog)
                    nursery.start_soon(self._guarded, self._dispatch, nursery, lookup)
                    await self._guarded(self._read_loop)
            if self._failure is not None:
                raise self._failure
        finally:
            self._cancel_scope = None
            self._fail_pending()
            self._inbox.clear()
            self.closed.set()

    def close(self, reason: str) -> None:
        """Ask the connection to end (``serve`` returns); the owner closes the stream."""
        if self.close_reason is None:
            self.close_reason = reason
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    # -- for everyone ---------------------------------------------------------------------

    async def request(self, payload: Streamable, *, reply_within: float | None = None) -> Any:
        """Send a request and return the reply payload.

        Raises RequestTimeout after ``reply_within`` seconds (default
        ``limits.request_timeout``),
        PeerErrorReply if the peer answered ``Error``, ConnectionClosedError if the connection
        ended first. ValueError if ``payload`` is not a request type.

        Called from a message handler, the handler's slot is given back while it waits (see
        the module docstring).
        """
        mtype = message_type_of(payload)
        expected = REPLY_TYPES.get(mtype)
        if expected is None or mtype in HANDSHAKE_TYPES:
            raise ValueError(f"{mtype.name} is not a request")
        if self.closed.is_set() or self.close_reason is not None:
            raise ConnectionClosedError(f"{self!r} is closed")
        msg_id = self._allocate_id()
        pending = _Pending(expected)
        self._pending[msg_id] = pending
        try:
            try:
                await self._send_message(make_message(payload, id=msg_id))
            except TransportClosed as exc:
                raise ConnectionClosedError(f"{self!r} closed: {exc.reason}") from None
            wait = self.limits.request_timeout if reply_within is None else reply_within
            slot = current_slot()
            parked = slot is not None and slot.park()
            with trio.move_on_after(wait):
                await pending.done.wait()
            if parked:
                assert slot is not None
                await slot.unpark()
            if not pending.done.is_set():
                raise RequestTimeout(f"no reply to {mtype.name} from {self!r} within {wait:g} s")
            if pending.closed:
                raise ConnectionClosedError(f"{self!r} closed before replying to {mtype.name}")
            if isinstance(pending.reply, Error):
                raise PeerErrorReply(int(pending.reply.code), pending.reply.message)
            return pending.reply
        finally:
            del self._pending[msg_id]
            if not pending.done.is_set():
                # Timed out or cancelled: a late reply is expected, not a violation.
                self._expired.append(msg_id)

    async def send(self, payload: Streamable | Encoded) -> None:
        """Send an announcement (no id; ``Encoded``: already in wire bytes). Raises ConnectionClosedError if the connection ended."""
        try:
            await self._send_message(make_message(payload))
        except TransportClosed as exc:
            raise ConnectionClosedError(f"{self!r} closed: {exc.reason}") from None

    # -- internals -------------------------------------------------------------------------

    def _heard(self) -> None:
        self.last_heard = trio.current_time()

    @property
    def last_sign_of_life(self) -> float:
        """When the peer last sent a message or initiated a ping (trio time)."""
        pinged = self.stream.peer_pinged_at
        return self.last_heard if pinged is None else max(self.last_heard, pinged)

    def _allocate_id(self) -> int:
        if len(self._pending) >= 0x10000:
            raise RuntimeError(f"65536 requests already open on {self!r}")
        while True:
            msg_id = self._next_id
            self._next_id = (self._next_id + 1) & 0xFFFF
            if msg_id not in self._pending and msg_id not in self._expired:
                return msg_id

    async def _send_message(self, msg: Message) -> None:
        data = bytes(msg)
        if len(data) > self.limits.max_message_size:
            raise ValueError(f"message of {len(data)} bytes is above the maximum message size")
        logger.debug("%r: sending %s id=%s", self, T(msg.type).name, msg.id)
        await self.stream.send(data)
        if self.message_observer is not None:
            self.message_observer(True, T(msg.type), len(data))

    def _fail(self, exc: BaseException) -> None:
        """Keep the first fault and end the connection (serve raises it)."""
        if self._failure is None and self.close_reason is None:
            self._failure = exc
        if self._cancel_scope is not None:
            self._cancel_scope.cancel()

    async def _guarded(self, fn: Callable[..., Awaitable[None]], *args: Any) -> None:
        """Run one of the connection's tasks; a fault ends the connection instead of
        escaping into the nursery (so serve never raises a group)."""
        try:
            await fn(*args)
        except Exception as exc:
            self._fail(exc)

    async def _decode(self, mtype: T, payload: memoryview | bytes) -> Any:
        """Decode a payload, in a worker thread if it is big (off the event loop); a block or
        transaction every neighbour sends is decoded once for all (peers.decoded)."""
        big = len(payload) >= self.limits.decode_in_thread_bytes
        try:
            return await decode_shared(mtype, bytes(payload), big, self._decode_limiter)
        except DecodeError as exc:
            raise RemoteProtocolError(f"undecodable {mtype.name}: {exc}") from None

    def _fail_pending(self) -> None:
        for pending in self._pending.values():
            if not pending.done.is_set():
                pending.closed = True
                pending.done.set()

    async def _heartbeat(self) -> None:
        """Ping every ping_interval; no pong within ping_interval: the peer is unresponsive."""
        interval = self.limits.ping_interval
        while True:
            await trio.sleep(interval)
            with trio.move_on_after(interval) as waiting:
                await self.stream.ping()
            if waiting.cancelled_caught:
                raise PeerUnresponsive(f"no pong within {interval:g} s")
            if not self.stream.sees_peer_pings:
                # The transport cannot see the peer's pings (see ws_transport): without this,
                # two quiet nodes would drop each other. A pong then counts after all.
                self._heard()

    async def _idle_watchdog(self) -> None:
        """End the connection idle_timeout after the peer's last sign of life, to the moment."""
        idle = self.limits.idle_timeout
        while True:
            deadline = self.last_sign_of_life + idle
            if trio.current_time() >= deadline:
                raise PeerUnresponsive(f"no message for {idle:g} s")
            await trio.sleep_until(deadline)

    async def _read_loop(self) -> None:
        """Read every message and act on it at once; never waits for a handler."""
        while True:
            data = await self.stream.receive()
            self._heard()
            mtype, msg_id, payload = split_envelope(data)
            if self.message_observer is not None:
                self.message_observer(False, mtype, len(data))
            if mtype in HANDSHAKE_TYPES:
                raise RemoteProtocolError(f"{mtype.name} after the handshake completed")
            if msg_id is not None and mtype in REPLY_MESSAGE_TYPES:
                self.limits.check_size(mtype, len(data))
                pending = self._match_reply(mtype, msg_id)
                if pending is not None:
                    reply = await self._decode(mtype, payload)
                    logger.debug("%r: received %s id=%s", self, mtype.name, msg_id)
                    if not pending.done.is_set():  # not timed out while decoding
                        pending.reply = reply
                        pending.done.set()
                continue
            if mtype not in self._accepts:
                reason = self._refusal(mtype) if self._refusal else f"{mtype.name} not accepted"
                raise UnroutedMessage(reason)
            self.limits.check_size(mtype, len(data))
            self._rates.check(mtype, trio.current_time())
            logger.debug("%r: received %s id=%s", self, mtype.name, msg_id)
            if mtype is T.error:
                error = await self._decode(mtype, payload)
                logger.info("%r sent Error %d: %s", self, error.code, error.message)
                continue
            await self._enqueue(Work(mtype, msg_id, payload, len(data)))

    def _match_reply(self, mtype: T, msg_id: int) -> _Pending | None:
        """The open request a reply answers (None: a late reply, dropped); checked before the
        reply is decoded. Raises UnsolicitedReply."""
        pending = self._pending.get(msg_id)
        if pending is None or pending.done.is_set():
            if msg_id in self._expired:
                logger.debug(
                    "%r: late %s for timed-out request %d dropped", self, mtype.name, msg_id
                )
                return None
            raise UnsolicitedReply(f"{mtype.name} with id {msg_id} answers no open request")
        if mtype is not pending.expected and mtype is not T.error:
            raise UnsolicitedReply(
                f"{mtype.name} with id {msg_id} where {pending.expected.name} was expected"
            )
        return pending

    async def _enqueue(self, work: Work) -> None:
        """Queue a message for a handler; beyond the queue's bounds, drop an announcement or
        answer a request Error(RATE_LIMITED). One message always fits an empty queue."""
        if self._inbox.offer(work):
            return
        self.dropped += 1
        if self.dropped == 1 or self.dropped % 1000 == 0:
            logger.info(
                "%r: %d messages (%d bytes) wait for a handler; dropped %d so far",
                self,
                len(self._inbox),
                self._inbox.bytes,
                self.dropped,
            )
        if work.msg_id is not None:
            busy = Error(int16(ErrorCode.RATE_LIMITED), "busy: too many messages waiting")
            try:
                await self._send_message(make_message(busy, id=work.msg_id))
            except TransportClosed:
                pass  # the next receive sees the close

    async def _dispatch(self, nursery: trio.Nursery, lookup: HandlerLookup) -> None:
        """Start a handler for each queued message as slots free up."""
        while True:
            # A message leaves the queue (and its bounds) only when a slot is free for it.
            await self._inbox.wait()
            await self._slots.acquire()
            work = self._inbox.pop()
            nursery.start_soon(self._guarded, self._handle, work, lookup)

    async def _handle(self, work: Work, lookup: HandlerLookup) -> None:
        slot = self._slots.enter(trio.lowlevel.current_task())
        mtype, msg_id = work.mtype, work.msg_id
        self.handlers_running += 1
        try:
            handler = lookup(mtype)
            reply: Streamable | Encoded | None
            if handler is None:
                logger.debug("%r: no handler for %s", self, mtype.name)
                reply = Error(int16(ErrorCode.NOT_SUPPORTED), f"{mtype.name} is not served here")
            else:
                payload = await self._decode(mtype, work.payload)
                del work
                try:
                    reply = await handler(payload, self)
                except RequestRefused as refused:
                    reply = Error(int16(refused.code), refused.message)
                except (RemoteProtocolError, TransportClosed, ConnectionClosedError):
                    raise
                except Exception as exc:
                    raise HandlerFailed(mtype.name, exc) from exc
            if msg_id is None:
                return  # an announcement: nothing to answer
            if reply is None:
                reply = Error(int16(ErrorCode.NOT_FOUND), f"no answer to {mtype.name}")
            expected = REPLY_TYPES.get(mtype)
            reply_type = message_type_of(reply)
            if reply_type is not T.error and reply_type is not expected:
                raise HandlerFailed(
                    mtype.name, TypeError(f"handler returned {reply_type.name} for {mtype.name}")
                )
            try:
                await self._send_message(make_message(reply, id=uint16(msg_id)))
            except TransportClosed:
                return  # the read loop sees the close and ends the connection
        finally:
            self.handlers_running -= 1
            slot.finish()
