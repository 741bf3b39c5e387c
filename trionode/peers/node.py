"""PeerNode: the peer layer of one node of any role (server and client at once).

A role composes one PeerNode: it gives a :class:`PeerNodeConfig`, a :class:`Transport` and one
or more API objects (one ``async`` method per incoming message, named after the message's
ProtocolMessageTypes name, STYLE.md 4), then ``await nursery.start(node.run)``.

Lifetimes (STYLE.md 6, 8): ``run()`` owns a :class:`~trionode.nursery.Supervisor`. The listener
is a permanent child; every peer connection, inbound or outbound, is a temporary child, so a
failing connection closes alone. Other long-lived loops of the peer layer (peer manager,
introducer vetting) are added by their owners with :meth:`PeerNode.start_service`.
:meth:`stop` closes every connection cleanly, newest first, and makes ``run()`` return.

Every disconnect is logged with its reason: at INFO when we closed it as planned (node
shutdown, a replaced duplicate, done with an introducer, over RPC), at WARNING when a peer was
dropped: a fault (protocol violation, ban, unresponsive peer, handler failure) or the peer
closing the connection (an operator wants to see peers going away). A peer that
breaks the protocol is banned for the time its :class:`RemoteProtocolError` says; a silent or
unresponsive peer (:class:`~trionode.peers.connection.PeerUnresponsive`) is dropped without a ban.

Cheap checks before expensive ones (docs/protocol.md section 1): connection slots are checked on
the raw socket before TLS (:mod:`trionode.peers.admission`); a message's type is checked against
the routing table of our role and the peer's node type (:mod:`trionode.protocols.routing`) and
its size against the type's cap before it is decoded; big payloads are decoded in worker
threads. The node also runs the event-loop lag watchdog (:mod:`trionode.peers.lag`).
"""

from __future__ import annotations

import functools
import itertools
import logging
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import trio

from trionode import __version__
from trionode.nursery import ChildStartFailed, RestartPolicy, Supervisor
from trionode.peers.admission import Admission
from trionode.peers.bans import BanList
from trionode.peers.connection import Handler, PeerConnection, PeerUnresponsive
from trionode.peers.errors import (
    ConnectionClosedError,
    DialError,
    HandlerFailed,
    HandshakeError,
    RemoteProtocolError,
    TransportClosed,
)
from trionode.peers.handshake import HandshakeMachine
from trionode.peers.lag import LoopLagWatchdog
from trionode.peers.limits import PeerLimits
from trionode.peers.transport import PeerStream, SetupSlot, Transport
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.routing import accepted_from, handled_by, why_refused
from trionode.protocols.shared_protocol import NodeType
from trionode.wire import bytes32

__all__ = ["ConnectionLimitReached", "DuplicateConnection", "PeerNode", "PeerNodeConfig"]

logger = logging.getLogger(__name__)

# Websocket close codes we send.
CLOSE_NORMAL = 1000
CLOSE_GOING_AWAY = 1001
CLOSE_POLICY = 1008
# Worker threads that decode big payloads at once, for all connections of a node.
DECODE_THREADS = 4


class DuplicateConnection(RemoteProtocolError):
    """A second connection to a node_id we are already connected to (not worth a ban)."""

    ban_seconds = 0.0


class ConnectionLimitReached(RemoteProtocolError):
    """We already have as many connections of this direction as allowed (no ban)."""

    ban_seconds = 0.0


@dataclass(frozen=True)
class PeerNodeConfig:
    """What the peer layer of one node needs to know; built once by the role's composer."""

    network_id: bytes32
    node_type: NodeType
    host: str = "127.0.0.1"
    port: int = 0
    software_version: str = f"trionode {__version__}"
    limits: PeerLimits = field(default_factory=PeerLimits)
    # Loopback addresses are banned like any other unless this is set (PROTOCOL.md, Bans).
    exempt_loopback_from_bans: bool = False
    max_bans: int = 10_000
    # None: any known NodeType may connect.
    accepted_node_types: frozenset[NodeType] | None = None


ConnectionHook = Callable[[PeerConnection], None]


class PeerNode:
    """Listens, dials, handshakes, dispatches, bans. See the module docstring."""

    def __init__(self, config: PeerNodeConfig, transport: Transport, *apis: object) -> None:
        self.config = config
        self.transport = transport
        self.node_id: bytes32 = transport.local_node_id
        self.limits = config.limits
        self.bans = BanList(
            trio.current_time,
            max_entries=config.max_bans,
            exempt_loopback=config.exempt_loopback_from_bans,
        )
        self.connections: dict[bytes32, PeerConnection] = {}
        self.admission = Admission(
            self.limits,
            is_banned=self.bans.is_banned,
            inbound_hosts=lambda: [c.host for c in self.connections.values() if not c.outbound],
        )
        self.loop_lag = LoopLagWatchdog()
        self._decode_limiter = trio.CapacityLimiter(DECODE_THREADS)
        # The message types our role handles at all (the routing table's row).
        self._routed = handled_by(config.node_type)
        self.port: int | None = None
        self.on_connect: list[ConnectionHook] = []
        self.on_disconnect: list[ConnectionHook] = []
        self._handlers: dict[T, Handler] = {}
        self._handshaking = 0
        self._names = itertools.count()
        self._supervisor: Supervisor | None = None
        self._stop = trio.Event()
        # Set once run() has closed everything.
        self.stopped = trio.Event()
        self._connection_changed = trio.Event()
        for api in apis:
            self.register_api(api)

    def __repr__(self) -> str:
        return f"<PeerNode {self.config.node_type.name} {self.node_id.hex()[:8]} port={self.port}>"

    # -- handlers ------------------------------------------------------------------------

    def register_api(self, api: object) -> None:
        """Register every method of ``api`` named after a message type as that type's handler.

        A handler is ``async def <message_name>(self, payload, peer: PeerConnection)`` and
        returns the reply to a request (or None). Two APIs may not handle the same type, and a
        handler must be for a type the routing table gives our role (a local bug otherwise:
        its messages would be refused before they reach it).
        """
        for mtype in T:
            method = getattr(api, mtype.name, None)
            if method is None or not callable(method):
                continue
            if mtype in self._handlers:
                raise ValueError(f"two handlers for {mtype.name}")
            if mtype not in self._routed:
                raise ValueError(
                    f"{type(api).__name__}.{mtype.name}: the routing table "
                    f"(trionode.protocols.routing) does not route {mtype.name} to a "
                    f"{self.config.node_type.name.lower()}"
                )
            self._handlers[mtype] = method

    def _lookup(self, mtype: T) -> Handler | None:
        return self._handlers.get(mtype)

    # -- lifecycle -------------------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[PeerNode] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen and serve until :meth:`stop`; reports the node (``node.port`` is bound)."""
        supervisor = Supervisor(
            f"peers-{self.config.node_type.name.lower()}",
            shutdown_timeout=self.limits.close_timeout + 1.0,
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor.run)
            self._supervisor = supervisor
            try:
                await supervisor.start_child("loop-lag", self.loop_lag.run)
                await supervisor.start_child("refusal-log", self._refusal_log)
                serve = functools.partial(self.transport.serve, self._on_inbound, admit=self._admit)
                self.port = await supervisor.start_child(
                    "listener", serve, self.config.host, self.config.port
                )
                logger.info(
                    "%s node %s listening on port %d",
                    self.config.node_type.name.lower(),
                    self.node_id.hex()[:8],
                    self.port,
                )
                task_status.started(self)
                await self._stop.wait()
                await self._close_all()
            finally:
                with trio.CancelScope(shield=True):
                    await supervisor.shutdown()
                self.stopped.set()

    async def _close_all(self) -> None:
        """Close every connection from here, while the transports' reader tasks still run,
        so each peer gets a clean websocket close (code 1001) instead of a cancelled socket."""
        logger.info("stopping: closing %d connections", len(self.connections))
        for conn in list(self.connections.values()):
            conn.close("node shutting down")
        with trio.move_on_after(self.limits.close_timeout + 1.0):
            while self.connections:
                await self.wait_connection_change()

    def stop(self) -> None:
        """Ask ``run()`` to close every connection and the listener, then return."""
        self._stop.set()

    async def _refusal_log(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """One summary line per interval for the refused connection attempts."""
        interval = self.limits.refusal_log_interval
        task_status.started()
        while True:
            await trio.sleep(interval)
            self.admission.log.flush(interval)

    async def start_service(
        self, name: str, fn: Callable[..., Awaitable[object]], *args: object
    ) -> Any:
        """Run ``fn(*args)`` as a permanent child of this node's supervisor (restarted with
        backoff if it fails; stopped before the listener)."""
        return await self._require_supervisor().start_child(
            name, fn, *args, policy=RestartPolicy.PERMANENT
        )

    def _require_supervisor(self) -> Supervisor:
        if self._supervisor is None or not self._supervisor.running:
            raise RuntimeError(f"{self!r} is not running")
        return self._supervisor

    # -- connections -----------------------------------------------------------------------

    def get_connections(
        self, node_type: NodeType | None = None, *, outbound: bool | None = None
    ) -> list[PeerConnection]:
        return [
            c
            for c in self.connections.values()
            if (node_type is None or c.node_type is node_type)
            and (outbound is None or c.outbound == outbound)
        ]

    @property
    def connection_event(self) -> trio.Event:
        """An event set at the next connect or disconnect (a fresh one after each). Take it
        before checking the state it guards, so no change slips in between."""
        return self._connection_changed

    async def wait_connection_change(self) -> None:
        """Return at the next connect or disconnect (an event barrier for tests and loops)."""
        await self._connection_changed.wait()

    async def connect(self, host: str, port: int) -> PeerConnection:
        """Dial ``host:port`` and return the connection once its handshake completed.

        The connection then runs as a temporary child until it ends. Raises DialError,
        HandshakeError / RemoteProtocolError (with the peer's fault), TransportClosed, or
        trio.TooSlowError (handshake deadline).
        """
        supervisor = self._require_supervisor()
        name = f"peer-{next(self._names)}-to-{host}:{port}"
        try:
            conn: PeerConnection = await supervisor.start_child(
                name, self._run_outbound, host, port, policy=RestartPolicy.TEMPORARY
            )
        except ChildStartFailed as exc:
            cause = exc.__cause__
            if isinstance(cause, Exception):
                raise cause from None
            raise DialError(f"cannot connect to {host}:{port}: {exc}") from exc
        return conn

    async def _run_outbound(
        self, host: str, port: int, *, task_status: trio.TaskStatus[PeerConnection]
    ) -> None:
        if self.bans.is_banned(host):
            raise DialError(f"{host} is banned")
        async with self.transport.connect(host, port) as stream:
            await self._run_connection(stream, task_status)

    async def _on_inbound(self, stream: PeerStream) -> None:
        """The transport's handler: run the connection as a temporary supervisor child."""
        done = trio.Event()

        async def connection() -> None:
            try:
                await self._run_connection(stream, None)
            finally:
                done.set()

        name = f"peer-{next(self._names)}-from-{stream.remote_host}:{stream.remote_port}"
        try:
            await self._require_supervisor().start_child(
                name, connection, policy=RestartPolicy.TEMPORARY
            )
        except RuntimeError:
            await stream.aclose("node shutting down", CLOSE_GOING_AWAY)
            return
        await done.wait()

    def _admit(self, host: str) -> SetupSlot | None:
        """Before TLS: refuse banned IPs, and connections beyond the set-up and inbound caps
        (per address, per group, in total); counted, and logged once per interval."""
        if self._stop.is_set():
            return None
        return self.admission.admit(host)

    async def _run_connection(
        self, stream: PeerStream, task_status: trio.TaskStatus[PeerConnection] | None
    ) -> None:
        """Handshake, register, serve, unregister, close; log the reason at WARNING.

        Failures before the handshake completed are raised for outbound connections (the
        dialer wants to know) and logged for inbound ones. Nothing a peer does escapes after.
        """
        conn = PeerConnection(stream, self.limits, decode_limiter=self._decode_limiter)
        reason = "node shutting down"
        code = CLOSE_GOING_AWAY
        registered = False
        level = logging.WARNING
        try:
            try:
                await self._handshake(conn)
                if stream.setup_slot is not None:
                    stream.setup_slot.release()  # set up: the slot is free for the next one
                self._register(conn)
                registered = True
            except (RemoteProtocolError, TransportClosed, trio.TooSlowError) as exc:
                reason, code = self._fault(conn, exc, during_handshake=True)
                if isinstance(exc, TransportClosed | DuplicateConnection | ConnectionLimitReached):
                    # The peer hung up before the handshake (a reachability probe, a port
                    # scan, a dialer shutting down), or we keep the connection we have, or
                    # have no room: nothing was dropped for a fault, so not a warning.
                    level = logging.INFO
                if task_status is not None:
                    raise
                return
            if task_status is not None:
                task_status.started(conn)
            assert conn.node_type is not None
            own, theirs = self.config.node_type, conn.node_type
            try:
                await conn.serve(
                    self._lookup,
                    accepted_from(own, theirs),
                    functools.partial(why_refused, own, theirs),
                )
                # We closed it (node shutdown, a replaced duplicate, done with an
                # introducer, over RPC): planned, not a fault.
                reason = conn.close_reason or "closed"
                code = CLOSE_GOING_AWAY if self._stop.is_set() else CLOSE_NORMAL
                level = logging.INFO
            except (
                RemoteProtocolError,
                TransportClosed,
                HandlerFailed,
                ConnectionClosedError,
                PeerUnresponsive,
            ) as exc:
                reason, code = self._fault(conn, exc, during_handshake=False)
        finally:
            # Close before unregistering: stop() waits for the table to empty before it
            # cancels connection tasks, and the close handshake needs the reader task alive.
            await stream.aclose(reason, code)
            logger.log(level, "disconnected %r: %s", conn, reason)
            if registered:
                self._unregister(conn)

    async def _handshake(self, conn: PeerConnection) -> None:
        # Inbound set-ups hold an admission slot (capped per address, group and in total);
        # this counter caps the rest (our dials, transports without admission).
        if conn.stream.setup_slot is None:
            if self._handshaking >= self.limits.max_concurrent_handshakes:
                raise HandshakeError(
                    f"{self._handshaking} handshakes already in progress", ban_seconds=0
                )
        self._handshaking += 1
        try:
            machine = HandshakeMachine(
                network_id=self.config.network_id,
                node_type=self.config.node_type,
                server_port=self.port or 0,
                software_version=self.config.software_version,
                local_node_id=self.node_id,
                remote_node_id=conn.node_id,
                accepted_node_types=self.config.accepted_node_types,
            )
            # One deadline for the whole set-up: TLS and the websocket upgrade count too.
            began = conn.stream.opened_at
            if began is None:
                began = trio.current_time()
            with trio.fail_at(began + self.limits.handshake_timeout):
                await conn.handshake(machine)
        finally:
            self._handshaking -= 1

    def _fault(
        self, conn: PeerConnection, exc: Exception, *, during_handshake: bool
    ) -> tuple[str, int]:
        """Turn why a connection ended into (reason, close code); ban if the peer is at fault."""
        stage = "handshake" if during_handshake else "connection"
        if isinstance(exc, trio.TooSlowError):
            return f"{stage} deadline of {self.limits.handshake_timeout:g} s passed", CLOSE_POLICY
        if isinstance(exc, DuplicateConnection | ConnectionLimitReached):
            return str(exc), CLOSE_POLICY
        if isinstance(exc, RemoteProtocolError):
            reason = f"protocol violation: {exc}"
            self.bans.ban(conn.host, exc.ban_seconds, reason)
            return reason, CLOSE_POLICY
        if isinstance(exc, TransportClosed):
            return f"peer closed ({exc.reason})", CLOSE_NORMAL
        if isinstance(exc, PeerUnresponsive):
            return str(exc), CLOSE_POLICY
        if isinstance(exc, HandlerFailed):
            logger.warning(
                "%r: handler for %s raised; closing this connection only",
                conn,
                exc.message_type,
                exc_info=exc.error,
            )
            return f"handler for {exc.message_type} failed: {exc.error!r}", CLOSE_POLICY
        return f"{exc}", CLOSE_NORMAL

    def _register(self, conn: PeerConnection) -> None:
        existing = self.connections.get(conn.node_id)
        if existing is not None:
            # Two nodes that dial each other at once end with two connections. Both sides keep
            # the one dialed by the lower node_id, so they agree without talking.
            if existing.outbound != conn.outbound:
                dialer = self.node_id if conn.outbound else conn.node_id
                if dialer == min(self.node_id, conn.node_id):
                    existing.close("replaced by a simultaneous connection")
                else:
                    raise DuplicateConnection(f"already connected to node {conn.node_id.hex()[:8]}")
            else:
                raise DuplicateConnection(f"already connected to node {conn.node_id.hex()[:8]}")
        if conn.outbound:
            if len(self.get_connections(outbound=True)) >= self.limits.max_outbound:
                raise ConnectionLimitReached(
                    f"{self.limits.max_outbound} outbound connections already"
                )
        else:
            refused = self.admission.inbound_refusal(conn.host)
            if refused is not None:
                self.admission.log.note(conn.host, refused)
                raise ConnectionLimitReached(f"no room: {refused}")
        self.connections[conn.node_id] = conn
        logger.info(
            "connected %r (%s)",
            conn,
            conn.peer_handshake.software_version if conn.peer_handshake else "",
        )
        self._notify(self.on_connect, conn)

    def _unregister(self, conn: PeerConnection) -> None:
        if self.connections.get(conn.node_id) is conn:
            del self.connections[conn.node_id]
        self._notify(self.on_disconnect, conn)

    def _notify(self, hooks: Iterable[ConnectionHook], conn: PeerConnection) -> None:
        for hook in hooks:
            try:
                hook(conn)
            except Exception:
                logger.exception("connection hook %r failed for %r", hook, conn)
        self._connection_changed.set()
        self._connection_changed = trio.Event()
