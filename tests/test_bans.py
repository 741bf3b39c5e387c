"""Every ban a full node applies to a peer that gossips or syncs lies, checked by behaviour.

The offender is a real full node listening on 127.0.0.2 (bans are by IP); after its offence
its connection to the victim closes and a fresh, well-behaved peer from 127.0.0.2 is refused
(``tests/peer_probes.py``), while 127.0.0.1 is still served. Nothing reads internal names, so
these tests keep guarding the bans through a rework of the intake and sync code: each fails
(by its deadline) when its ban is removed.

Sync liars each serve the victim alone first (``max_peers=1``, no gathering wait), so the ban
under test is the only thing that can stop them; then the victim is pointed at an honest node
and must finish the sync from it.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from tests.peer_probes import is_refused, probe
from trionode.peers.connection import PeerConnection
from trionode.protocols import decoded
from trionode.protocols.chain_types import ClassgroupElement, FullBlock, HeaderBlock, Transaction
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    Block,
    HeaderBlocks,
    NewProofOfTime,
    NewTransaction,
    RequestAllHeaderHashes,
    RequestBlock,
    RequestHeaderBlocks,
    RequestSyncBlocks,
    RequestTransaction,
    SyncBlocks,
    TransactionId,
    UnfinishedBlock,
)
from trionode.protocols.shared_protocol import Error, NodeType
from trionode.roles.full_node.api import FullNodeAPI
from trionode.sync import SyncConfig
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import NodeHandle, TestNetwork
from trionode.testing.peers import PeerTestNet
from trionode.wire import bytes32, bytes100, uint64

DEADLINE = 60
OFFENDER = "127.0.0.2"


def link(frm: NodeHandle, to: NodeHandle) -> PeerConnection:
    """``frm``'s connection to ``to``."""
    assert frm.service.node is not None and to.service.node is not None
    (conn,) = [
        c
        for c in frm.service.node.get_connections(NodeType.FULL_NODE)
        if c.node_id == to.service.node.node_id
    ]
    return conn


async def connected(frm: NodeHandle, to: NodeHandle) -> PeerConnection:
    assert frm.service.node is not None and to.service.node is not None
    with trio.fail_after(DEADLINE):
        while True:
            conns = [
                c
                for c in frm.service.node.get_connections(NodeType.FULL_NODE)
                if c.node_id == to.service.node.node_id
            ]
            if conns:
                return conns[0]
            await frm.service.node.wait_connection_change()


async def assert_banned(
    probes: PeerTestNet, victim: NodeHandle, offender_conn: PeerConnection | None = None
) -> None:
    """The offender's link is closed, its address refused, 127.0.0.1 still served."""
    if offender_conn is not None:
        with trio.fail_after(DEADLINE):
            await offender_conn.closed.wait()
    assert await is_refused(probes, victim.host, victim.port, OFFENDER)
    served = await probe(probes, victim.host, victim.port)
    assert served is not None
    served.stop()


async def wait_banned(probes: PeerTestNet, victim: NodeHandle) -> None:
    """Until a fresh peer from the offender's address is refused (the sync bans on its own
    schedule; there is no event for it outside the node)."""
    with trio.fail_after(DEADLINE):
        while not await is_refused(probes, victim.host, victim.port, OFFENDER):  # noqa: ASYNC110
            await trio.sleep(0.2)


@pytest.fixture
def probes(nursery: trio.Nursery, tmp_path: Path) -> PeerTestNet:
    return PeerTestNet(nursery, tmp_path / "probes")


# -- gossip ------------------------------------------------------------------------------------


async def gossip_pair(
    net: TestNetwork, chain: list[FullBlock], api: type[FullNodeAPI] | None = None
):  # type: ignore[no-untyped-def]
    """An offender on 127.0.0.2 (dials nobody) and a victim that dials it, same chain."""
    bad = await net.start("bad", chain=chain, host=OFFENDER, target_outbound=0, api_class=api)
    victim = await net.start("victim", chain=chain, peers=[bad])
    return bad, victim, await connected(bad, victim)


async def test_invalid_block_bans_its_sender(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path, probes: PeerTestNet
) -> None:
    good = block_tools.next_block(chain_20, seed=4)
    bad_block = block_tools.next_block(chain_20, seed=5)
    # Its body changed after the header was signed: the header's body_hash no longer matches.
    invalid = bad_block.replace(body=bad_block.body.replace(cost=uint64(bad_block.body.cost + 1)))
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        bad, victim, conn = await gossip_pair(net, chain_20)
        await conn.send(Block(good))  # a valid block is accepted and bans nobody
        with trio.fail_after(DEADLINE):
            await net.wait_for("victim", good.header_hash)
        assert not conn.closed.is_set()
        await conn.send(Block(invalid))
        await assert_banned(probes, victim, conn)
        assert not victim.blockchain.contains_block(invalid.header_hash)
        await probes.stop_all()
        nursery.cancel_scope.cancel()


async def test_invalid_block_with_an_unknown_parent_bans_its_sender(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path, probes: PeerTestNet
) -> None:
    """A Block whose parent the victim lacks is checked alone (detached) before it counts as
    the sender's tip advert: an invalid one bans the sender, and nothing is fetched for it."""
    parent = block_tools.next_block(chain_20, seed=4)
    child = block_tools.next_block([*chain_20, parent], seed=5)
    invalid = child.replace(body=child.body.replace(cost=uint64(child.body.cost + 1)))
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        bad, victim, conn = await gossip_pair(net, chain_20)
        await conn.send(Block(invalid))
        await assert_banned(probes, victim, conn)
        assert not victim.blockchain.contains_block(invalid.header_hash)
        assert not victim.blockchain.contains_block(parent.header_hash)
        await probes.stop_all()
        nursery.cancel_scope.cancel()


async def test_invalid_unfinished_block_bans_its_sender(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path, probes: PeerTestNet
) -> None:
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    invalid = unfinished.replace(
        body=unfinished.body.replace(cost=uint64(unfinished.body.cost + 1))
    )
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        bad, victim, conn = await gossip_pair(net, chain_20)
        await conn.send(UnfinishedBlock(invalid))
        await assert_banned(probes, victim, conn)
        await probes.stop_all()
        nursery.cancel_scope.cancel()


async def test_proof_of_time_that_does_not_finish_the_block_bans_its_sender(
    block_tools: BlockTools, chain_20: list[FullBlock], tmp_path: Path, probes: PeerTestNet
) -> None:
    """The unfinished block is valid and held; the proof of time for it claims the right
    challenge and iterations but its output is another valid form (a shorter run's)."""
    unfinished = block_tools.make_unfinished(chain_20, seed=3)
    finished = block_tools.finish_block(unfinished, chain_20[-1].header_block())
    pot = finished.proof_of_time
    assert pot is not None
    shorter = block_tools.prove_time(pot.challenge_hash, int(pot.number_of_iterations) - 1)
    wrong = pot.replace(output=ClassgroupElement(bytes100(shorter.output.data)))
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        bad, victim, conn = await gossip_pair(net, chain_20)
        await conn.send(UnfinishedBlock(unfinished))
        with trio.fail_after(DEADLINE):
            while not victim.full_node.farming.unfinished:  # noqa: ASYNC110
                await trio.sleep(0.02)  # no event for "held"
        await conn.send(NewProofOfTime(wrong))
        await assert_banned(probes, victim, conn)
        assert victim.peak_hash() == chain_20[-1].header_hash
        await probes.stop_all()
        nursery.cancel_scope.cancel()


def _payment(block_tools: BlockTools, chain: list[FullBlock], index: int = 0) -> Transaction:
    coins = block_tools.unspent_reward_coins(chain, block_tools.pool_puzzle_hash)
    return block_tools.spend_coins([coins[index]], fee=10)


async def test_invalid_transaction_bans_the_full_node_relaying_it(
    block_tools: BlockTools, chain_30: list[FullBlock], tmp_path: Path, probes: PeerTestNet
) -> None:
    """A signature that does not verify is invalid whatever the coin set: a full node that
    relays it is banned. (A valid one is taken into the mempool and bans nobody.)"""
    valid = _payment(block_tools, chain_30, 0)
    other = _payment(block_tools, chain_30, 1)
    invalid = other.replace(aggregated_signature=valid.aggregated_signature)
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        bad, victim, conn = await gossip_pair(net, chain_30)
        await conn.send(NewTransaction(valid))
        with trio.fail_after(DEADLINE):
            while valid.get_hash() not in victim.full_node.mempool.mempool:  # noqa: ASYNC110
                await trio.sleep(0.02)  # no event for "in the mempool"
        assert not conn.closed.is_set()
        await conn.send(NewTransaction(invalid))
        await assert_banned(probes, victim, conn)
        assert invalid.get_hash() not in victim.full_node.mempool.mempool
        await probes.stop_all()
        nursery.cancel_scope.cancel()


class SwappingAPI(FullNodeAPI):
    """Answers every RequestTransaction with ``answer``, whatever was asked."""

    answer: Transaction | None = None

    async def request_transaction(
        self, msg: RequestTransaction, peer: PeerConnection
    ) -> NewTransaction | Error:
        assert self.answer is not None
        return NewTransaction(type(self).answer)  # type: ignore[arg-type]


async def test_request_transaction_answered_with_another_transaction_bans(
    block_tools: BlockTools, chain_30: list[FullBlock], tmp_path: Path, probes: PeerTestNet
) -> None:
    announced = _payment(block_tools, chain_30, 0)
    SwappingAPI.answer = _payment(block_tools, chain_30, 1)  # valid, but not what was asked
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        bad, victim, conn = await gossip_pair(net, chain_30, SwappingAPI)
        await conn.send(TransactionId(announced.get_hash()))
        await assert_banned(probes, victim, conn)
        assert not victim.full_node.mempool.mempool
        await probes.stop_all()
        nursery.cancel_scope.cancel()


# -- sync liars --------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def chain_40(block_tools: BlockTools) -> tuple[FullBlock, ...]:
    return tuple(block_tools.make_chain(40))


ALONE = SyncConfig(max_peers=1, gather_seconds=0.0)


async def liar_then_honest(
    net: TestNetwork,
    probes: PeerTestNet,
    chain: tuple[FullBlock, ...],
    api: type[FullNodeAPI],
    *,
    finish: bool = True,
    deadline: float = DEADLINE,
) -> NodeHandle:
    """The victim syncs from the liar alone, bans it, then (``finish``) completes the sync
    from an honest node it connects to afterwards."""
    liar = await net.start("liar", chain=chain, host=OFFENDER, api_class=api, target_outbound=0)
    victim = await net.start("victim", peers=[liar], sync=ALONE)
    await wait_banned(probes, victim)
    if not finish:
        return victim
    await net.start("honest", chain=chain, target_outbound=0)
    await net.connect("victim", "honest")
    with trio.fail_after(deadline):
        await net.wait_for("victim", chain[-1].header_hash)
    assert victim.blockchain.get_header_hashes() == [b.header_hash for b in chain]
    assert await is_refused(probes, victim.host, victim.port, OFFENDER)
    return victim


class TooLongListAPI(FullNodeAPI):
    """A hash list with one hash more than the tip's height allows."""

    async def request_all_header_hashes(
        self, msg: RequestAllHeaderHashes, peer: PeerConnection
    ) -> AllHeaderHashes | Error:
        reply = await super().request_all_header_hashes(msg, peer)
        assert isinstance(reply, AllHeaderHashes)
        return AllHeaderHashes([bytes32(b"\x07" * 32), *reply.header_hashes])


class WrongHashListAPI(FullNodeAPI):
    """A well-formed hash list that is false at height 30."""

    async def request_all_header_hashes(
        self, msg: RequestAllHeaderHashes, peer: PeerConnection
    ) -> AllHeaderHashes | Error:
        reply = await super().request_all_header_hashes(msg, peer)
        assert isinstance(reply, AllHeaderHashes)
        hashes = list(reply.header_hashes)
        hashes[30] = bytes32(b"\x01" * 32)
        return AllHeaderHashes(hashes)


class InvalidHeadersAPI(FullNodeAPI):
    """Header blocks whose headers (so hashes) are right but whose proofs of time are not:
    each carries the output of a proof for another block."""

    async def request_header_blocks(
        self, msg: RequestHeaderBlocks, peer: PeerConnection
    ) -> HeaderBlocks | Error:
        reply = decoded(await super().request_header_blocks(msg, peer))
        assert isinstance(reply, HeaderBlocks)
        blocks: list[HeaderBlock] = list(reply.header_blocks)
        outputs = [b.proof_of_time.output for b in blocks]  # type: ignore[union-attr]
        swapped = [
            b.replace(proof_of_time=b.proof_of_time.replace(output=outputs[(i + 1) % len(blocks)]))  # type: ignore[union-attr]
            for i, b in enumerate(blocks)
        ]
        return HeaderBlocks(reply.tip_header_hash, swapped if len(blocks) > 1 else [])


class ShuffledHeadersAPI(FullNodeAPI):
    """Real header blocks, but in reverse order (each at a height it was not asked for)."""

    async def request_header_blocks(
        self, msg: RequestHeaderBlocks, peer: PeerConnection
    ) -> HeaderBlocks | Error:
        reply = decoded(await super().request_header_blocks(msg, peer))
        assert isinstance(reply, HeaderBlocks)
        return HeaderBlocks(reply.tip_header_hash, list(reversed(reply.header_blocks)))


class TamperedBlocksAPI(FullNodeAPI):
    """Blocks whose bodies were changed (headers, so hashes, unchanged)."""

    async def request_sync_blocks(
        self, msg: RequestSyncBlocks, peer: PeerConnection
    ) -> SyncBlocks | Error:
        reply = decoded(await super().request_sync_blocks(msg, peer))
        assert isinstance(reply, SyncBlocks)
        tampered = [
            b.replace(body=b.body.replace(cost=uint64(int(b.body.cost) + 1))) for b in reply.blocks
        ]
        return SyncBlocks(reply.tip_header_hash, tampered)


@pytest.mark.parametrize(
    "liar_api",
    [TooLongListAPI, WrongHashListAPI, InvalidHeadersAPI, ShuffledHeadersAPI, TamperedBlocksAPI],
    ids=[
        "hash-list-too-long",
        "hash-list-false",
        "invalid-headers",
        "shuffled-headers",
        "tampered-blocks",
    ],
)
async def test_sync_liar_is_banned(
    chain_40: tuple[FullBlock, ...],
    tmp_path: Path,
    probes: PeerTestNet,
    liar_api: type[FullNodeAPI],
) -> None:
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        await liar_then_honest(net, probes, chain_40, liar_api)
        await probes.stop_all()
        nursery.cancel_scope.cancel()


async def test_sync_completes_from_a_later_peer_after_tampered_blocks(
    chain_40: tuple[FullBlock, ...], tmp_path: Path, probes: PeerTestNet
) -> None:
    # The blocks of a window that failed validation are not recorded as seen (issue 10), so the
    # honest peer's advert of the same tip still starts a sync to it.
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        await liar_then_honest(net, probes, chain_40, TamperedBlocksAPI)
        await probes.stop_all()
        nursery.cancel_scope.cancel()


async def test_false_hash_list_outvoted_by_honest_peers_is_banned_after_the_sync(
    chain_40: tuple[FullBlock, ...], tmp_path: Path, probes: PeerTestNet
) -> None:
    """Two honest peers agree, the liar's list differs at one height: the sync follows the
    larger group and never downloads from the liar, then bans it once the chain is known."""
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        liar = await net.start(
            "liar", chain=chain_40, host=OFFENDER, api_class=WrongHashListAPI, target_outbound=0
        )
        h1 = await net.start("h1", chain=chain_40, target_outbound=0)
        h2 = await net.start("h2", chain=chain_40, target_outbound=0)
        victim = await net.start(
            "victim",
            peers=[liar, h1, h2],
            sync=SyncConfig(max_peers=3, gather_seconds=DEADLINE),
        )
        with trio.fail_after(DEADLINE):
            await net.wait_for("victim", chain_40[-1].header_hash)
        await wait_banned(probes, victim)
        await probes.stop_all()
        nursery.cancel_scope.cancel()


class OtherParentAPI(FullNodeAPI):
    """Answers RequestBlock with the asked block's parent instead (a real block, not asked)."""

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Block | Error:
        reply = decoded(await super().request_block(msg, peer))
        if not isinstance(reply, Block) or reply.block.height == 0:
            return reply
        return decoded(  # type: ignore[return-value]
            await super().request_block(RequestBlock(reply.block.prev_header_hash), peer)
        )


class TamperedParentAPI(FullNodeAPI):
    """Answers RequestBlock with the asked block, its body changed (header, so hash, kept)."""

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Block | Error:
        reply = decoded(await super().request_block(msg, peer))
        if not isinstance(reply, Block):
            return reply
        b = reply.block
        return Block(b.replace(body=b.body.replace(cost=uint64(int(b.body.cost) + 1))))


@pytest.mark.parametrize(
    "liar_api", [OtherParentAPI, TamperedParentAPI], ids=["another-block", "tampered-parent"]
)
async def test_short_sync_liar_is_banned(
    chain_40: tuple[FullBlock, ...],
    tmp_path: Path,
    probes: PeerTestNet,
    liar_api: type[FullNodeAPI],
) -> None:
    """The victim is 10 blocks behind (a short sync: parents fetched with RequestBlock from
    the peer that announced the tip); the liar's answers get it banned, then an honest peer
    brings the victim to the tip."""
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        liar = await net.start(
            "liar", chain=chain_40, host=OFFENDER, api_class=liar_api, target_outbound=0
        )
        victim = await net.start("victim", chain=chain_40[:30], peers=[liar])
        await wait_banned(probes, victim)
        assert victim.blockchain.peak_height == 29
        assert victim.full_node.sync.stats.syncs_done == 0  # no long sync was involved
        await net.start("honest", chain=chain_40, target_outbound=0)
        await net.connect("victim", "honest")
        with trio.fail_after(DEADLINE):
            await net.wait_for("victim", chain_40[-1].header_hash)
        await probes.stop_all()
        nursery.cancel_scope.cancel()
