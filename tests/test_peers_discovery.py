"""Peer store, peer manager and introducer: full nodes find each other from one introducer."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
import trio

from trionode.peers.errors import ConnectionClosedError, PeerRequestError, RemoteProtocolError
from trionode.peers.full_node import FullNodePeers
from trionode.peers.introducer import Introducer
from trionode.peers.manager import PeerManagerConfig, address_group, is_good_peer
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.introducer_protocol import RequestPeersIntroducer
from trionode.protocols.peer_protocol import RequestPeers
from trionode.protocols.shared_protocol import NodeType
from trionode.storage.peer_store import PeerRecord, PeerStore
from trionode.testing.peers import TEST_NETWORK_ID, PeerTestNet


@pytest.fixture
async def stores(tmp_path: Path) -> AsyncIterator[list[PeerStore]]:
    opened: list[PeerStore] = []
    yield opened
    for store in opened:
        store.close()


async def test_peer_store_orders_and_samples(tmp_path: Path, stores: list[PeerStore]) -> None:
    store = PeerStore.open(tmp_path / "peers.sqlite")
    stores.append(store)
    now = time.time()
    await store.add_seen([("10.0.0.1", 8444), ("10.0.0.2", 8444), ("10.0.0.3", 8444)], now)
    await store.add_seen([("10.0.0.1", 8444), ("10.0.0.9", 0)], now + 1)  # port 0 ignored
    await store.mark_success("10.0.0.2", 8444, now + 2)
    await store.mark_failure("10.0.0.3", 8444)
    await store.mark_failure("10.0.0.3", 8444)
    order = [(r.host, r.failures) for r in await store.candidates()]
    assert order == [("10.0.0.2", 0), ("10.0.0.1", 0), ("10.0.0.3", 2)]
    assert len(await store.recent_sample(now + 0.5, 10)) == 2  # .1 seen again, .2 succeeded
    assert len(await store.recent_sample(0, 2)) == 2
    rec = await store.get("10.0.0.1", 8444)
    assert rec is not None and rec.last_seen == pytest.approx(now + 1)
    # It is a file: a second store sees the same rows.
    again = PeerStore.open(tmp_path / "peers.sqlite")
    stores.append(again)
    assert len(await again.candidates()) == 3


def test_address_groups() -> None:
    assert address_group("10.1.2.3") == address_group("10.1.200.9") != address_group("10.2.0.1")
    assert address_group("2001:db8::1") == address_group("2001:db8:0:1::2")


async def start_full_node(
    net: PeerTestNet, name: str, store: PeerStore, manager: PeerManagerConfig, nursery: trio.Nursery
) -> FullNodePeers:
    peers = FullNodePeers(
        PeerNodeConfig(TEST_NETWORK_ID, NodeType.FULL_NODE),
        net.transport(name),
        store,
        manager,
    )
    await nursery.start(peers.run)
    net.nodes[name] = peers.node
    return peers


async def test_three_full_nodes_discover_each_other_from_one_introducer(
    nursery: trio.Nursery, tmp_path: Path, stores: list[PeerStore]
) -> None:
    net = PeerTestNet(nursery, tmp_path)
    intro_node = PeerNode(
        PeerNodeConfig(TEST_NETWORK_ID, NodeType.INTRODUCER), net.transport("introducer")
    )
    introducer = Introducer(intro_node)
    await nursery.start(introducer.serve)
    net.nodes["introducer"] = intro_node
    manager = PeerManagerConfig(
        target_outbound=4,
        interval=0.2,
        introducer=("127.0.0.1", intro_node.port or 0),
        introducer_interval=0.2,
        backoff_initial=0.1,
    )
    nodes: list[FullNodePeers] = []
    for name in ("alice", "bob", "carol"):
        store = PeerStore.open(tmp_path / name / "peers.sqlite")
        stores.append(store)
        nodes.append(await start_full_node(net, name, store, manager, nursery))

    def everyone_connected() -> bool:
        for fn in nodes:
            ids = {c.node_id for c in fn.node.get_connections(NodeType.FULL_NODE)}
            if ids != {other.node.node_id for other in nodes if other is not fn}:
                return False
        return True

    with trio.fail_after(30):
        await net.wait_for(everyone_connected)
    # Each learnt the others' server addresses; the full nodes serve RequestPeers.
    # (Two nodes that dialled each other at once keep one of the two connections; the
    # request may land on the one being dropped: then ask again on the survivor.)
    for _ in range(5):
        with trio.fail_after(10):
            await net.wait_for(everyone_connected)
        conn = nodes[0].node.get_connections(NodeType.FULL_NODE)[0]
        try:
            reply = await conn.request(RequestPeers())
            break
        except ConnectionClosedError:
            continue
    assert {int(p.port) for p in reply.peer_list} >= {nodes[0].node.port}
    # The introducer knows all three and never hands a node its own address. The peer
    # manager's own introducer connection comes and goes (and the introducer vets each node
    # before listing it), so ask until the answer settles.
    expected = {nodes[1].node.port, nodes[2].node.port}

    async def ask_introducer() -> set[int]:
        existing = nodes[0].node.get_connections(NodeType.INTRODUCER)
        try:
            conn = (
                existing[0]
                if existing
                else await nodes[0].node.connect("127.0.0.1", intro_node.port or 0)
            )
            answer = await conn.request(RequestPeersIntroducer())
        except (PeerRequestError, RemoteProtocolError):
            return set()
        return {int(p.port) for p in answer.peer_list}

    ports: set[int] = set()
    with trio.move_on_after(20):
        while (ports := await ask_introducer()) != expected:  # noqa: ASYNC110 - polling a peer
            await trio.sleep(0.2)
    assert ports == expected
    await net.stop_all()


class CountingIntroducer(Introducer):
    """An introducer that records who asked it."""

    def __init__(self, node: PeerNode) -> None:
        super().__init__(node)
        self.asked: list[object] = []

    async def request_peers_introducer(self, request, peer):  # type: ignore[no-untyped-def]
        self.asked.append(peer)
        return await super().request_peers_introducer(request, peer)


async def start_counting_introducer(net: PeerTestNet, nursery: trio.Nursery) -> CountingIntroducer:
    intro_node = PeerNode(
        PeerNodeConfig(TEST_NETWORK_ID, NodeType.INTRODUCER), net.transport("introducer")
    )
    introducer = CountingIntroducer(intro_node)
    await nursery.start(introducer.serve)
    net.nodes["introducer"] = intro_node
    return introducer


def introducer_address(introducer: Introducer) -> tuple[str, int]:
    return ("127.0.0.1", introducer.node.port or 0)


async def test_introducer_not_asked_when_store_has_good_peers(
    nursery: trio.Nursery, tmp_path: Path, stores: list[PeerStore]
) -> None:
    """Connected to one good peer with a target of 8: the manager keeps looking for more in its
    store round after round, but does not ask the introducer."""
    net = PeerTestNet(nursery, tmp_path)
    introducer = await start_counting_introducer(net, nursery)
    alice_store = PeerStore.open(tmp_path / "alice.sqlite")
    bob_store = PeerStore.open(tmp_path / "bob.sqlite")
    stores += [alice_store, bob_store]
    alice = await start_full_node(
        net, "alice", alice_store, PeerManagerConfig(interval=0.05), nursery
    )
    bob = await start_full_node(
        net,
        "bob",
        bob_store,
        PeerManagerConfig(
            interval=0.05,
            target_outbound=8,
            bootstrap=(("127.0.0.1", alice.node.port or 0),),
            introducer=introducer_address(introducer),
            introducer_interval=0.05,
            backoff_initial=0.01,
        ),
        nursery,
    )
    with trio.fail_after(10):
        await net.wait_for(lambda: len(bob.node.get_connections(NodeType.FULL_NODE)) == 1)
        await bob.manager.wait_rounds(10)
    assert bob.manager.introducer_requests == 0
    assert introducer.asked == []
    assert len(bob.node.get_connections(NodeType.FULL_NODE)) == 1
    rec = await bob_store.get("127.0.0.1", alice.node.port or 0)
    assert rec is not None and rec.last_success > 0 and rec.failures == 0
    await net.stop_all()


async def test_introducer_not_asked_while_a_good_stored_peer_is_down(
    nursery: trio.Nursery, tmp_path: Path, stores: list[PeerStore]
) -> None:
    """A stored peer that worked before and failed once (now backing off) is still good."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    introducer = await start_counting_introducer(net, nursery)
    store = PeerStore.open(tmp_path / "bob.sqlite")
    stores.append(store)
    gone = ("127.0.0.1", 7)  # nobody listens there on the memory network
    await store.add_seen([gone], time.time())
    await store.mark_success(*gone, time.time())
    bob = await start_full_node(
        net,
        "bob",
        store,
        PeerManagerConfig(
            interval=0.05,
            introducer=introducer_address(introducer),
            introducer_interval=0.05,
            backoff_initial=1000.0,  # one failed dial, then it backs off for the whole test
        ),
        nursery,
    )
    with trio.fail_after(10):
        await bob.manager.wait_rounds(10)
    rec = await store.get(*gone)
    assert rec is not None and rec.failures == 1
    assert bob.manager.introducer_requests == 0 and introducer.asked == []
    await net.stop_all()


@pytest.mark.parametrize("history", ["never_worked", "failure_streak"])
async def test_introducer_asked_when_no_stored_peer_is_good(
    nursery: trio.Nursery, tmp_path: Path, stores: list[PeerStore], history: str
) -> None:
    net = PeerTestNet(nursery, tmp_path, memory=True)
    introducer = await start_counting_introducer(net, nursery)
    store = PeerStore.open(tmp_path / "bob.sqlite")
    stores.append(store)
    gone = ("127.0.0.1", 7)
    await store.add_seen([gone], time.time())
    if history == "failure_streak":
        await store.mark_success(*gone, time.time())
        for _ in range(PeerManagerConfig().good_peer_max_failures):
            await store.mark_failure(*gone)
    bob = await start_full_node(
        net,
        "bob",
        store,
        PeerManagerConfig(interval=0.05, introducer=introducer_address(introducer)),
        nursery,
    )
    with trio.fail_after(10):
        while not introducer.asked:  # noqa: ASYNC110 - the introducer's side has no event
            await bob.manager.wait_rounds(1)
    assert bob.manager.introducer_requests >= 1
    await net.stop_all()


def test_good_peer_rule() -> None:
    def rec(last_success: float, failures: int) -> PeerRecord:
        return PeerRecord("10.0.0.1", 8444, 1.0, 1.0, last_success, failures)

    assert is_good_peer(rec(5.0, 0), 3) and is_good_peer(rec(5.0, 2), 3)
    assert not is_good_peer(rec(5.0, 3), 3)
    assert not is_good_peer(rec(0.0, 0), 3)


async def test_node_below_target_asks_its_peers_again(
    nursery: trio.Nursery, tmp_path: Path, stores: list[PeerStore]
) -> None:
    """carol knows only alice, who knew nobody when carol first asked; bob joins alice later.
    With nothing left to dial, carol asks alice again and meets bob (no introducer here)."""
    net = PeerTestNet(nursery, tmp_path)

    def make_store(name: str) -> PeerStore:
        store = PeerStore.open(tmp_path / name / "peers.sqlite")
        stores.append(store)
        return store

    lonely = PeerManagerConfig(target_outbound=4, interval=0.2, backoff_initial=0.1)
    alice = await start_full_node(net, "alice", make_store("alice"), lonely, nursery)
    via_alice = PeerManagerConfig(
        target_outbound=4,
        interval=0.2,
        backoff_initial=0.1,
        bootstrap=(("127.0.0.1", alice.node.port or 0),),
    )
    carol = await start_full_node(net, "carol", make_store("carol"), via_alice, nursery)
    with trio.fail_after(10):
        await net.wait_for(lambda: len(carol.node.get_connections(NodeType.FULL_NODE)) == 1)
    bob = await start_full_node(net, "bob", make_store("bob"), via_alice, nursery)

    def carol_meets_bob() -> bool:
        ids = {c.node_id for c in carol.node.get_connections(NodeType.FULL_NODE)}
        return bob.node.node_id in ids

    with trio.fail_after(20):
        while not carol_meets_bob():  # noqa: ASYNC110 - the manager's rounds are the events
            await carol.manager.wait_rounds(1)
    assert carol.manager.exchanges >= 2  # once on connecting, then again below target
    await net.stop_all()
