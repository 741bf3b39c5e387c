"""Hostile peers against a full node's intake (issue 10, attacks 1-4): real full nodes (SQLite
stores, TLS websockets on 127.0.0.x, the sync loop), real ``sim`` blocks from BlockTools. The
victim listens on 127.0.0.3, the honest peer on 127.0.0.1, the attacker on 127.0.0.2 (bans are
by IP). The attacker is a full node too; the test sends its hostile messages on its connection.

Each test asserts the honest outcome; scripts/attack_intake.py prints the figures.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio
import trio.testing

from trionode.blockchain.detached import check_detached_block, check_parent_link
from trionode.consensus import Err
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import ConnectionClosedError, PeerErrorReply, TransportClosed
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import (
    Coin,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    Output,
    Spend,
    Transaction,
)
from trionode.protocols.peer_protocol import Block, NewProofOfTime, RequestBlock, UnfinishedBlock
from trionode.protocols.shared_protocol import Error, HandshakeAck, NodeType
from trionode.protocols.timelord_protocol import ProofOfTimeFinished
from trionode.roles.full_node.api import FullNodeAPI
from trionode.sync.budget import RequestBudget
from trionode.sync.pools import IntakeLimits, OrphanPool, SeenCache
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import NodeHandle, TestNetwork
from trionode.testing.peers import PeerTestNet, handshake_bytes, send_payload
from trionode.wire import G1Element, G2Element, Message, bytes32, uint32, uint64, uint128

DEADLINE = 60
VICTIM, HONEST, ATTACKER, TIMELORD = "127.0.0.3", "127.0.0.1", "127.0.0.2", "127.0.0.5"


def link(frm: NodeHandle, to: NodeHandle) -> PeerConnection | None:
    node, other = frm.service.node, to.service.node
    assert node is not None and other is not None
    for conn in node.get_connections(NodeType.FULL_NODE):
        if conn.node_id == other.node_id:
            return conn
    return None


async def wait_link(frm: NodeHandle, to: NodeHandle) -> PeerConnection:
    node = frm.service.node
    assert node is not None
    while (conn := link(frm, to)) is None:
        await node.wait_connection_change()
    return conn


async def wait_until(condition: Callable[[], bool]) -> None:
    """Re-check ``condition`` every 20 ms (callers apply the deadline): holding an unfinished
    block or an orphan has no event to wait on."""
    while not condition():  # noqa: ASYNC110
        await trio.sleep(0.02)


async def wait_closed(conn: PeerConnection) -> None:
    await conn.closed.wait()


async def drained(sender: PeerConnection, receiver: PeerConnection) -> None:
    """Until ``receiver`` has handled everything ``sender`` sent so far: a request's reply
    means the read loop dispatched every earlier message; then every handler has returned."""
    with pytest.raises(PeerErrorReply):
        await sender.request(RequestBlock(bytes32(b"\xee" * 32)))
    await wait_until(lambda: receiver.handlers_running == 0 and receiver.queued[0] == 0)


def banned(by: NodeHandle, host: str) -> bool:
    node = by.service.node
    assert node is not None
    return node.bans.is_banned(host)


def held(handle: NodeHandle) -> list[FullBlock]:
    return [b for blocks in handle.full_node.farming.unfinished.values() for b in blocks]


def corrupt_witness(block: FullBlock) -> FullBlock:
    """``block`` with a proof of time that does not verify (same header hash)."""
    pot = block.proof_of_time
    assert pot is not None
    witness = bytearray(pot.witness)
    witness[50] ^= 0xFF
    return block.replace(proof_of_time=pot.replace(witness=bytes(witness)))


def junk_body_block(
    bt: BlockTools, block: FullBlock, size: int, salt: int, **header: object
) -> FullBlock:
    """``block`` with a transaction of about ``size`` junk bytes (cost set to match, so the
    body passes every check that needs no coin set), re-signed: a plot owner's orphan."""
    coin_id = bytes32(salt.to_bytes(32, "big"))
    coin = Coin(coin_id, bytes32(bytes(32)), uint64(1))
    outputs = [Output(bytes32(i.to_bytes(32, "big")), uint64(i)) for i in range(size // 40)]
    tx = Transaction([Spend(coin, G1Element(), outputs)], G2Element())
    body = block.body.replace(transactions=[tx], cost=uint64(len(bytes(tx))))
    return bt.rebuild(block, body=body, header_changes=header or None)


# -- attack 1: fake tip adverts ------------------------------------------------------------


@pytest.mark.parametrize("signed", [False, True], ids=["stale-signature", "attacker-plot"])
async def test_fake_far_adverts_do_not_stop_a_long_sync_to_the_honest_tip(
    block_tools: BlockTools, chain_30: list[FullBlock], tmp_path: Path, signed: bool
) -> None:
    """An attacker sends a Block claiming height 10,000+ and a huge weight every 0.3 s
    (stale-signature: header edited; attacker-plot: re-signed by the attacker's own plot and
    pool keys, so every check that needs no chain passes). The victim heard the attacker
    first; once it meets the honest peer it must reach the honest tip, the honest peer must not
    ban it (rate limits), and the attacker must be banned."""
    tip = chain_30[-1]

    def fake(i: int) -> FullBlock:
        height = 10_000 + i
        changes = {
            "height": uint32(height),
            "weight": uint128(10**15 + i),
            "total_iters": uint128(10**12 + i),
        }
        if not signed:
            data = tip.header.data.replace(**changes)
            return tip.replace(header=Header(data, tip.header.plot_signature))
        coinbase = CoinbaseInfo(
            uint32(height), tip.body.coinbase.amount, tip.body.coinbase.puzzle_hash
        )
        body = tip.body.replace(
            coinbase=coinbase, coinbase_signature=block_tools.sign_coinbase(coinbase)
        )
        return block_tools.rebuild(tip, body=body, header_changes=changes)

    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        honest = await net.start("honest", chain=chain_30, host=HONEST, target_outbound=0)
        attacker = await net.start("attacker", host=ATTACKER, target_outbound=0)
        victim = await net.start("victim", host=VICTIM, peers=[attacker])
        to_victim = await wait_link(attacker, victim)
        sent = trio.Event()

        async def advertise() -> None:
            i = 0
            try:
                while True:
                    await to_victim.send(Block(fake(i)))  # a new claim each time
                    i += 1
                    if i == 3:
                        sent.set()
                    await trio.sleep(0.3)
            except ConnectionClosedError:
                pass  # banned
            finally:
                sent.set()

        nursery.start_soon(advertise)
        with trio.fail_after(DEADLINE):
            await sent.wait()
            await net.connect("victim", "honest")
            await net.wait_for("victim", tip.header_hash)
            await wait_closed(to_victim)
        assert victim.blockchain.get_header_hashes() == [b.header_hash for b in chain_30]
        assert banned(victim, ATTACKER)
        assert not banned(honest, VICTIM)
        assert not banned(victim, HONEST)
        assert link(honest, victim) is not None  # still connected
        nursery.cancel_scope.cancel()


async def test_request_budget_stays_under_the_peers_rate_limit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    """Pacing against honest peers' fixed windows: at most 90% of the limit in any sliding
    window; ``spend`` waits for the oldest send to leave the window."""
    budget = RequestBudget({T.request_all_header_hashes: (20, 60.0)})
    conn = PeerStub()
    allowed, window = budget.allowance(T.request_all_header_hashes)
    assert (allowed, window) == (18, 60.0)
    start = trio.current_time()
    for _ in range(18):
        assert budget.try_spend(conn, T.request_all_header_hashes)  # type: ignore[arg-type]
    assert not budget.try_spend(conn, T.request_all_header_hashes)  # type: ignore[arg-type]
    await budget.spend(conn, T.request_all_header_hashes)  # type: ignore[arg-type]
    assert trio.current_time() - start == pytest.approx(60.0)
    # another type, another connection: separate budgets
    assert budget.try_spend(conn, T.request_block)  # type: ignore[arg-type]
    assert budget.try_spend(PeerStub(), T.request_all_header_hashes)  # type: ignore[arg-type]


class PeerStub:
    """Stands for a connection: the budget only keys by it (weakly)."""


# -- attack 2: a bad proof of time ---------------------------------------------------------


async def test_invalid_proof_of_time_leaves_the_unfinished_block_for_the_valid_one(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    finished = block_tools.finish_block(unfinished, chain_20[-1].header_block())
    bad = corrupt_witness(finished).proof_of_time
    assert bad is not None and finished.proof_of_time is not None
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        honest = await net.start("honest", chain=chain_20, host=HONEST, target_outbound=0)
        attacker = await net.start("attacker", chain=chain_20, host=ATTACKER, target_outbound=0)
        victim = await net.start("victim", chain=chain_20, host=VICTIM, peers=[honest, attacker])
        to_victim = await wait_link(attacker, victim)
        honest_link = await wait_link(honest, victim)
        await to_victim.send(UnfinishedBlock(unfinished))
        with trio.fail_after(DEADLINE):
            await wait_until(lambda: len(held(victim)) == 1)
        await to_victim.send(NewProofOfTime(bad))
        with trio.fail_after(DEADLINE):
            await wait_closed(to_victim)
        assert banned(victim, ATTACKER)
        assert [b.header_hash for b in held(victim)] == [unfinished.header_hash]
        # The same from a timelord: its connection is closed and its address banned.
        peers = PeerTestNet(nursery, tmp_path / "raw")
        node = victim.service.node
        assert node is not None
        async with peers.raw("timelord", node, source=TIMELORD) as stream:
            with trio.fail_after(DEADLINE):
                assert Message.from_bytes(await stream.receive()).type == T.handshake
                network = victim.service.constants.genesis_challenge
                await stream.send(handshake_bytes(network_id=network, node_type=NodeType.TIMELORD))
                assert Message.from_bytes(await stream.receive()).type == T.handshake_ack
                await send_payload(stream, HandshakeAck())
                await send_payload(stream, ProofOfTimeFinished(bad))
                with pytest.raises(TransportClosed):
                    while True:
                        await stream.receive()  # ChallengeStart etc., then the close
        assert banned(victim, TIMELORD)
        assert len(held(victim)) == 1
        await honest_link.send(NewProofOfTime(finished.proof_of_time))
        with trio.fail_after(DEADLINE):
            await net.wait_for("victim", finished.header_hash)
        assert held(victim) == []
        assert not banned(victim, HONEST)
        nursery.cancel_scope.cancel()


# -- attack 3: an invalid copy -------------------------------------------------------------


async def test_invalid_copies_do_not_hide_the_valid_block_or_unfinished_block(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path
) -> None:
    valid = block_tools.next_block(chain_20, seed=4)
    copy = corrupt_witness(valid)
    assert copy.header_hash == valid.header_hash and copy != valid
    unfinished = block_tools.make_unfinished([*chain_20, valid], seed=5)
    # same header hash, a body the header does not commit to
    bad_unfinished = unfinished.replace(
        body=unfinished.body.replace(fees_target=FeesTarget(bytes32(b"\x01" * 32), uint64(0)))
    )
    assert bad_unfinished.header_hash == unfinished.header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        honest = await net.start("honest", chain=chain_20, host=HONEST, target_outbound=0)
        attacker = await net.start("attacker", chain=chain_20, host=ATTACKER, target_outbound=0)
        second = await net.start("second", chain=chain_20, host="127.0.0.4", target_outbound=0)
        victim = await net.start(
            "victim", chain=chain_20, host=VICTIM, peers=[honest, attacker, second]
        )
        to_victim = await wait_link(attacker, victim)
        honest_link = await wait_link(honest, victim)
        second_link = await wait_link(second, victim)
        await to_victim.send(Block(copy))
        with trio.fail_after(DEADLINE):
            await wait_closed(to_victim)
        assert banned(victim, ATTACKER)
        await honest_link.send(Block(valid))
        with trio.fail_after(DEADLINE):
            await net.wait_for("victim", valid.header_hash)
        # An invalid copy of an unfinished block, then the valid one from another peer.
        await second_link.send(UnfinishedBlock(bad_unfinished))
        with trio.fail_after(DEADLINE):
            await wait_closed(second_link)
        assert banned(victim, "127.0.0.4")
        await honest_link.send(UnfinishedBlock(unfinished))
        with trio.fail_after(DEADLINE):
            await wait_until(
                lambda: [b.header_hash for b in held(victim)] == [unfinished.header_hash]
            )
        assert held(victim) == [unfinished]
        nursery.cancel_scope.cancel()


# -- attack 4: pools -----------------------------------------------------------------------


class FabricatingAPI(FullNodeAPI):
    """Serves RequestBlock from a fabricated chain and counts what it served."""

    parents: dict[bytes32, FullBlock] = {}
    served = 0

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Block | Error:
        block = type(self).parents.get(msg.header_hash)
        if block is None:
            return await super().request_block(msg, peer)
        type(self).served += 1
        return Block(block)


@pytest.mark.slow
async def test_pools_stay_within_their_bounds_under_floods(
    block_tools: BlockTools, chain_30: list[FullBlock], tmp_path: Path
) -> None:
    """300 valid unfinished variants of one proof of space (fees targets differ): at most
    ``unfinished_per_proof`` held and relayed. 60 orphans of ~900 KB (signed headers, bodies
    that pass every check without a coin set, parents nobody serves): the orphan pool stays
    under its byte bound. A fabricated chain of parents: only the first is fetched."""
    limits = IntakeLimits()
    chain = chain_30
    unfinished = block_tools.make_unfinished(chain, seed=3)
    variants = [
        block_tools.rebuild(
            unfinished,
            body=unfinished.body.replace(
                fees_target=FeesTarget(bytes32((i + 1).to_bytes(32, "big")), uint64(0))
            ),
        )
        for i in range(300)
    ]
    nxt = block_tools.next_block(chain, seed=4)
    # One ~900 KB body (building it and its header hashes is the slow part), under 60
    # headers with other parents, each signed: 60 distinct orphans.
    junk = junk_body_block(block_tools, nxt, 900_000, 0)
    orphans = [
        block_tools.resign(
            junk.replace(
                header=Header(
                    junk.header.data.replace(prev_header_hash=bytes32((i + 7).to_bytes(32, "big"))),
                    junk.header.plot_signature,
                )
            )
        )
        for i in range(60)
    ]
    assert len({o.header_hash for o in orphans}) == len(orphans)
    total_orphan_bytes = sum(len(bytes(o)) for o in orphans)
    assert total_orphan_bytes > limits.orphan_max_bytes
    # Fabricated parents: re-signed copies of the real blocks claiming one more weight unit,
    # re-linked (the attacker owns the plots, not a VDF): the real next block on top of them.
    fabricated: list[FullBlock] = []
    prev = bytes32(b"\x5a" * 32)
    for h in range(1, len(chain)):
        changes = {"prev_header_hash": prev, "weight": uint128(int(chain[h].weight) + 1)}
        fabricated.append(block_tools.rebuild(chain[h], header_changes=changes))
        prev = fabricated[-1].header_hash
    fabricated.append(block_tools.rebuild(nxt, header_changes={"prev_header_hash": prev}))
    FabricatingAPI.parents = {b.header_hash: b for b in fabricated[:-1]}
    FabricatingAPI.served = 0
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        honest = await net.start("honest", chain=chain, host=HONEST, target_outbound=0)
        attacker = await net.start("attacker", chain=chain, host=ATTACKER, target_outbound=0)
        fabricator = await net.start(
            "fabricator", chain=chain, host="127.0.0.4", target_outbound=0, api_class=FabricatingAPI
        )
        victim = await net.start(
            "victim", chain=chain, host=VICTIM, peers=[honest, attacker, fabricator]
        )
        to_victim = await wait_link(attacker, victim)
        await wait_link(honest, victim)
        from_attacker = link(victim, attacker)
        assert from_attacker is not None
        for v in variants:
            await to_victim.send(UnfinishedBlock(v))
        with trio.fail_after(DEADLINE):
            await drained(to_victim, from_attacker)
            await wait_until(lambda: len(held(honest)) >= limits.unfinished_per_proof)
        farming = victim.full_node.farming
        assert len(held(victim)) == limits.unfinished_per_proof
        assert {b.header_hash for b in held(victim)} <= {v.header_hash for v in variants}
        assert farming.unfinished_bytes == sum(len(bytes(b)) for b in held(victim))
        assert farming.unfinished_bytes <= limits.unfinished_max_bytes
        for o in orphans:
            await to_victim.send(Block(o))
        pool = victim.full_node.intake.orphans
        with trio.fail_after(DEADLINE):
            await drained(to_victim, from_attacker)
        assert orphans[-1] in pool.by_parent[orphans[-1].prev_header_hash]  # the newest kept
        kept = [b for blocks in pool.by_parent.values() for b in blocks]
        assert pool.held_bytes == sum(len(bytes(b)) for b in kept)
        assert pool.held_bytes <= limits.orphan_max_bytes
        assert len(kept) <= limits.orphan_max_blocks
        assert 0 < len(kept) < len(orphans)
        assert not banned(victim, ATTACKER)  # valid as far as can be checked: not a ban
        # a fabricated chain of parents: caught at the first one
        to_victim = await wait_link(fabricator, victim)
        await to_victim.send(Block(fabricated[-1]))
        with trio.fail_after(DEADLINE):
            await wait_closed(to_victim)
        assert banned(victim, "127.0.0.4")
        assert FabricatingAPI.served == 1
        nursery.cancel_scope.cancel()


def test_pool_accounting_is_exact(block_tools: BlockTools, chain_20: list[FullBlock]) -> None:
    limits = IntakeLimits(orphan_max_blocks=3, orphan_max_bytes=10**9, seen_cache_size=5)
    seen = SeenCache(limits.seen_cache_size)
    for i in range(20):
        assert seen.add(bytes32(i.to_bytes(32, "big")))
    assert len(seen) == 5
    pool = OrphanPool(limits)
    blocks = chain_20[1:6]
    for b in blocks:
        pool.keep(b, len(bytes(b)))
    kept = [b for v in pool.by_parent.values() for b in v]
    assert kept == blocks[-3:]
    assert pool.held_bytes == sum(len(bytes(b)) for b in kept)
    assert pool.take_children(blocks[-1].prev_header_hash) == [blocks[-1]]
    assert pool.held_bytes == sum(len(bytes(b)) for b in blocks[-3:-1])
    # a copy differing in its proof of time is kept apart from the block
    copy = corrupt_witness(blocks[-2])
    assert pool.keep(copy, len(bytes(copy)))
    assert not pool.keep(copy, len(bytes(copy)))


def test_detached_checks_pass_real_blocks_and_catch_forgeries(
    block_tools: BlockTools, chain_30: list[FullBlock]
) -> None:
    """No false positives on a real chain (every block alone, every link), and each forgery
    an attacker without a VDF can make is caught: a stale signature, a re-signed claim of more
    weight (its parent's challenge no longer leads to it), a corrupted proof of time."""
    constants = block_tools.constants
    now = int(chain_30[-1].header.data.timestamp)
    for block in chain_30:
        err, size = check_detached_block(constants, block, now)
        assert err is None and size == len(bytes(block))
    for parent, child in zip(chain_30, chain_30[1:], strict=False):
        assert check_parent_link(constants, child, parent) is None
    tip, parent = chain_30[-1], chain_30[-2]
    stale = tip.replace(
        header=Header(tip.header.data.replace(weight=uint128(10**15)), tip.header.plot_signature)
    )
    assert check_detached_block(constants, stale, now)[0] is Err.INVALID_PLOT_SIGNATURE
    heavier = block_tools.rebuild(tip, header_changes={"weight": uint128(int(tip.weight) + 1000)})
    assert check_detached_block(constants, heavier, now)[0] is None  # alone it is fine
    assert check_parent_link(constants, heavier, parent) is Err.INVALID_POT_ITERATIONS
    forged_parent = block_tools.rebuild(
        parent, header_changes={"weight": uint128(int(parent.weight) + 1)}
    )
    relinked = block_tools.rebuild(
        tip, header_changes={"prev_header_hash": forged_parent.header_hash}
    )
    assert check_parent_link(constants, tip, forged_parent) is Err.UNKNOWN_PARENT
    assert check_parent_link(constants, relinked, forged_parent) is Err.INVALID_POT_CHALLENGE
    assert check_detached_block(constants, corrupt_witness(tip), now)[0] is Err.INVALID_POT
