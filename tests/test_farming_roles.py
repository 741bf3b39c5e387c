"""The four roles in one process over real TLS websockets on 127.0.0.1: blocks are made with
real plots, VDFs and signatures, accepted by every full node, and production resumes after the
timelord is killed and restarted."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
import trio
from mnemonic import Mnemonic

from trionode.keys.keychain import Keychain
from trionode.plotting.create import ensure_plots
from trionode.roles.farmer.main import Farmer, FarmerConfig
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.roles.harvester.main import Harvester, HarvesterConfig
from trionode.roles.timelord.main import TimelordConfig, TimelordService

LOCAL = "127.0.0.1"


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A farm root with fixed keys, and 3 k=18 plots of those keys.

    Fixed keys make the plots, and so the first challenges' proofs, the same on every run: with
    random keys a challenge that no plot answers would make the test flaky.
    """
    base = tmp_path_factory.mktemp("farm")
    root = base / "farm"
    keychain = Keychain(root)
    keychain.add_mnemonic(Mnemonic("english").to_mnemonic(hashlib.sha256(b"farm").digest()))
    keys = keychain.farm_keys()
    plots = base / "plots"
    ensure_plots(plots, 18, 3, keys.farmer_pk, keys.pool_pk, keys.master_sk)
    return root, plots


async def wait_for_height(service: FullNodeService, height: int) -> None:
    assert service.full_node is not None
    chain = service.full_node.blockchain
    with chain.subscribe() as events:
        while (chain.peak_height if chain.peak_height is not None else -1) < height:
            await events.receive()


async def test_roles_make_blocks_and_survive_timelord_restart(
    farm: tuple[Path, Path], tmp_path: Path
) -> None:
    root, plots = farm
    node_a = FullNodeService(FullNodeConfig(root=tmp_path / "a", network="sim", port=0))
    node_b = FullNodeService(FullNodeConfig(root=tmp_path / "b", network="sim", port=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(node_a.run)
        assert node_a.node is not None and node_a.node.port
        a_port = node_a.node.port
        node_b = FullNodeService(
            FullNodeConfig(root=tmp_path / "b", network="sim", port=0, peers=((LOCAL, a_port),))
        )
        await nursery.start(node_b.run)
        farmer = Farmer(FarmerConfig(root, "sim", (LOCAL, a_port), port=0))
        await nursery.start(farmer.run)
        assert farmer.harvester_node.port
        harvester = Harvester(
            HarvesterConfig(root, "sim", (LOCAL, farmer.harvester_node.port), (plots,), port=0)
        )
        await nursery.start(harvester.run)

        timelord_scope = trio.CancelScope()

        async def run_timelord(*, task_status: trio.TaskStatus[None]) -> None:
            with timelord_scope:
                tl = TimelordService(
                    TimelordConfig(root, "sim", (LOCAL, a_port), port=0, use_processes=False)
                )
                await tl.run(task_status=task_status)

        await nursery.start(run_timelord)
        with trio.fail_after(120):
            await wait_for_height(node_a, 3)
        with trio.fail_after(60):
            await wait_for_height(node_b, 3)

        # Kill the timelord: no proofs of time, no new blocks.
        timelord_scope.cancel()
        await trio.sleep(1.0)
        assert node_a.full_node is not None
        stalled = node_a.full_node.blockchain.peak_height
        assert stalled is not None
        await trio.sleep(2.0)
        assert node_a.full_node.blockchain.peak_height == stalled

        # A new timelord picks up the current challenge and production resumes.
        timelord_scope = trio.CancelScope()
        await nursery.start(run_timelord)
        with trio.fail_after(120):
            await wait_for_height(node_a, stalled + 2)
        with trio.fail_after(60):
            await wait_for_height(node_b, stalled + 2)

        assert node_b.full_node is not None
        chain_a = node_a.full_node.blockchain
        chain_b = node_b.full_node.blockchain
        height = min(chain_a.peak_height or 0, chain_b.peak_height or 0)
        assert (
            chain_a.get_header_hashes()[: height + 1] == chain_b.get_header_hashes()[: height + 1]
        )
        assert farmer.state.headers_signed >= 1
        nursery.cancel_scope.cancel()
