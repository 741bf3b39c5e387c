"""Relay by what each peer holds (docs/protocol.md 2.5), between real full nodes on 127.0.0.1:
a peer that holds the unfinished block gets only the NewProofOfTime and finishes the block
itself; a peer that does not hold it gets the Block; a peer that claimed it but cannot finish
is sent the Block after the fallback delay; the per-peer record is bounded and dropped with
its connection."""

from __future__ import annotations

import collections
from collections.abc import Callable
from pathlib import Path

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.holdings import Held, HoldingsBook, PeerHoldings
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import NewProofOfTime, UnfinishedBlock
from trionode.protocols.shared_protocol import NodeType
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import NodeHandle, TestNetwork
from trionode.wire import bytes32

DEADLINE = 30
# Nodes keep to the links the tests give them (a dials no one, the others one peer each), so
# what a node receives comes from the neighbour the test watches.


async def wait_until(condition: Callable[[], bool]) -> None:
    """Re-check ``condition`` every 20 ms (callers apply the deadline): holding an unfinished
    block and a peer's record have no event to wait on."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(0.02)


async def wait_connections(handle: NodeHandle, n: int) -> None:
    node = handle.service.node
    assert node is not None
    while len(node.get_connections(NodeType.FULL_NODE)) < n:
        await node.wait_connection_change()


def link(frm: NodeHandle, to: NodeHandle) -> PeerConnection:
    assert frm.service.node is not None and to.service.node is not None
    (conn,) = [
        c
        for c in frm.service.node.get_connections(NodeType.FULL_NODE)
        if c.node_id == to.service.node.node_id
    ]
    return conn


def received(conn: PeerConnection) -> collections.Counter[T]:
    """Count the message types ``conn`` receives from now on (kept beside the metrics)."""
    counts: collections.Counter[T] = collections.Counter()
    before = conn.message_observer

    def observe(sent: bool, mtype: T, size: int) -> None:
        if not sent:
            counts[mtype] += 1
        if before is not None:
            before(sent, mtype, size)

    conn.message_observer = observe
    return counts


def held(handle: NodeHandle, block: FullBlock) -> bool:
    return any(
        b.header_hash == block.header_hash
        for blocks in handle.full_node.farming.unfinished.values()
        for b in blocks
    )


def knows(frm: NodeHandle, to: NodeHandle, key: bytes32, flag: Held) -> bool:
    return frm.full_node.holdings.of(link(frm, to)).knows(key, flag)


async def test_holders_get_only_the_proof_others_the_block(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    finished = block_tools.finish_block(unfinished, chain_20[-1].header_block())
    pot = finished.proof_of_time
    assert pot is not None
    h = unfinished.header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20, target_outbound=0)
        b = await net.start("b", chain=chain_20, peers=[a], target_outbound=1)
        c = await net.start("c", chain=chain_20, peers=[b], target_outbound=1)
        # No fallback within the test: on a loaded machine c's answer may take longer than the
        # real 2 s, and the Block the fallback would then send is not what this test is about.
        b.full_node.relay.fallback_seconds = 600
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 2)
        await link(a, b).send(UnfinishedBlock(unfinished))
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: held(c, unfinished))
            # c's copy back to b is its acknowledgement; b's back to a likewise.
            await wait_until(lambda: knows(b, c, h, Held.UNFINISHED))
            await wait_until(lambda: knows(a, b, h, Held.UNFINISHED))
        assert held(a, unfinished)  # a took b's acknowledgement as an UnfinishedBlock too
        # d connects after the relay: it never got the unfinished block.
        d = await net.start("d", chain=chain_20, peers=[b], target_outbound=1)
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 3)
            # b's greeting (its peak as a Block) has arrived: count from here.
            await wait_until(lambda: knows(d, b, chain_20[-1].header_hash, Held.BLOCK))
        assert not held(d, unfinished)
        at_c, at_d = received(link(c, b)), received(link(d, b))

        await link(a, b).send(NewProofOfTime(pot))  # b finishes the block
        with trio.fail_after(DEADLINE):
            for name in ("b", "c", "d"):
                await net.wait_for(name, finished.header_hash)
            # c finished it and sent the proof back: b owes it nothing.
            await wait_until(lambda: knows(b, c, pot.get_hash(), Held.PROOF))
        for handle in (b, c, d):
            assert handle.peak_hash() == finished.header_hash
        assert await c.blockchain.get_block_bytes(h) == bytes(finished)
        assert at_c[T.new_proof_of_time] == 1 and at_c[T.block] == 0
        assert at_d[T.block] == 1 and at_d[T.new_proof_of_time] == 0
        assert b.full_node.relay.fallbacks_sent == 0
        nursery.cancel_scope.cancel()


async def test_a_peer_that_claimed_the_unfinished_block_still_gets_the_block(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    """c acknowledges the unfinished block, then drops it (as from a full pool; to b it is a
    liar): b sends it only the proof, c cannot finish and stays silent, and b's fallback sends
    it the Block."""
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    finished = block_tools.finish_block(unfinished, chain_20[-1].header_block())
    pot = finished.proof_of_time
    assert pot is not None
    h = unfinished.header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20, target_outbound=0)
        b = await net.start("b", chain=chain_20, peers=[a], target_outbound=1)
        c = await net.start("c", chain=chain_20, peers=[b], target_outbound=1)
        b.full_node.relay.fallback_seconds = 0.3  # a short fallback keeps the test short
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 2)
        await link(a, b).send(UnfinishedBlock(unfinished))
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: knows(b, c, h, Held.UNFINISHED))
        for key in list(c.full_node.farming.unfinished):
            c.full_node.farming.take_unfinished(*key)
        assert not held(c, unfinished)
        at_c = received(link(c, b))

        await link(a, b).send(NewProofOfTime(pot))
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", finished.header_hash)
        assert at_c[T.new_proof_of_time] == 1 and at_c[T.block] == 1
        assert b.full_node.relay.fallbacks_sent == 1
        assert c.peak_hash() == b.peak_hash() == finished.header_hash
        nursery.cancel_scope.cancel()


def test_peer_record_is_bounded_and_forgets_the_oldest() -> None:
    record = PeerHoldings(max_entries=4)
    keys = [bytes32(bytes([i]) * 32) for i in range(6)]
    for key in keys:
        record.note(key, Held.UNFINISHED)
    record.note(keys[5], Held.BLOCK_SENT)
    assert len(record) == 4
    assert not record.knows(keys[0], Held.UNFINISHED) and not record.knows(keys[1], Held.UNFINISHED)
    assert record.knows(keys[5], Held.UNFINISHED) and record.knows(keys[5], Held.BLOCK_SENT)
    assert not record.knows(keys[5], Held.BLOCK)


async def test_records_are_dropped_with_the_connection(
    chain_20: list[FullBlock], tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20, target_outbound=0)
        b = await net.start("b", chain=chain_20, peers=[a], target_outbound=1)
        with trio.fail_after(DEADLINE):
            await wait_connections(a, 1)
        book: HoldingsBook = a.full_node.holdings
        conn = link(a, b)
        book.of(conn).note(chain_20[-1].header_hash, Held.BLOCK)
        assert len(book) == 1
        await net.stop("b")
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: len(book) == 0)
        # A late handler of the closed connection gets a record that is not kept.
        book.of(conn).note(chain_20[-1].header_hash, Held.BLOCK)
        assert len(book) == 0
        nursery.cancel_scope.cancel()


async def test_a_holder_gets_the_block_when_no_fallback_can_wait(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    """With no room to wait for a holder's answer, the holder is sent the Block at once."""
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    finished = block_tools.finish_block(unfinished, chain_20[-1].header_block())
    pot = finished.proof_of_time
    assert pot is not None
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20, target_outbound=0)
        b = await net.start("b", chain=chain_20, peers=[a], target_outbound=1)
        c = await net.start("c", chain=chain_20, peers=[b], target_outbound=1)
        b.full_node.relay.max_pending = 0
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 2)
        await link(a, b).send(UnfinishedBlock(unfinished))
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: knows(b, c, unfinished.header_hash, Held.UNFINISHED))
        at_c = received(link(c, b))
        await link(a, b).send(NewProofOfTime(pot))
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", finished.header_hash)
        assert at_c[T.block] == 1 and at_c[T.new_proof_of_time] == 0
        assert b.full_node.relay.pending() == 0
        nursery.cancel_scope.cancel()


async def test_blocks_a_proof_took_are_added_after_its_connection_closed(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    """The lost block of test_farming_roles, made deterministic. b takes the unfinished block a
    proof finishes and sends the proof to c, which holds it too and finishes the block itself;
    c takes b's proof as b's word that b has the block, so it never sends the block back. Then
    the proof's sender (here a, in test_farming_roles the restarted timelord) disconnects while
    b's add still waits (b's intake is held by the test, as on a loaded node). The add ran in
    the handler of a's message and was cancelled with a's connection: b lost the block for
    good. It must be added all the same."""
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    finished = block_tools.finish_block(unfinished, chain_20[-1].header_block())
    pot = finished.proof_of_time
    assert pot is not None
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20, target_outbound=0)
        b = await net.start("b", chain=chain_20, peers=[a], target_outbound=1)
        c = await net.start("c", chain=chain_20, peers=[b], target_outbound=1)
        b.full_node.relay.fallback_seconds = 600  # c answers with the proof: no fallback
        b_node = b.service.node
        assert b_node is not None
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 2)
        await link(a, b).send(UnfinishedBlock(unfinished))
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: knows(b, c, unfinished.header_hash, Held.UNFINISHED))
        async with b.full_node.intake._add_lock:  # b's adds wait until the block is ...
            await link(a, b).send(NewProofOfTime(pot))
            with trio.fail_after(DEADLINE):
                await net.wait_for("c", finished.header_hash)  # ... at c, from b's proof
                await wait_until(lambda: knows(b, c, pot.get_hash(), Held.PROOF))
            assert not held(b, unfinished)  # taken by the proof, not added yet
            await net.stop("a")
            with trio.fail_after(DEADLINE):
                while b_node.get_connections(NodeType.FULL_NODE) != [link(b, c)]:
                    await b_node.wait_connection_change()
        with trio.fail_after(DEADLINE):
            await net.wait_for("b", finished.header_hash)
        assert await b.blockchain.get_block_bytes(finished.header_hash) == bytes(finished)
        nursery.cancel_scope.cancel()


async def test_a_proof_from_a_peer_vouches_only_for_the_unfinished_blocks_it_showed(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    """b holds two unfinished variants of one proof of space (same challenge and iterations),
    c only the second (it connected after b relayed the first). c finishes that one from the
    proof and sends b the proof: c has the second block, not the first, which b must send it
    as a Block (it was sent only the proof, which c dropped as a duplicate)."""
    first = block_tools.make_unfinished(chain_20, seed=3)
    second = block_tools.make_unfinished(chain_20, seed=4)
    assert first.header_hash != second.header_hash
    assert first.header.data.total_iters == second.header.data.total_iters
    first_done = block_tools.finish_block(first, chain_20[-1].header_block())
    pot = first_done.proof_of_time
    assert pot is not None
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_20, target_outbound=0)
        b = await net.start("b", chain=chain_20, peers=[a], target_outbound=1)
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 1)
        await link(a, b).send(UnfinishedBlock(first))
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: held(b, first))
        c = await net.start("c", chain=chain_20, peers=[b], target_outbound=1)
        with trio.fail_after(DEADLINE):
            await wait_connections(b, 2)
        await link(a, b).send(UnfinishedBlock(second))
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: knows(b, c, second.header_hash, Held.UNFINISHED))
        assert held(c, second) and not held(c, first)
        at_c = received(link(c, b))
        await link(b, c).send(NewProofOfTime(pot))  # as if b had sent it: c finishes its own
        second_hash = second.replace(proof_of_time=pot).header_hash
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: c.blockchain.contains_block(second_hash))
            await wait_until(lambda: b.blockchain.contains_block(first_done.header_hash))
            await wait_until(lambda: b.blockchain.contains_block(second_hash))
            await wait_until(lambda: c.blockchain.contains_block(first_done.header_hash))
        assert at_c[T.block] == 1  # the first block; the second it made itself
        nursery.cancel_scope.cancel()
