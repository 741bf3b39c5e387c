"""Real nodes on 127.0.0.1 port 0: the handshake, and each kind of misbehaviour ends only the
offending connection while the node goes on serving others.

Offenders connect from 127.0.0.2 (bans are by IP and loopback is not exempt), good peers from
127.0.0.1. Every wait is bounded by trio.fail_after.
"""

from __future__ import annotations

import hashlib
import logging
from pathlib import Path

import pytest
import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.errors import (
    ConnectionClosedError,
    DialError,
    HandshakeError,
    PeerErrorReply,
    RequestRefused,
    RequestTimeout,
    TransportClosed,
)
from trionode.peers.limits import PeerLimits
from trionode.peers.node import PeerNode
from trionode.peers.transport import PeerStream
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols import decode_message, make_message
from trionode.protocols.harvester_protocol_v1 import ChallengeResponse, NewChallenge
from trionode.protocols.peer_protocol import (
    PeerInfo,
    Peers,
    RequestAllHeaderHashes,
    RequestBlock,
    RequestPeers,
    RequestTransaction,
)
from trionode.protocols.shared_protocol import ErrorCode, HandshakeAck, NodeType
from trionode.testing.peers import PeerTestNet, handshake_bytes, send_payload
from trionode.wire import Message, bytes32, uint8, uint16

OFFENDER = "127.0.0.2"
SOME_PEER = PeerInfo("127.0.0.9", uint16(8444))


class TestAPI:
    """Handlers for the tests: one that answers, one that crashes, one that refuses."""

    async def request_peers(self, request: RequestPeers, peer: PeerConnection) -> Peers:
        return Peers([SOME_PEER])

    async def request_block(self, request: RequestBlock, peer: PeerConnection) -> None:
        raise RuntimeError("bug in the block handler")

    async def request_transaction(self, request: RequestTransaction, peer: PeerConnection) -> None:
        raise RequestRefused(ErrorCode.NOT_FOUND, "no such transaction")


@pytest.fixture
async def net(nursery: trio.Nursery, tmp_path: Path) -> PeerTestNet:
    return PeerTestNet(nursery, tmp_path)


async def assert_still_serves(net: PeerTestNet, node: PeerNode, name: str = "good") -> None:
    """A well-behaved peer from 127.0.0.1 can still connect and get answers."""
    good = net.nodes.get(name) or await net.node(name)
    with trio.fail_after(10):
        conn = await good.connect("127.0.0.1", node.port or 0)
        reply = await conn.request(RequestPeers())
    assert reply == Peers([SOME_PEER])


async def handshake_raw(stream: PeerStream) -> None:
    """Play a correct handshake on a raw stream."""
    with trio.fail_after(5):
        theirs = Message.from_bytes(await stream.receive())
        assert theirs.type == T.handshake
        await stream.send(handshake_bytes())
        ack = Message.from_bytes(await stream.receive())
        assert ack.type == T.handshake_ack
        await send_payload(stream, HandshakeAck())


async def receive_until_closed(stream: PeerStream) -> TransportClosed:
    with trio.fail_after(5), pytest.raises(TransportClosed) as info:
        while True:
            await stream.receive()
    return info.value


async def test_two_nodes_handshake(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    bob = await net.node("bob", node_type=NodeType.FARMER)
    with trio.fail_after(10):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        await net.wait_for(lambda: len(alice.connections) == 1)
    assert conn.node_id == alice.node_id and conn.node_type is NodeType.FULL_NODE
    assert conn.peer_info == PeerInfo("127.0.0.1", uint16(alice.port or 0))
    (back,) = alice.connections.values()
    assert back.node_id == bob.node_id and back.node_type is NodeType.FARMER and not back.outbound
    await net.stop_all()


async def test_wrong_network_id(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    other = bytes32(hashlib.sha256(b"another network").digest())
    mallory = await net.node("mallory", network_id=other, source=OFFENDER)
    with trio.fail_after(10), pytest.raises((HandshakeError, TransportClosed)):
        await mallory.connect("127.0.0.1", alice.port or 0)
    assert not alice.connections and alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_bad_protocol_version(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    async with net.raw("mallory", alice) as stream:
        with trio.fail_after(5):
            await stream.receive()  # alice's Handshake
            await stream.send(handshake_bytes(protocol_version="2.0"))
        closed = await receive_until_closed(stream)
    assert "protocol version" in closed.reason and closed.code == 1008
    assert not alice.connections
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_message_before_handshake(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    async with net.raw("mallory", alice) as stream:
        await send_payload(stream, RequestPeers(), msg_id=1)
        closed = await receive_until_closed(stream)
    assert "before the handshake" in closed.reason
    assert alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_ack_before_handshake_closes_at_once(net: PeerTestNet) -> None:
    """PROTOCOL.md: out of order before the handshake completes closes the connection at once."""
    alice = await net.node("alice", TestAPI())
    async with net.raw("mallory", alice) as stream:
        with trio.fail_after(5):
            await stream.receive()  # alice's Handshake
            await send_payload(stream, HandshakeAck())
        closed = await receive_until_closed(stream)
    assert "before the peer's Handshake" in closed.reason and closed.code == 1008
    assert not alice.connections and alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


@pytest.mark.parametrize("after_handshake", [False, True])
async def test_garbage_bytes(net: PeerTestNet, after_handshake: bool) -> None:
    alice = await net.node("alice", TestAPI())
    async with net.raw("mallory", alice) as stream:
        if after_handshake:
            await handshake_raw(stream)
            await net.wait_for(lambda: len(alice.connections) == 1)
        await stream.send(b"\x35\x01\xff\xff\xff\xff garbage")
        await receive_until_closed(stream)
    assert alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_garbage_instead_of_tls(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    with trio.fail_after(5):
        sock = await trio.open_tcp_stream("127.0.0.1", alice.port or 0, local_address=OFFENDER)
        async with sock:
            try:
                await sock.send_all(b"GET / HTTP/1.0\r\n\r\n" + bytes(range(256)))
                while await sock.receive_some(4096):
                    pass
            except trio.BrokenResourceError:
                pass  # reset by the node: closed all the same
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_oversized_for_its_type(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    async with net.raw("mallory", alice) as stream:
        await handshake_raw(stream)
        # request_peers is capped at 64 bytes; the envelope is checked before decoding.
        await stream.send(bytes(Message(uint8_(T.request_peers), uint16(1), b"\x00" * 200)))
        closed = await receive_until_closed(stream)
    assert "exceeds its cap" in closed.reason
    assert alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


@pytest.mark.parametrize("memory", [False, True], ids=["ws", "memory"])
async def test_oversized_for_the_transport(
    nursery: trio.Nursery, tmp_path: Path, memory: bool
) -> None:
    """A message above max_message_size: the transport closes with 1009, and since the peer
    broke our limit it is a protocol violation (MessageTooLarge): the peer is banned."""
    net = PeerTestNet(nursery, tmp_path, memory=memory)
    limits = PeerLimits(max_message_size=256 * 1024)
    alice = await net.node("alice", TestAPI(), limits=limits)
    async with net.raw("mallory", alice) as stream:
        await handshake_raw(stream)
        await stream.send(bytes(make_message(Peers([SOME_PEER] * 20_000))))
        closed = await receive_until_closed(stream)
        with trio.fail_after(5):
            await net.wait_for(lambda: not alice.connections)  # the ban comes before this
    assert closed.code == 1009
    assert alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


@pytest.mark.parametrize("memory", [False, True], ids=["ws", "memory"])
async def test_oversized_for_the_peer_is_not_the_peers_fault(
    nursery: trio.Nursery, tmp_path: Path, memory: bool
) -> None:
    """The other way round: the peer closes with 1009 because our message broke its (smaller)
    limit. That is not the peer's violation: no ban."""
    net = PeerTestNet(nursery, tmp_path, memory=memory)
    small = await net.node("small", limits=PeerLimits(max_message_size=256 * 1024))
    big = await net.node("big", TestAPI(), source=OFFENDER)
    with trio.fail_after(10):
        conn = await big.connect("127.0.0.1", small.port or 0)
        await net.wait_for(lambda: len(small.connections) == 1)
        with pytest.raises(ConnectionClosedError):
            await conn.send(Peers([SOME_PEER] * 20_000))
            await conn.closed.wait()
            await conn.send(Peers([]))
        await net.wait_for(lambda: not big.connections and not small.connections)
    assert small.bans.is_banned(OFFENDER)  # big broke small's limit
    assert not big.bans.is_banned("127.0.0.1")
    await net.stop_all()


async def test_reply_with_unknown_id(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    async with net.raw("mallory", alice) as stream:
        await handshake_raw(stream)
        await send_payload(stream, Peers([SOME_PEER]), msg_id=4242)
        closed = await receive_until_closed(stream)
    assert "answers no open request" in closed.reason
    assert alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_handler_that_raises(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    bob = await net.node("bob", source=OFFENDER)
    with trio.fail_after(10):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        with pytest.raises(ConnectionClosedError):
            await conn.request(RequestBlock(bytes32(bytes(32))))
        await net.wait_for(lambda: not alice.connections)
    # Our own bug is not the peer's fault: no ban.
    assert not alice.bans.is_banned(OFFENDER)
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_refused_request_gets_error_and_connection_stays(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    bob = await net.node("bob")
    with trio.fail_after(10):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        with pytest.raises(PeerErrorReply) as info:
            await conn.request(RequestTransaction(bytes32(bytes(32))))
        assert info.value.code == ErrorCode.NOT_FOUND
        # A type nobody handles: NOT_SUPPORTED, connection stays too.
        with pytest.raises(PeerErrorReply) as info:
            await conn.request(RequestAllHeaderHashes(bytes32(bytes(32))))
        assert info.value.code == ErrorCode.NOT_SUPPORTED
        assert await conn.request(RequestPeers()) == Peers([SOME_PEER])
    await net.stop_all()


async def test_late_reply_after_timeout_is_not_a_violation(net: PeerTestNet) -> None:
    alice = await net.node("alice")
    async with net.raw("mallory", alice, source="127.0.0.1") as stream:
        await handshake_raw(stream)
        with trio.fail_after(5):
            await net.wait_for(lambda: len(alice.connections) == 1)
        (conn,) = alice.connections.values()
        with trio.fail_after(5):
            with pytest.raises(RequestTimeout):
                await conn.request(RequestPeers(), reply_within=0.05)
            request = Message.from_bytes(await stream.receive())
            assert request.type == T.request_peers
            await send_payload(stream, Peers([]), msg_id=request.id)
            # The connection is still fine: a second request gets its answer.
            async with trio.open_nursery() as nursery:
                replies: list[object] = []

                async def ask() -> None:
                    replies.append(await conn.request(RequestPeers()))

                nursery.start_soon(ask)
                second = Message.from_bytes(await stream.receive())
                await send_payload(stream, Peers([SOME_PEER]), msg_id=second.id)
            assert replies == [Peers([SOME_PEER])]
    await net.stop_all()


async def test_duplicate_node_id_closed(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    async with net.raw("twin", alice, source="127.0.0.1") as first:
        await handshake_raw(first)
        await net.wait_for(lambda: len(alice.connections) == 1)
        async with net.raw("twin", alice, source="127.0.0.1") as second:
            await second.send(handshake_bytes())
            await send_payload(second, HandshakeAck())
            closed = await receive_until_closed(second)  # sees Handshake, ack, then the close
        assert "already connected" in closed.reason
        assert len(alice.connections) == 1
    assert not alice.bans.is_banned("127.0.0.1")
    await net.stop_all()


async def test_self_connection_refused(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    with trio.fail_after(10), pytest.raises((HandshakeError, TransportClosed)):
        await alice.connect("127.0.0.1", alice.port or 0)
    assert not alice.connections
    assert not alice.bans.is_banned("127.0.0.1")
    await net.stop_all()


async def test_ban_is_checked_before_tls(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    alice.bans.ban(OFFENDER, 600, "test")
    with trio.fail_after(5), pytest.raises(DialError):
        async with net.raw("mallory", alice):
            pass  # pragma: no cover
    # Raw TCP: the node closes before reading anything (no TLS ServerHello comes back).
    with trio.fail_after(5):
        sock = await trio.open_tcp_stream("127.0.0.1", alice.port or 0, local_address=OFFENDER)
        async with sock:
            try:
                assert await sock.receive_some(1024) == b""
            except trio.BrokenResourceError:
                pass
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_stop_closes_connections(net: PeerTestNet) -> None:
    alice = await net.node("alice", TestAPI())
    async with net.raw("peer", alice, source="127.0.0.1") as stream:
        await handshake_raw(stream)
        await net.wait_for(lambda: len(alice.connections) == 1)
        alice.stop()
        closed = await receive_until_closed(stream)
    assert closed.code == 1001


def uint8_(value: int) -> int:
    from trionode.wire import uint8

    return uint8(value)


_ = decode_message


async def test_handshake_deadline(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    async with net.raw("sleepy", alice) as stream:
        start = trio.current_time()
        await stream.receive()  # alice's Handshake; we never answer
        closed = await receive_until_closed_after(stream, 60)
        assert "deadline" in closed.reason
        assert trio.current_time() - start == pytest.approx(alice.limits.handshake_timeout, abs=0.5)
    await net.stop_all()


async def test_handshake_deadline_counts_tls(net: PeerTestNet) -> None:
    """A TCP client that never starts TLS is dropped by the same deadline as a silent handshake."""
    alice = await net.node("alice", TestAPI(), limits=PeerLimits(handshake_timeout=0.5))
    with trio.fail_after(10):
        sock = await trio.open_tcp_stream("127.0.0.1", alice.port or 0)
        async with sock:
            try:
                assert await sock.receive_some(1024) == b""  # closed without a word from us
            except trio.BrokenResourceError:
                pass
    await assert_still_serves(net, alice)
    await net.stop_all()


async def test_passive_peer_answering_pings_dropped_after_idle_timeout(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object, caplog: pytest.LogCaptureFixture
) -> None:
    """Handshake, then nothing: the pongs its websocket sends by itself do not keep it (seed 002:
    "even if heartbeats are being received"). Dropped 90 s after its last message, to the
    moment, with the reason logged at WARNING and no ban."""
    caplog.set_level(logging.INFO, logger="trionode.peers")
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    async with net.raw("passive", alice) as passive:
        await handshake_raw(passive)  # its last message: the ack
        start = trio.current_time()
        closed = await receive_until_closed_after(passive, 600)
        elapsed = trio.current_time() - start
    assert "no message for 90 s" in closed.reason
    assert elapsed == pytest.approx(alice.limits.idle_timeout, abs=0.01)
    assert alice.limits.idle_timeout == 90 and alice.limits.ping_interval == 30
    with trio.fail_after(5):
        await net.wait_for(lambda: not alice.connections)
    (record,) = _disconnect_records(caplog)
    assert record.levelno == logging.WARNING and "no message for 90 s" in record.getMessage()
    assert not alice.bans.is_banned(OFFENDER)
    await net.stop_all()


async def test_unresponsive_peer_dropped_when_its_pong_does_not_come(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    async with net.raw("frozen", alice, answer_pings=False) as frozen:
        await handshake_raw(frozen)
        start = trio.current_time()
        closed = await receive_until_closed_after(frozen, 600)
        elapsed = trio.current_time() - start
    assert "no pong within 30 s" in closed.reason
    # First ping after 30 s, given up 30 s later.
    assert elapsed == pytest.approx(2 * alice.limits.ping_interval, abs=0.01)
    assert not alice.bans.is_banned(OFFENDER)
    await net.stop_all()


async def test_peer_pings_keep_a_quiet_connection_until_they_stop(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    """A ping the peer initiates is a sign of life (trionode nodes ping each other); the idle
    clock runs from the last one."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    async with net.raw("pinger", alice) as pinger:
        await handshake_raw(pinger)
        for _ in range(10):  # 10 x 60 s, well past idle_timeout, no message at all
            await trio.sleep(60)
            await pinger.ping()
        assert len(alice.connections) == 1
        last_ping = trio.current_time()
        closed = await receive_until_closed_after(pinger, 600)
        assert "no message for 90 s" in closed.reason
        assert trio.current_time() - last_ping == pytest.approx(alice.limits.idle_timeout, abs=0.01)
    await net.stop_all()


async def test_messages_keep_a_connection(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice", TestAPI())
    async with net.raw("talker", alice, source="127.0.0.1") as talker:
        await handshake_raw(talker)
        for i in range(10):
            await trio.sleep(60)
            await send_payload(talker, RequestPeers(), msg_id=i)
            with trio.fail_after(1):
                assert Message.from_bytes(await talker.receive()).type == T.peers
        assert len(alice.connections) == 1
    await net.stop_all()


async def test_two_quiet_nodes_stay_connected(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    """No protocol traffic at all: the pings each node sends keep the link up on both sides."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    bob = await net.node("bob")
    conn = await bob.connect("127.0.0.1", alice.port or 0)
    await trio.sleep(10 * alice.limits.idle_timeout)  # virtual time
    assert len(alice.connections) == 1 and len(bob.connections) == 1
    assert bob.connections[alice.node_id] is conn and not conn.closed.is_set()
    await net.stop_all()


async def test_pongs_count_when_the_transport_cannot_see_peer_pings(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    """The fallback for a trio-websocket we cannot hook: answered pings count as hearing from
    the peer, so quiet links between nodes are not dropped."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    async with net.raw("passive", alice) as passive:
        await handshake_raw(passive)
        with trio.fail_after(5):
            await net.wait_for(lambda: len(alice.connections) == 1)
        (conn,) = alice.connections.values()
        conn.stream.sees_peer_pings = False
        await trio.sleep(10 * alice.limits.idle_timeout)
        assert alice.connections == {conn.node_id: conn}
    await net.stop_all()


QUICK_HEARTBEAT = PeerLimits(ping_interval=0.5, idle_timeout=1.5)


async def test_passive_websocket_client_dropped(net: PeerTestNet) -> None:
    """The real transport: a TLS websocket client whose library answers pings by itself, but
    which sends nothing after the handshake, is dropped after idle_timeout (short here)."""
    alice = await net.node("alice", limits=QUICK_HEARTBEAT)
    async with net.raw("passive", alice) as passive:
        await handshake_raw(passive)
        start = trio.current_time()
        closed = await receive_until_closed_after(passive, 10)
        assert trio.current_time() - start >= QUICK_HEARTBEAT.idle_timeout
    assert "no message for 1.5 s" in closed.reason
    await net.stop_all()


async def test_two_quiet_websocket_nodes_stay_connected(net: PeerTestNet) -> None:
    """The real transport: each node sees the other's pings (through trio-websocket), so a link
    without protocol traffic outlives idle_timeout."""
    # Real time (the real transport's pings): pings every 0.1 s against a 2 s idle limit, so
    # only a 1.9 s stall of the loaded machine could drop the link; it must outlive 1.5 limits.
    limits = PeerLimits(ping_interval=0.1, idle_timeout=2.0)
    alice = await net.node("alice", limits=limits)
    bob = await net.node("bob", limits=limits)
    with trio.fail_after(10):
        await bob.connect("127.0.0.1", alice.port or 0)
        await net.wait_for(lambda: len(alice.connections) == 1)
    await trio.sleep(1.5 * limits.idle_timeout)
    assert len(alice.connections) == 1 and len(bob.connections) == 1
    (back,) = alice.connections.values()
    assert back.stream.peer_pinged_at is not None
    await net.stop_all()


async def receive_until_closed_after(stream: PeerStream, seconds: float) -> TransportClosed:
    with trio.fail_after(seconds), pytest.raises(TransportClosed) as info:
        while True:
            await stream.receive()
    return info.value


def _disconnect_records(caplog: pytest.LogCaptureFixture) -> list[logging.LogRecord]:
    return [
        r
        for r in caplog.records
        if r.name == "trionode.peers.node" and r.getMessage().startswith("disconnected")
    ]


async def _wait_for_disconnect_record(caplog: pytest.LogCaptureFixture) -> None:
    # The log line follows the close handshake; nothing else signals it, so poll briefly.
    with trio.fail_after(5):
        while not _disconnect_records(caplog):  # noqa: ASYNC110
            await trio.sleep(0.01)


async def test_disconnect_reason_logged_at_warning(
    net: PeerTestNet, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO, logger="trionode.peers")
    alice = await net.node("alice", TestAPI())
    async with net.raw("mallory", alice) as stream:
        with trio.fail_after(5):
            await stream.receive()  # alice's Handshake
            await stream.send(handshake_bytes(protocol_version="2.0"))
        await receive_until_closed(stream)
    await _wait_for_disconnect_record(caplog)
    (record,) = _disconnect_records(caplog)
    assert record.levelno == logging.WARNING
    assert "protocol version" in record.getMessage()
    await net.stop_all()


async def test_peer_hanging_up_before_handshake_is_not_a_warning(
    net: PeerTestNet, caplog: pytest.LogCaptureFixture
) -> None:
    """An introducer's reachability probe opens and closes: the node notes it at INFO only."""
    caplog.set_level(logging.INFO, logger="trionode.peers")
    alice = await net.node("alice", TestAPI())
    async with net.raw("probe", alice) as stream:
        with trio.fail_after(5):
            await stream.receive()  # alice's Handshake
        await stream.aclose("reachability check")
    await _wait_for_disconnect_record(caplog)
    (record,) = _disconnect_records(caplog)
    assert record.levelno == logging.INFO
    assert "reachability check" in record.getMessage()
    await net.stop_all()


class LegacyHarvesterAPI:
    """Seed 000: a harvester answers NewChallenge with one ChallengeResponse per quality."""

    async def new_challenge(self, msg: NewChallenge, peer: PeerConnection) -> None:
        for quality in (b"\x01" * 32, b"\x02" * 32):
            await peer.send(ChallengeResponse(msg.challenge_hash, bytes32(quality), uint8(20)))


class LegacyFarmerAPI:
    def __init__(self) -> None:
        self.responses: list[ChallengeResponse] = []
        self.got_two = trio.Event()

    async def challenge_response(self, msg: ChallengeResponse, peer: PeerConnection) -> None:
        self.responses.append(msg)
        if len(self.responses) == 2:
            self.got_two.set()


async def test_new_challenge_is_an_announcement_answered_by_announcements(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    harvester = await net.node("harvester", LegacyHarvesterAPI(), node_type=NodeType.HARVESTER)
    farmer_api = LegacyFarmerAPI()
    farmer = await net.node("farmer", farmer_api, node_type=NodeType.FARMER)
    challenge = NewChallenge(bytes32(b"\x07" * 32))
    with trio.fail_after(10):
        conn = await farmer.connect("127.0.0.1", harvester.port or 0)
        with pytest.raises(ValueError, match="not a request"):
            await conn.request(challenge)
        await conn.send(challenge)
        await farmer_api.got_two.wait()
    assert [r.challenge_hash for r in farmer_api.responses] == [challenge.challenge_hash] * 2
    assert len(farmer.connections) == 1
    await net.stop_all()
