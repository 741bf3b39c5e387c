"""One conformance test suite, run against the websocket and the in-memory transport."""

from __future__ import annotations

import gc
import logging
import warnings
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace

import pytest
import trio

from trionode.peers.errors import DialError, MessageTooLarge, TransportClosed
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.peers.transport import AdmitFn, PeerStream, Transport
from trionode.peers.ws_transport import WebSocketPeerStream
from trionode.testing.memory_transport import MemoryNetwork, MemoryTransport
from trionode.wire import bytes32

MiB = 1024 * 1024


@dataclass
class Pair:
    """A listening server transport and a client transport, plus their identities."""

    server: Transport
    client: Transport
    nursery: trio.Nursery
    port: int = 0
    accepted: trio.MemoryReceiveChannel[PeerStream] | None = None
    # How each server-side stream's receive ended, in order.
    endings: list[Exception] = field(default_factory=list)
    ended: trio.Event = field(default_factory=trio.Event)

    async def listen(self, admit: AdmitFn | None = None, handler_raises: bool = False) -> None:
        send, receive = trio.open_memory_channel[PeerStream](10)
        self.accepted = receive

        async def handler(stream: PeerStream) -> None:
            await send.send(stream)
            if handler_raises:
                raise RuntimeError("handler bug")
            # Keep the stream open until the other side closes it.
            try:
                while True:
                    data = await stream.receive()
                    await stream.send(b"echo:" + data)
            except (TransportClosed, MessageTooLarge) as exc:
                self.endings.append(exc)
                self.ended.set()

        kwargs = {} if admit is None else {"admit": admit}
        self.port = await self.nursery.start(
            lambda task_status: self.server.serve(
                handler, "127.0.0.1", 0, task_status=task_status, **kwargs
            )
        )

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[PeerStream]:
        async with self.client.connect("127.0.0.1", self.port) as stream:
            yield stream

    async def next_accepted(self) -> PeerStream:
        assert self.accepted is not None
        with trio.fail_after(5):
            return await self.accepted.receive()


def make_pair(
    kind: str, tmp: Path, nursery: trio.Nursery, max_size: int
) -> tuple[Pair, NodeIdentity, NodeIdentity]:
    a = NodeIdentity.public(tmp / "server", "full_node")
    b = NodeIdentity.public(tmp / "client", "full_node")
    limits = PeerLimits(max_message_size=max_size)
    if kind == "ws":
        pair = Pair(
            make_websocket_transport(a, limits), make_websocket_transport(b, limits), nursery
        )
    else:
        net = MemoryNetwork()
        pair = Pair(
            MemoryTransport(net, local_node_id=a.node_id, max_message_size=max_size),
            MemoryTransport(net, local_node_id=b.node_id, max_message_size=max_size),
            nursery,
        )
    return pair, a, b


@pytest.fixture(params=["ws", "memory"])
def kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


async def test_node_ids_known_on_both_sides(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pair, a, b = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen()
    assert pair.port > 0
    async with pair.connect() as client:
        server = await pair.next_accepted()
        assert client.remote_node_id == a.node_id and client.outbound
        assert server.remote_node_id == b.node_id and not server.outbound
        assert server.remote_host == "127.0.0.1"
    nursery.cancel_scope.cancel()


async def test_messages_in_order_both_ways(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen()
    async with pair.connect() as client:
        with trio.fail_after(10):
            for i in range(10):
                await client.send(b"m%d" % i)
            for i in range(10):
                assert await client.receive() == b"echo:m%d" % i
            await client.ping()
    nursery.cancel_scope.cancel()


async def test_peer_pings_are_seen_our_pongs_are_not(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    """A stream records when the peer pinged it (a sign of life); the pong answering its own
    ping does not count. For the websocket this checks the hook into trio-websocket."""
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen()
    async with pair.connect() as client:
        server = await pair.next_accepted()
        assert client.sees_peer_pings and server.sees_peer_pings
        assert client.peer_pinged_at is None and server.peer_pinged_at is None
        with trio.fail_after(5):
            await client.ping()
        assert server.peer_pinged_at is not None and client.peer_pinged_at is None
        first = server.peer_pinged_at
        with trio.fail_after(5):
            await trio.sleep(0.01)
            await client.ping()
            await server.ping()
        assert server.peer_pinged_at > first
        assert client.peer_pinged_at is not None
    nursery.cancel_scope.cancel()


async def test_more_than_one_mib_is_allowed(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    # The library default (1 MiB) must not apply: the node's limit does.
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen()
    big = bytes(range(256)) * (6 * 1024)  # 1.5 MiB
    async with pair.connect() as client:
        with trio.fail_after(10):
            await client.send(big)
            assert await client.receive() == b"echo:" + big
    nursery.cancel_scope.cancel()


async def test_oversized_message_closes_with_1009(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pair, _, _ = make_pair(kind, tmp_path, nursery, 64 * 1024)
    await pair.listen()
    async with pair.connect() as client:
        with trio.fail_after(10):
            await client.send(b"x" * (64 * 1024 + 1))
            with pytest.raises(TransportClosed) as info:
                while True:
                    await client.receive()
            assert info.value.code == 1009
            assert client.closed
            # The receiver knows it closed because of the peer's message: a violation.
            await pair.ended.wait()
        (ending,) = pair.endings
        assert isinstance(ending, MessageTooLarge) and "65536" in str(ending)
    nursery.cancel_scope.cancel()


async def test_peer_closing_with_1009_is_not_our_limit(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    """A 1009 close from the other side is a plain close here, not a MessageTooLarge."""
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen()
    async with pair.connect() as client:
        server = await pair.next_accepted()
        await server.aclose("too big for me", 1009)
        with trio.fail_after(5), pytest.raises(TransportClosed) as info:
            await client.receive()
        assert info.value.code == 1009
    nursery.cancel_scope.cancel()


async def test_close_reason_reaches_the_other_side(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen()
    async with pair.connect() as client:
        server = await pair.next_accepted()
        await server.aclose("go away", 1008)
        with trio.fail_after(5), pytest.raises(TransportClosed) as info:
            await client.receive()
        assert "go away" in info.value.reason and info.value.code == 1008
        with pytest.raises(TransportClosed):
            await client.send(b"after close")
        await client.aclose()  # idempotent
        await client.aclose()
    nursery.cancel_scope.cancel()


async def test_admit_refuses_before_anything(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    asked: list[str] = []

    def admit(host: str) -> bool:
        asked.append(host)
        return False

    await pair.listen(admit=admit)
    with trio.fail_after(5), pytest.raises(DialError):
        async with pair.connect():
            pass  # pragma: no cover
    assert asked == ["127.0.0.1"]
    nursery.cancel_scope.cancel()


async def test_handler_error_does_not_reach_listener(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen(handler_raises=True)
    for _ in range(2):
        async with pair.connect() as client:
            await pair.next_accepted()
            with trio.fail_after(5), pytest.raises(TransportClosed):
                await client.receive()
    nursery.cancel_scope.cancel()


async def test_connect_to_nothing_is_a_dial_error(
    kind: str, tmp_path: Path, nursery: trio.Nursery
) -> None:
    pair, _, _ = make_pair(kind, tmp_path, nursery, 2 * MiB)
    await pair.listen()
    port = pair.port
    nursery.cancel_scope.cancel()
    await trio.lowlevel.checkpoint()
    pair.port = port
    with trio.fail_after(5), pytest.raises(DialError):
        async with pair.connect():
            pass  # pragma: no cover


async def test_dial_cancelled_mid_tls_closes_its_socket(tmp_path: Path) -> None:
    """A node shutting down while a dial waits for the TLS reply must not leak the socket."""
    identity = NodeIdentity.public(tmp_path / "client", "full_node")
    transport = make_websocket_transport(identity, PeerLimits())
    listeners = await trio.open_tcp_listeners(0, host="127.0.0.1")
    port = listeners[0].socket.getsockname()[1]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        async with listeners[0]:
            async with trio.open_nursery() as nursery:

                async def silent_server() -> None:
                    # Accept and never speak: the client sits in its TLS handshake.
                    async with await listeners[0].accept():
                        await trio.sleep_forever()

                nursery.start_soon(silent_server)
                with trio.move_on_after(0.3) as scope:
                    async with transport.connect("127.0.0.1", port):
                        pass  # pragma: no cover
                assert scope.cancelled_caught
                nursery.cancel_scope.cancel()
        gc.collect()
    leaks = [w for w in caught if issubclass(w.category, ResourceWarning)]
    assert not leaks, [str(w.message) for w in leaks]


def test_websocket_without_frame_hook_degrades(caplog: pytest.LogCaptureFixture) -> None:
    """A trio-websocket without the wsproto connection we hook into: the stream says it cannot
    see the peer's pings (the connection then counts pongs) and notes it at DEBUG."""
    caplog.set_level(logging.DEBUG, logger="trionode.peers.ws_transport")
    stream = WebSocketPeerStream(
        SimpleNamespace(),  # type: ignore[arg-type]
        remote_node_id=bytes32(bytes(32)),
        remote_host="127.0.0.1",
        remote_port=1,
        outbound=True,
        close_timeout=1.0,
    )
    assert not stream.sees_peer_pings and stream.peer_pinged_at is None
    assert any("cannot observe" in r.getMessage() for r in caplog.records)
