"""Gossip between real full nodes: an UnfinishedBlock that extends a tip is held and relayed,
one that does not is ignored, a NewProofOfTime finishes it everywhere, duplicates are dropped;
and the bounded memories behind those rules."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import trio

from trionode.peers.connection import PeerConnection
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import Block, NewProofOfTime, RequestBlock, UnfinishedBlock
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.full_node.api import FullNodeAPI
from trionode.roles.full_node.gossip import GossipState
from trionode.sync.pools import OrphanPool, SeenCache
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import NodeHandle, TestNetwork

DEADLINE = 30


async def wait_until(condition: Callable[[], bool]) -> None:
    """Re-check ``condition`` every 20 ms (callers apply the deadline). Holding an unfinished
    block has no event to wait on; a short poll keeps the node code free of test hooks."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(0.02)


async def wait_connections(handle: NodeHandle, n: int) -> None:
    node = handle.service.node
    assert node is not None
    while len(node.get_connections()) < n:
        await node.wait_connection_change()


def link(frm: NodeHandle, to: NodeHandle) -> PeerConnection:
    assert frm.service.node is not None
    (conn,) = [
        c
        for c in frm.service.node.get_connections(NodeType.FULL_NODE)
        if c.node_id == to.service.node.node_id  # type: ignore[union-attr]
    ]
    return conn


def held(handle: NodeHandle, block: FullBlock) -> bool:
    return any(
        b.header_hash == block.header_hash
        for blocks in handle.full_node.farming.unfinished.values()
        for b in blocks
    )


async def test_unfinished_block_relayed_then_finished_by_proof_of_time(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    finished = block_tools.finish_block(unfinished, chain_20[-1].header_block())
    assert finished.proof_of_time is not None
    not_on_tip = block_tools.make_unfinished(chain_20[:11], seed=3)  # parent at height 10
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20)
        b = await net.start("b", chain=chain_20, peers=[a])
        c = await net.start("c", chain=chain_20, peers=[b])  # hears only through b
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 2)
        to_b = link(a, b)
        await to_b.send(UnfinishedBlock(not_on_tip))
        await to_b.send(UnfinishedBlock(unfinished))
        await to_b.send(UnfinishedBlock(unfinished))  # a duplicate
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: held(c, unfinished))  # relayed by b
        assert held(b, unfinished)
        assert not held(b, not_on_tip) and not held(c, not_on_tip)
        assert sum(len(v) for v in b.full_node.farming.unfinished.values()) == 1

        await to_b.send(NewProofOfTime(finished.proof_of_time))
        with trio.fail_after(DEADLINE):
            await net.wait_for("b", finished.header_hash)
            await net.wait_for("c", finished.header_hash)  # b relayed the finished Block
        assert not held(b, unfinished)
        nursery.cancel_scope.cancel()


async def test_duplicate_and_relayed_blocks(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    new = block_tools.next_block(chain_20, seed=4)
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20)
        b = await net.start("b", chain=chain_20, peers=[a])
        await net.start("c", chain=chain_20, peers=[b])
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 2)
        to_b = link(a, b)
        for _ in range(3):
            await to_b.send(Block(new))
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", new.header_hash)  # relayed because it extends a tip
            # b relays a block once it validated, before its commit and the seen-cache entry.
            await net.wait_for("b", new.header_hash)
        assert new.header_hash in b.full_node.intake.seen
        # The duplicates changed nothing and closed no connection.
        assert b.blockchain.get_peak().header_hash == new.header_hash  # type: ignore[union-attr]
        assert len(b.service.node.get_connections()) == 2  # type: ignore[union-attr]
        nursery.cancel_scope.cancel()


def test_seen_cache_is_bounded_and_reports_duplicates() -> None:
    seen = SeenCache(3)
    assert seen.add(1) and seen.add(2) and seen.add(3)
    assert not seen.add(1)  # a duplicate (and now the newest)
    assert seen.add(4)  # forgets 2, the oldest
    assert 2 not in seen and 1 in seen and len(seen) == 3
    seen.discard(1)
    assert seen.add(1)


def test_unfinished_blocks_good_enough_relative_to_the_best(
    block_tools: BlockTools, chain_20: list[FullBlock]
) -> None:
    gossip = GossipState()
    challenge = chain_20[-1].challenge
    assert challenge is not None
    ch = challenge.get_hash()
    assert gossip.good_enough(ch, 1_000, threshold=500)  # the first is the best
    assert gossip.good_enough(ch, 1_400, threshold=500)  # within the threshold
    assert not gossip.good_enough(ch, 1_600, threshold=500)  # too slow to matter
    assert gossip.good_enough(ch, 900, threshold=500)  # a new best
    assert not gossip.good_enough(ch, 1_450, threshold=500)
    # Disconnected blocks wait for their parent, bounded.
    child = chain_20[5]
    orphans = OrphanPool()
    assert orphans.keep(child, len(bytes(child)))
    assert not orphans.keep(child, len(bytes(child)))  # the same block waits already
    assert orphans.take_children(chain_20[4].header_hash) == [child]
    assert orphans.take_children(chain_20[4].header_hash) == []


async def test_a_heavier_tip_sent_while_a_short_sync_ran_is_fetched_after_it(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    """b short-syncs a's tip x (its parent p is new to b) while a holds back its answers. Then a
    sends z, heavier and on another branch (its parents q and y are new to b): one short sync
    per peer, so z waits in b's orphan pool. When the first sync ends, b must fetch z's
    parents too: nothing else would (before, only a later block from a did, and production
    may have stopped, as at the end of test_farming_roles)."""
    p = block_tools.next_block(chain_20)
    x = block_tools.next_block([*chain_20, p])
    q = block_tools.next_block(chain_20, candidate=1)
    y = block_tools.next_block([*chain_20, q])
    z = block_tools.next_block([*chain_20, q, y])
    assert p.header_hash != q.header_hash and z.weight > x.weight
    release = trio.Event()

    class HeldAPI(FullNodeAPI):
        async def request_block(self, msg: RequestBlock, peer: PeerConnection):  # type: ignore[no-untyped-def]
            await release.wait()
            return await super().request_block(msg, peer)

    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start(
            "a", chain=[*chain_20, p, x, q, y], target_outbound=0, api_class=HeldAPI
        )
        assert a.peak_hash() == x.header_hash  # y weighs the same; x was stored first
        b = await net.start("b", chain=chain_20, peers=[a], target_outbound=1)
        intake = b.full_node.intake
        with trio.fail_after(DEADLINE):
            # a greets b with its peak x: b asks a for p, and waits.
            await wait_until(lambda: bool(intake._short_syncing))
            await link(a, b).send(Block(z))
            await wait_until(lambda: y.header_hash in intake.orphans.by_parent)
        release.set()
        with trio.fail_after(DEADLINE):
            await net.wait_for("b", z.header_hash)
        assert b.blockchain.contains_block(x.header_hash)
        nursery.cancel_scope.cancel()
