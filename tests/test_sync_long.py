"""Long sync, short sync and fork convergence between real full nodes (real stores, TLS
websockets on 127.0.0.x, the sync loop as a supervised service), with chains pre-farmed by
BlockTools (real plots, VDFs and signatures on the ``sim`` network)."""

from __future__ import annotations

import json
from pathlib import Path

import attrs
import pytest
import trio

from trionode import runfiles
from trionode.peers.connection import PeerConnection
from trionode.protocols import decoded
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    HeaderBlocks,
    RequestAllHeaderHashes,
    RequestHeaderBlocks,
    RequestSyncBlocks,
    SyncBlocks,
)
from trionode.protocols.shared_protocol import Error
from trionode.roles.full_node.api import FullNodeAPI
from trionode.sync import SyncConfig
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import TestNetwork
from trionode.wire import bytes32, uint64

DEADLINE = 60
#: For tests whose point needs every peer asked: the sync waits (up to DEADLINE) for both of the
#: node's peers before it starts, instead of the default 1 s gathering window, which a peer
#: connecting late on a loaded machine would miss (it would then never be asked).
# One window for the 60 blocks (no short first one): its two batches go one to each peer.
BOTH_PEERS = SyncConfig(max_peers=2, gather_seconds=DEADLINE, first_window=128)


@pytest.fixture(scope="module")
def chain_60(block_tools: BlockTools) -> tuple[FullBlock, ...]:
    return tuple(block_tools.make_chain(60))


async def test_new_node_long_syncs_from_one_peer(
    chain_60: tuple[FullBlock, ...], tmp_path: Path
) -> None:
    tip = chain_60[-1].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_60)
        b = await net.start("b", chain=chain_60, peers=[a])
        c = await net.start("c", peers=[b])  # knows only b
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", tip)
        sync = c.full_node.sync
        assert sync.stats.syncs_done == 1
        assert sync.stats.blocks_synced == 60
        assert c.blockchain.get_header_hashes() == [blk.header_hash for blk in chain_60]
        status = c.full_node.sync_status()
        assert status["syncing"] is False and status["syncs_done"] == 1
        c.full_node.write_status()
        written = json.loads(runfiles.status_path(c.root, "full_node").read_text())
        assert written["sync"]["syncing"] is False and written["height"] == 59
        nursery.cancel_scope.cancel()


async def test_node_five_blocks_behind_catches_up_by_short_sync(
    chain_60: tuple[FullBlock, ...], tmp_path: Path
) -> None:
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_60)
        b = await net.start("b", chain=chain_60[:55], peers=[a])
        with trio.fail_after(DEADLINE):
            await net.wait_for("b", chain_60[-1].header_hash)
        assert b.full_node.sync.stats.syncs_done == 0  # parents fetched with RequestBlock
        assert a.full_node.sync.stats.syncs_done == 0
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize(
    ("x_own", "y_own", "short_limit", "long_syncs"),
    [(10, 14, None, 0), (10, 35, None, 1), (12, 15, 8, 1)],
    ids=["short-fork", "long-fork", "deep-fork-close-tips"],
)
async def test_partitioned_nodes_converge_on_the_heavier_chain(
    block_tools: BlockTools,
    chain_60: tuple[FullBlock, ...],
    tmp_path: Path,
    x_own: int,
    y_own: int,
    short_limit: int | None,
    long_syncs: int,
) -> None:
    # Both sides share heights 0..9, then each extends its own chain. short-fork: y is within
    # SYNC_THRESHOLD of x and a short sync fetches the fork. long-fork: y is far ahead, x long
    # syncs. deep-fork-close-tips: the tips are close but the fork is deeper than x's short
    # sync reaches (limit lowered to 8 to keep the chains small), so x must long sync anyway.
    common = list(chain_60[:10])
    x_chain = block_tools.make_chain(x_own, parent_chain=common, seed=1)
    y_chain = block_tools.make_chain(y_own, parent_chain=common, seed=2)
    assert y_chain[-1].weight > x_chain[-1].weight
    assert x_chain[10].header_hash != y_chain[10].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        x = await net.start("x", chain=x_chain)
        if short_limit is not None:
            x.full_node.intake.short_sync_limit = short_limit
        await net.start("y", chain=y_chain)
        assert x.peak_hash() == x_chain[-1].header_hash
        await net.connect("x", "y")  # the partition heals
        tip = y_chain[-1].header_hash
        with trio.fail_after(DEADLINE):
            await net.wait_for("x", tip)
            await net.wait_for("y", tip)
        assert x.blockchain.get_header_hashes() == [blk.header_hash for blk in y_chain]
        assert x.full_node.sync.stats.syncs_done == long_syncs
        # x's own blocks are kept as a lighter fork; the coin set follows the heavier chain.
        assert x.blockchain.contains_block(x_chain[-1].header_hash)
        nursery.cancel_scope.cancel()


class StallingAPI(FullNodeAPI):
    """Serves everything but never answers RequestSyncBlocks."""

    sync_requests = 0

    async def request_sync_blocks(
        self, msg: RequestSyncBlocks, peer: PeerConnection
    ) -> SyncBlocks | Error:
        type(self).sync_requests += 1
        await trio.sleep_forever()
        raise AssertionError("unreachable")


async def test_stalling_peer_loses_its_batch_to_another_peer(
    chain_60: tuple[FullBlock, ...], tmp_path: Path
) -> None:
    StallingAPI.sync_requests = 0
    tip = chain_60[-1].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        staller = await net.start("staller", chain=chain_60, api_class=StallingAPI)
        honest = await net.start("honest", chain=chain_60, host="127.0.0.2")
        # The staller never answers: its batches go to the honest peer after request_timeout
        # (short here, but well above what the honest peer takes to serve 32 blocks).
        c = await net.start(
            "c", peers=[staller, honest], sync=attrs.evolve(BOTH_PEERS, request_timeout=4.0)
        )
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", tip)
        stats = c.full_node.sync.stats
        assert StallingAPI.sync_requests >= 1
        assert stats.batches_reassigned >= 1
        assert stats.syncs_done == 1
        assert stats.peers_banned == 0  # slow is not dishonest
        assert c.blockchain.get_header_hashes() == [blk.header_hash for blk in chain_60]
        nursery.cancel_scope.cancel()


class LyingAPI(FullNodeAPI):
    """Answers RequestAllHeaderHashes with a list that is wrong at one height (or too long)."""

    too_long = False

    async def request_all_header_hashes(
        self, msg: RequestAllHeaderHashes, peer: PeerConnection
    ) -> AllHeaderHashes | Error:
        reply = await super().request_all_header_hashes(msg, peer)
        assert isinstance(reply, AllHeaderHashes)
        hashes = list(reply.header_hashes)
        if self.too_long:
            hashes = [bytes32(b"\x07" * 32), *hashes]
        else:
            hashes[30] = bytes32(b"\x01" * 32)
        return AllHeaderHashes(hashes)


class TooLongAPI(LyingAPI):
    too_long = True


@pytest.mark.parametrize("liar_api", [LyingAPI, TooLongAPI], ids=["wrong-hash", "too-many"])
async def test_lying_peer_is_banned_and_sync_completes_from_an_honest_one(
    chain_60: tuple[FullBlock, ...], tmp_path: Path, liar_api: type[LyingAPI]
) -> None:
    tip = chain_60[-1].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        # Bans are by IP: the liar listens on its own loopback address and dials nobody.
        liar = await net.start(
            "liar", chain=chain_60, host="127.0.0.2", api_class=liar_api, target_outbound=0
        )
        honest = await net.start("honest", chain=chain_60)
        c = await net.start("c", peers=[liar, honest], sync=BOTH_PEERS)
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", tip)
        node = c.service.node
        assert node is not None
        assert node.bans.is_banned("127.0.0.2")
        assert not node.bans.is_banned("127.0.0.1")
        assert c.full_node.sync.stats.peers_banned >= 1
        assert c.blockchain.get_header_hashes() == [blk.header_hash for blk in chain_60]
        nursery.cancel_scope.cancel()


class GatedAPI(FullNodeAPI):
    """Serves SyncBlocks below height ``gate_height`` at once; above it only once ``gate`` is
    set. Records every height asked for."""

    gate_height = 32
    gate = trio.Event()
    heights: list[int] = []

    async def request_sync_blocks(
        self, msg: RequestSyncBlocks, peer: PeerConnection
    ) -> SyncBlocks | Error:
        type(self).heights.extend(int(h) for h in msg.heights)
        if max(int(h) for h in msg.heights) >= self.gate_height:
            await type(self).gate.wait()
        return await super().request_sync_blocks(msg, peer)


async def test_restart_mid_sync_resumes_from_committed_height(
    chain_60: tuple[FullBlock, ...], tmp_path: Path
) -> None:
    GatedAPI.gate = trio.Event()
    GatedAPI.heights = []
    tip = chain_60[-1].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        server = await net.start("server", chain=chain_60, api_class=GatedAPI)
        c = await net.start("c", peers=[server], sync=SyncConfig(window=32))
        with trio.fail_after(DEADLINE):
            await net.wait_for_height("c", 31)
        # The second window is stuck behind the gate: the status shows the sync, then the node
        # is killed mid-sync.
        assert c.full_node.sync.syncing
        status = c.full_node.sync_status()
        assert status["syncing"] and status["target_height"] == 59 and status["height"] == 31
        assert 0.5 < status["progress"] < 0.6 and status["blocks_per_second"] > 0
        assert status["eta_seconds"] is not None
        c.full_node.write_status()
        written = json.loads(runfiles.status_path(c.root, "full_node").read_text())
        assert written["sync"]["syncing"] and written["sync"]["target_height"] == 59
        await net.stop("c")
        committed = 31
        asked_before = list(GatedAPI.heights)
        assert max(asked_before) >= 32  # it had started on the next window
        GatedAPI.heights.clear()
        GatedAPI.gate.set()
        c = await net.start("c", peers=[server], sync=SyncConfig(window=32))
        assert c.blockchain.peak_height == committed  # what was committed survived
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", tip)
        assert GatedAPI.heights, "the restarted node synced the rest"
        assert min(GatedAPI.heights) > committed  # nothing it had was downloaded again
        assert c.blockchain.get_header_hashes() == [blk.header_hash for blk in chain_60]
        nursery.cancel_scope.cancel()


class TamperingAPI(FullNodeAPI):
    """Serves SyncBlocks whose bodies were changed (their headers, and so hashes, unchanged)."""

    async def request_sync_blocks(
        self, msg: RequestSyncBlocks, peer: PeerConnection
    ) -> SyncBlocks | Error:
        reply = decoded(await super().request_sync_blocks(msg, peer))
        assert isinstance(reply, SyncBlocks)
        tampered = [
            b.replace(body=b.body.replace(cost=uint64(int(b.body.cost) + 1))) for b in reply.blocks
        ]
        return SyncBlocks(reply.tip_header_hash, tampered)


async def test_peer_serving_an_invalid_block_mid_sync_is_banned_and_sync_completes(
    chain_60: tuple[FullBlock, ...], tmp_path: Path
) -> None:
    tip = chain_60[-1].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        bad = await net.start(
            "bad", chain=chain_60, host="127.0.0.2", api_class=TamperingAPI, target_outbound=0
        )
        honest = await net.start("honest", chain=chain_60)
        c = await net.start("c", peers=[bad, honest], sync=BOTH_PEERS)
        with trio.fail_after(DEADLINE):
            await net.wait_for("c", tip)
        node = c.service.node
        assert node is not None
        assert node.bans.is_banned("127.0.0.2") and not node.bans.is_banned("127.0.0.1")
        assert c.blockchain.get_header_hashes() == [blk.header_hash for blk in chain_60]
        nursery.cancel_scope.cancel()


class LateInvalidHeadersAPI(FullNodeAPI):
    """Honest below height 24; above, header blocks whose proofs of time carry another block's
    output (headers, so hashes, unchanged)."""

    async def request_header_blocks(
        self, msg: RequestHeaderBlocks, peer: PeerConnection
    ) -> HeaderBlocks | Error:
        reply = decoded(await super().request_header_blocks(msg, peer))
        assert isinstance(reply, HeaderBlocks)
        if min(int(h) for h in msg.heights) < 24:
            return reply
        blocks = list(reply.header_blocks)
        outputs = [b.proof_of_time.output for b in blocks]  # type: ignore[union-attr]
        swapped = [
            b.replace(proof_of_time=b.proof_of_time.replace(output=outputs[(i + 1) % len(blocks)]))  # type: ignore[union-attr]
            for i, b in enumerate(blocks)
        ]
        return HeaderBlocks(reply.tip_header_hash, swapped)


async def test_an_invalid_header_mid_pipeline_keeps_the_valid_windows_and_bans_its_server(
    chain_60: tuple[FullBlock, ...], tmp_path: Path
) -> None:
    """Windows of 8 from a lone liar whose headers turn invalid at height 24: the windows below
    commit (validated in full), the invalid window and everything above are not stored, and the
    liar is banned for the header (the downloads running ahead stop quietly)."""
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        liar = await net.start(
            "liar", chain=chain_60, host="127.0.0.2", api_class=LateInvalidHeadersAPI
        )
        c = await net.start("c", peers=[liar], sync=SyncConfig(window=8, batch_size=8))
        node = c.service.node
        assert node is not None
        with trio.fail_after(DEADLINE):
            while not node.bans.is_banned("127.0.0.2"):
                await node.wait_connection_change()
            await c.full_node.sync.wait_idle()
        assert c.blockchain.get_header_hashes() == [blk.header_hash for blk in chain_60[:24]]
        assert c.full_node.sync.stats.blocks_synced == 24
        nursery.cancel_scope.cancel()
