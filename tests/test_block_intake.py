"""Block intake on its own (trionode.sync.intake), with a real chain store: what reaches the
role's channel, what the seen-cache records, orphans added after their parent, and the bounded
channel holding intake back until the role takes its reports. The peer-facing decisions
(bans, short and long sync) are covered over the network by test_hostile_intake, test_bans,
test_gossip_blocks and test_sync_long."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from pathlib import Path

import attrs
import pytest
import trio
import trio.testing

from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.results import AddBlockStatus
from trionode.consensus import ConsensusConstants
from trionode.peers.memory_transport import MemoryNetwork, MemoryTransport
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.shared_protocol import NodeType
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_url
from trionode.sync import BlockAdded, BlockIntake, IntakeLimits, SyncConfig
from trionode.sync.budget import RequestBudget
from trionode.wire import bytes32

DEADLINE = 60


@attrs.define
class Rig:
    intake: BlockIntake
    chain: Blockchain
    send: trio.MemorySendChannel[BlockAdded]
    reports: trio.MemoryReceiveChannel[BlockAdded]


@contextlib.asynccontextmanager
async def _rig(tmp_path: Path, constants: ConsensusConstants, buffer: int) -> AsyncIterator[Rig]:
    store = await ChainStore.open(default_db_url(tmp_path, "sim"))
    try:
        chain = await Blockchain.create(store, constants)
        peers = PeerNode(
            PeerNodeConfig(network_id=constants.genesis_challenge, node_type=NodeType.FULL_NODE),
            MemoryTransport(MemoryNetwork(), local_node_id=bytes32(b"\x01" * 32)),
        )
        send, receive = trio.open_memory_channel[BlockAdded](buffer)
        intake = BlockIntake(
            chain,
            peers,
            send,
            config=SyncConfig(threshold=constants.SYNC_THRESHOLD),
            limits=IntakeLimits(),
            budget=RequestBudget(),
        )
        yield Rig(intake, chain, send, receive)
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()


@pytest.fixture
async def rig(tmp_path: Path, sim_constants: ConsensusConstants) -> AsyncIterator[Rig]:
    async with _rig(tmp_path, sim_constants, buffer=64) as r:
        yield r


def corrupt_witness(block: FullBlock) -> FullBlock:
    """``block`` with a proof of time that does not verify (same header hash)."""
    pot = block.proof_of_time
    assert pot is not None
    witness = bytearray(pot.witness)
    witness[50] ^= 0xFF
    return block.replace(proof_of_time=pot.replace(witness=bytes(witness)))


def drain(reports: trio.MemoryReceiveChannel[BlockAdded]) -> list[BlockAdded]:
    out = []
    while True:
        try:
            out.append(reports.receive_nowait())
        except trio.WouldBlock:
            return out


async def test_blocks_added_to_a_tip_are_reported_once_and_seen(
    rig: Rig, chain_20: list[FullBlock]
) -> None:
    for block in chain_20[:4]:
        assert (await rig.intake.add_block(block, source=None)).added
    reports = drain(rig.reports)
    assert [r.block.header_hash for r in reports] == [b.header_hash for b in chain_20[:4]]
    assert all(r.new_peak and r.source is None for r in reports)
    assert all(b.header_hash in rig.intake.seen for b in chain_20[:4])
    # A copy of a stored block changes nothing and is not relayed again.
    again = await rig.intake.add_block(chain_20[2], source=None)
    assert again.status is AddBlockStatus.ALREADY_HAVE
    assert drain(rig.reports) == []


async def test_an_invalid_copy_is_neither_seen_nor_reported_and_does_not_hide_the_block(
    rig: Rig, chain_20: list[FullBlock]
) -> None:
    for block in chain_20[:5]:
        await rig.intake.add_block(block, source=None)
    drain(rig.reports)
    bad = corrupt_witness(chain_20[5])
    assert bad.header_hash == chain_20[5].header_hash
    result = await rig.intake.add_block(bad, source=None)
    assert result.status is AddBlockStatus.INVALID
    assert bad.header_hash not in rig.intake.seen
    assert drain(rig.reports) == []
    assert (await rig.intake.add_block(chain_20[5], source=None)).added
    assert [r.block for r in drain(rig.reports)] == [chain_20[5]]


async def test_orphans_are_added_and_reported_after_their_parent(
    rig: Rig, chain_20: list[FullBlock]
) -> None:
    for block in chain_20[:5]:
        await rig.intake.add_block(block, source=None)
    drain(rig.reports)
    child = chain_20[6]
    assert rig.intake.orphans.keep(child, len(bytes(child)))
    await rig.intake.add_block(chain_20[5], source=None)
    assert [r.block for r in drain(rig.reports)] == [chain_20[5], child]
    assert len(rig.intake.orphans) == 0 and rig.intake.orphans.held_bytes == 0
    assert rig.chain.get_peak().header_hash == child.header_hash  # type: ignore[union-attr]


async def test_a_full_report_channel_holds_intake_back(
    tmp_path: Path, sim_constants: ConsensusConstants, chain_20: list[FullBlock]
) -> None:
    async with _rig(tmp_path, sim_constants, buffer=1) as rig:
        first, second = chain_20[0], chain_20[1]
        done = trio.Event()

        async def add_both() -> None:
            await rig.intake.add_block(first, source=None)
            await rig.intake.add_block(second, source=None)
            done.set()

        with rig.chain.subscribe(8) as events:
            async with trio.open_nursery() as nursery:
                nursery.start_soon(add_both)
                with trio.fail_after(DEADLINE):
                    while rig.chain.get_peak() is None or (
                        rig.chain.get_peak().header_hash != second.header_hash  # type: ignore[union-attr]
                    ):
                        await events.receive()
                await trio.testing.wait_all_tasks_blocked()
                # Stored, but its report waits for room: the role has not taken the first.
                assert not done.is_set()
                assert rig.send.statistics().tasks_waiting_send == 1
                assert (await rig.reports.receive()).block == first
                with trio.fail_after(DEADLINE):
                    await done.wait()
                assert (await rig.reports.receive()).block == second
