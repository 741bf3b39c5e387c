"""Hostile peers against the peer layer, in-process (issue 10, attacks 5-7): the routing table and
size caps are applied before decoding, a connection never waits on itself, connection slots are
fair per address and group, the rate limiter and ban list work on trio's clock.

Nodes run on the in-memory transport under trio's MockClock (autojump) unless a test needs
real sockets; offenders come from 127.0.0.2 and later, good peers from 127.0.0.1.
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import pytest
import trio

from trionode.peers.admission import Admission, address_group
from trionode.peers.bans import BanList
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerErrorReply, RateLimitExceeded, TransportClosed
from trionode.peers.lag import LoopLagWatchdog
from trionode.peers.limits import PeerLimits, RateLimiter
from trionode.peers.transport import PeerStream
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.peer_protocol import (
    Peers,
    RequestBlock,
    RequestPeers,
    RequestTransaction,
    TransactionId,
)
from trionode.protocols.shared_protocol import Error, ErrorCode, HandshakeAck, NodeType
from trionode.testing.peers import PeerTestNet, handshake_bytes, send_payload
from trionode.wire import Message, bytes32, int16, uint8

OFFENDER = "127.0.0.2"


async def handshake_raw(stream: PeerStream, node_type: NodeType = NodeType.FULL_NODE) -> None:
    with trio.fail_after(5):
        theirs = Message.from_bytes(await stream.receive())
        assert theirs.type == T.handshake
        await stream.send(handshake_bytes(node_type=node_type))
        ack = Message.from_bytes(await stream.receive())
        assert ack.type == T.handshake_ack
        await send_payload(stream, HandshakeAck())


async def closed_reason(stream: PeerStream) -> str:
    with trio.fail_after(60), pytest.raises(TransportClosed) as info:
        while True:
            await stream.receive()
    return info.value.reason


class PeersAPI:
    async def request_peers(self, request: RequestPeers, peer: PeerConnection) -> Peers:
        return Peers([])


# -- cheap checks before expensive ones (attack 5) ------------------------------------------


@pytest.mark.parametrize(
    ("sender", "mtype", "reason"),
    [
        (NodeType.FULL_NODE, T.harvester_handshake, "harvester_handshake is not handled by a"),
        (NodeType.FULL_NODE, T.proof_of_time_finished, "takes it only from a timelord"),
        (NodeType.FARMER, T.block, "takes it only from a full_node"),
        (NodeType.FULL_NODE, T.header_signature, "takes it only from a farmer"),
    ],
)
async def test_unrouted_type_is_refused_before_decoding(
    nursery: trio.Nursery,
    tmp_path: Path,
    autojump_clock: object,
    sender: NodeType,
    mtype: T,
    reason: str,
) -> None:
    """The payload is junk that would not decode: the refusal names the routing rule, so the
    type was checked first. The sender is disconnected and banned."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice", PeersAPI())
    async with net.raw("mallory", alice) as stream:
        await handshake_raw(stream, sender)
        await stream.send(bytes(Message(uint8(mtype), None, b"\xff" * 16)))
        why = await closed_reason(stream)
    assert reason in why and "undecodable" not in why
    assert alice.bans.is_banned(OFFENDER)
    await net.stop_all()


async def test_routed_type_still_reaches_its_handler(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice", PeersAPI())
    bob = await net.node("bob")
    with trio.fail_after(10):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        assert await conn.request(RequestPeers()) == Peers([])
    await net.stop_all()


async def test_handler_for_an_unrouted_type_is_a_local_bug(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    with pytest.raises(ValueError, match="does not route request_peers to a farmer"):
        await net.node("farmer", PeersAPI(), node_type=NodeType.FARMER)


async def test_big_payload_decoded_off_the_loop(
    nursery: trio.Nursery, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A reply above decode_in_thread_bytes is decoded in a worker thread."""
    threads: list[int] = []
    real = trio.to_thread.run_sync

    async def spy(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
        threads.append(len(args[0]) if args else 0)
        return await real(fn, *args, **kwargs)

    monkeypatch.setattr(trio.to_thread, "run_sync", spy)
    net = PeerTestNet(nursery, tmp_path, memory=True)
    limits = PeerLimits(decode_in_thread_bytes=1000)
    alice = await net.node("alice", PeersAPI(), limits=limits)
    bob = await net.node("bob", limits=limits)

    class BigPeers:
        async def request_peers(self, request: RequestPeers, peer: PeerConnection) -> Peers:
            from trionode.protocols.peer_protocol import PeerInfo
            from trionode.wire import uint16

            return Peers([PeerInfo("127.0.0.9", uint16(8444))] * 200)

    alice._handlers[T.request_peers] = BigPeers().request_peers
    with trio.fail_after(10):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        reply = await conn.request(RequestPeers())
    assert len(reply.peer_list) == 200
    assert threads and max(threads) >= 1000
    await net.stop_all()


# -- a connection never waits on itself (attack 7) -----------------------------------------


class RelayAPI:
    """A full node's shape: a TransactionId makes it ask the same peer for the transaction."""

    def __init__(self, expect: int) -> None:
        self.fetched = 0
        self.expect = expect
        self.all_fetched = trio.Event()

    async def transaction_id(self, msg: TransactionId, peer: PeerConnection) -> None:
        try:
            await peer.request(RequestTransaction(msg.transaction_id))
        except PeerErrorReply:
            pass
        self.fetched += 1
        if self.fetched == self.expect:
            self.all_fetched.set()

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Error:
        return Error(int16(ErrorCode.NOT_FOUND), "no such block")


class SlowAnswerer:
    """The peer: answers RequestTransaction only when told to (a distant peer's delay)."""

    def __init__(self) -> None:
        self.asked = 0
        self.release = trio.Event()

    async def request_transaction(self, msg: RequestTransaction, peer: PeerConnection) -> Error:
        self.asked += 1
        await self.release.wait()
        return Error(int16(ErrorCode.NOT_FOUND), "gone")


@pytest.mark.parametrize("burst", [17, 60])
async def test_burst_of_announcements_does_not_wedge_the_connection(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object, burst: int
) -> None:
    """17 TransactionIds whose handlers all wait for the same peer's answers, then a
    RequestBlock: it is answered while every RequestTransaction is still unanswered (before:
    the read loop waited for a handler slot, and the RequestBlock after the 30 s timeout)."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    relay = RelayAPI(burst)
    alice = await net.node("alice", relay)
    answerer = SlowAnswerer()
    bob = await net.node("bob", answerer, source=OFFENDER)
    with trio.fail_after(300):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        start = trio.current_time()
        for i in range(burst):
            await conn.send(TransactionId(bytes32(i.to_bytes(32, "big"))))
        with pytest.raises(PeerErrorReply, match="no such block"):
            await conn.request(RequestBlock(bytes32(b"\x01" * 32)))
        answered_after = trio.current_time() - start
        assert not answerer.release.is_set() and relay.fetched == 0
        assert answered_after < alice.limits.request_timeout
        # then the answers come, and every TransactionId's handler finishes
        answerer.release.set()
        await relay.all_fetched.wait()
    assert answerer.asked == burst
    assert trio.current_time() - start < alice.limits.request_timeout
    assert len(alice.connections) == 1
    await net.stop_all()


async def test_full_queue_drops_announcements_and_refuses_requests(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    """With every handler busy and the queue full, the read loop still reads: announcements
    are dropped (counted), requests answered Error(RATE_LIMITED), replies still matched."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    gate = trio.Event()

    class Stuck:
        async def transaction_id(self, msg: TransactionId, peer: PeerConnection) -> None:
            await gate.wait()

    limits = PeerLimits(max_concurrent_handlers=2, max_queued_messages=3)
    alice = await net.node("alice", Stuck(), limits=limits)
    bob = await net.node("bob", PeersAPI(), source=OFFENDER)
    with trio.fail_after(60):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        for i in range(10):
            await conn.send(TransactionId(bytes32(i.to_bytes(32, "big"))))
        (theirs,) = alice.connections.values()
        # alice asks bob something: the reply is read while the queue is full (the memory
        # transport keeps order, so all 10 announcements were read before it)
        assert await theirs.request(RequestPeers()) == Peers([])
        assert theirs.queued[0] == 3 and theirs.dropped == 5
        gate.set()
    assert theirs.dropped == 5
    await net.stop_all()


# -- fair connection slots (attack 6) --------------------------------------------------------


def test_address_groups() -> None:
    assert address_group("10.1.2.3") == address_group("10.1.2.200") == "10.1.2.0/24"
    assert address_group("10.1.3.3") != address_group("10.1.2.3")
    assert address_group("::ffff:10.1.2.3") == "10.1.2.0/24"
    assert address_group("2001:db8:1:2::1") == address_group("2001:db8:1:ffff::9")
    # every loopback address is a group of its own
    assert address_group("127.0.0.1") != address_group("127.0.0.2")
    assert address_group("::1") == "::1"


def test_setup_slots_per_address_group_and_total() -> None:
    limits = PeerLimits(
        max_concurrent_handshakes=6, max_handshakes_per_address=2, max_handshakes_per_group=3
    )
    admission = Admission(limits, is_banned=lambda h: h == "10.9.9.9", inbound_hosts=list)
    a = [admission.admit("10.0.0.1") for _ in range(3)]
    assert a[0] and a[1] and a[2] is None  # per address
    assert admission.admit("10.0.0.2") is not None
    assert admission.admit("10.0.0.3") is None  # per group (10.0.0.0/24 holds 3)
    assert admission.admit("10.9.9.9") is None  # banned
    b = [admission.admit(f"10.0.{i}.1") for i in range(1, 5)]
    assert b[:3] == [s for s in b[:3] if s] and b[3] is None  # total 6
    assert a[0] is not None
    a[0].release("set-up failed (TooSlowError)")
    a[0].release()  # idempotent
    assert admission.setups == 5
    assert admission.admit("10.0.0.1") is not None
    assert admission.log.total == 5  # 4 refusals + 1 failed set-up


def test_inbound_caps_per_address_and_group() -> None:
    hosts = ["10.0.0.1", "10.0.0.1", "10.0.0.2"]
    limits = PeerLimits(max_inbound_per_address=2, max_inbound_per_group=3, max_inbound=5)
    admission = Admission(limits, is_banned=lambda h: False, inbound_hosts=lambda: hosts)
    assert admission.inbound_refusal("10.0.0.1") == "inbound per address"
    assert admission.inbound_refusal("10.0.0.7") == "inbound per group"
    assert admission.inbound_refusal("10.0.1.7") is None
    hosts += ["10.0.5.5", "10.0.6.6"]
    assert admission.inbound_refusal("10.0.1.7") == "inbound in total"


def test_refusals_are_summed_up_in_one_line(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="trionode.peers")
    limits = PeerLimits(max_handshakes_per_address=1)
    admission = Admission(limits, is_banned=lambda h: False, inbound_hosts=list)
    assert admission.admit("127.0.0.1") is not None
    for _ in range(500):
        assert admission.admit("127.0.0.1") is None
    admission.log.flush(10.0)
    admission.log.flush(10.0)  # nothing new: no line
    lines = [r for r in caplog.records if "refused" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelno == logging.WARNING
    assert "refused 500 connection attempts" in lines[0].getMessage()
    assert "127.0.0.1 (500)" in lines[0].getMessage()


async def test_idle_sockets_from_one_address_do_not_starve_another(
    nursery: trio.Nursery, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Real sockets: 60 TCP connections from 127.0.0.2 that never start TLS hold at most
    max_handshakes_per_address of the 8 set-up slots; a node dialing from 127.0.0.3 gets in."""
    caplog.set_level(logging.INFO, logger="trionode")
    net = PeerTestNet(nursery, tmp_path)
    # 60 sockets would fill a total of 8 set-up slots many times over
    alice = await net.node("alice", PeersAPI(), limits=PeerLimits(max_concurrent_handshakes=8))
    socks = []
    for _ in range(60):
        socks.append(
            await trio.open_tcp_stream("127.0.0.1", alice.port or 0, local_address=OFFENDER)
        )
    await trio.testing.wait_all_tasks_blocked()
    assert alice.admission.setups <= alice.limits.max_handshakes_per_address
    bob = await net.node("bob", source="127.0.0.3")
    with trio.fail_after(10):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        assert await conn.request(RequestPeers()) == Peers([])
    assert alice.admission.log.total >= 60 - alice.limits.max_handshakes_per_address
    refusal_lines = [r for r in caplog.records if "refus" in r.getMessage()]
    assert len(refusal_lines) <= 1
    for sock in socks:
        await sock.aclose()
    await net.stop_all()


# -- the rate limiter and the ban list, on trio's clock ------------------------------------


async def test_rate_limiter_thresholds_and_window_reset(
    autojump_clock: trio.testing.MockClock,
) -> None:
    limits = PeerLimits(rate_limits={T.request_peers: (3, 60.0)}, default_rate=(5, 10.0))
    rates = RateLimiter(limits)
    start = trio.current_time()
    for _ in range(3):
        rates.check(T.request_peers, trio.current_time())
    with pytest.raises(RateLimitExceeded, match="more than 3 request_peers messages in 60 s"):
        rates.check(T.request_peers, trio.current_time())
    await trio.sleep(59.0)
    with pytest.raises(RateLimitExceeded):  # same window still
        rates.check(T.request_peers, trio.current_time())
    await trio.sleep_until(start + 60.0)
    rates.check(T.request_peers, trio.current_time())  # a new window
    # an unlisted type falls back to the default rate, counted on its own
    for _ in range(5):
        rates.check(T.block, trio.current_time())
    with pytest.raises(RateLimitExceeded, match="more than 5 block"):
        rates.check(T.block, trio.current_time())


async def test_ban_list_expiry_bound_and_eviction(autojump_clock: trio.testing.MockClock) -> None:
    bans = BanList(trio.current_time, max_entries=3)
    bans.ban("10.0.0.1", 100, "a")
    bans.ban("10.0.0.2", 300, "b")
    bans.ban("10.0.0.3", 200, "c")
    bans.ban("10.0.0.1", 50, "shorter")  # never shortens
    assert len(bans) == 3
    bans.ban("10.0.0.4", 400, "d")  # full: the ban ending soonest (10.0.0.1) makes room
    assert len(bans) == 3
    assert not bans.is_banned("10.0.0.1") and bans.is_banned("10.0.0.4")
    await trio.sleep(250)
    assert not bans.is_banned("10.0.0.3") and bans.is_banned("10.0.0.2")
    await trio.sleep(100)
    assert not bans.is_banned("10.0.0.2") and bans.is_banned("10.0.0.4")
    await trio.sleep(50)
    assert not bans.is_banned("10.0.0.4")


async def test_rate_abuse_bans_until_expiry_through_a_node(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice", PeersAPI())
    async with net.raw("mallory", alice) as stream:
        await handshake_raw(stream)
        limit = alice.limits.rate_limits[T.request_peers][0]
        for i in range(limit + 1):
            await send_payload(stream, RequestPeers(), msg_id=i)
        why = await closed_reason(stream)
    assert "more than 10 request_peers" in why
    assert alice.bans.is_banned(OFFENDER)
    bob = await net.node("bob", source=OFFENDER)
    with trio.fail_after(5), pytest.raises(Exception, match="closed by peer before setup"):
        await bob.connect("127.0.0.1", alice.port or 0)
    await trio.sleep(600.0)  # BAN_RATE_ABUSE_SECONDS
    assert not alice.bans.is_banned(OFFENDER)
    with trio.fail_after(5):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        assert await conn.request(RequestPeers()) == Peers([])
    await net.stop_all()


async def test_loopback_exemption_at_runtime(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    """exempt_loopback_from_bans: a loopback peer breaking the rules is dropped, not banned."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice", PeersAPI(), exempt_loopback_from_bans=True)
    async with net.raw("mallory", alice) as stream:
        await handshake_raw(stream)
        await stream.send(bytes(Message(uint8(T.harvester_handshake), None, b"\x00" * 8)))
        why = await closed_reason(stream)
    assert "not handled by a full_node" in why
    assert not alice.bans.is_banned(OFFENDER) and len(alice.bans) == 0
    bob = await net.node("bob", source=OFFENDER)
    with trio.fail_after(5):
        await bob.connect("127.0.0.1", alice.port or 0)
    await net.stop_all()


# -- planned disconnects at INFO, faults at WARNING ----------------------------------------


async def test_planned_close_logs_info_fault_logs_warning(
    nursery: trio.Nursery,
    tmp_path: Path,
    autojump_clock: object,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO, logger="trionode.peers")
    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice", PeersAPI())
    bob = await net.node("bob")
    with trio.fail_after(10):
        conn = await bob.connect("127.0.0.1", alice.port or 0)
        conn.close("got peers from the introducer")
        await net.wait_for(lambda: not alice.connections and not bob.connections)
    async with net.raw("mallory", alice) as stream:
        await handshake_raw(stream)
        await stream.send(bytes(Message(uint8(T.harvester_handshake), None, b"")))
        await closed_reason(stream)
    records = [r for r in caplog.records if r.getMessage().startswith("disconnected")]
    # our side closed it as planned: INFO (the other side sees a peer going away: WARNING)
    planned = [
        r
        for r in records
        if "got peers from the introducer" in r.getMessage() and "peer closed" not in r.getMessage()
    ]
    assert len(planned) == 1 and planned[0].levelno == logging.INFO
    faults = [r for r in records if "not handled" in r.getMessage()]
    assert faults and all(r.levelno == logging.WARNING for r in faults)
    await net.stop_all()


# -- the event-loop lag watchdog -------------------------------------------------------------


async def test_lag_watchdog_sees_a_blocked_loop() -> None:
    watchdog = LoopLagWatchdog(interval=0.01, window=60.0)
    async with trio.open_nursery() as nursery:
        await nursery.start(watchdog.run)
        await trio.sleep(0.05)
        time.sleep(0.3)  # noqa: ASYNC251 - blocking the loop is the point
        await trio.sleep(0.05)  # the watchdog wakes (late) and records it
        nursery.cancel_scope.cancel()
    # a lower bound: the loop was blocked at least 0.3 s (load can only make it later)
    assert watchdog.max_recent >= 0.25
    assert watchdog.as_json()["max"] >= 0.25


def test_lag_window_keeps_a_spike_for_one_more_window() -> None:
    watchdog = LoopLagWatchdog(window=10.0)
    watchdog.record(2.0, 1.0)
    watchdog.record(0.0, 5.0)
    assert watchdog.current == 0.0 and watchdog.max_recent == 2.0
    watchdog.record(0.01, 11.0)  # next window: the spike is still shown
    assert watchdog.max_recent == 2.0
    watchdog.record(0.01, 21.5)  # two windows on: gone
    assert watchdog.max_recent == pytest.approx(0.01)


async def test_lag_is_exported_as_a_metric_and_shown(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    from trionode.cli.rpc import format_status
    from trionode.rpc.metrics import RoleMetrics

    net = PeerTestNet(nursery, tmp_path, memory=True)
    alice = await net.node("alice")
    alice.loop_lag.record(0.125, trio.current_time())
    metrics = RoleMetrics("full_node")
    metrics.peer_gauges([alice])
    text = metrics.render().decode()
    assert 'trionode_event_loop_lag_seconds{stat="max"} 0.125' in text
    assert 'trionode_event_loop_lag_seconds{stat="current"} 0.125' in text
    state = {
        "network": "sim",
        "height": None,
        "tips": [],
        "sync": {"syncing": False},
        "peers": {},
        "event_loop_lag": alice.loop_lag.as_json(),
    }
    assert "loop lag    125.0 ms now, 125.0 ms max recently" in format_status("n", 1, state, [])
    await net.stop_all()


async def test_a_socket_that_never_starts_tls_holds_its_slot_only_until_the_deadline(
    nursery: trio.Nursery, tmp_path: Path, autojump_clock: object
) -> None:
    net = PeerTestNet(nursery, tmp_path)
    alice = await net.node("alice", PeersAPI(), limits=PeerLimits(handshake_timeout=10.0))
    sock = await trio.open_tcp_stream("127.0.0.1", alice.port or 0, local_address=OFFENDER)
    await trio.testing.wait_all_tasks_blocked()
    assert alice.admission.setups == 1
    await trio.sleep(9.5)
    assert alice.admission.setups == 1
    await trio.sleep(1.0)
    await trio.testing.wait_all_tasks_blocked()
    assert alice.admission.setups == 0
    assert alice.admission.log.total == 1  # counted as a failed set-up, not logged alone
    await sock.aclose()
    await net.stop_all()
