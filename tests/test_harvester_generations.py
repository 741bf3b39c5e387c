"""One farmer, one legacy (v1, seeds 000/003) and one v2 (seed 001) harvester, over real TLS
websockets on 127.0.0.1: the farmer tells them apart at the handshake and the chain gets blocks
whose proofs of space come from each harvester's plots."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import trio

from tests.conftest import Farm, link_plots
from trionode.plotting.plot_info import load_plot
from trionode.roles.farmer.main import Farmer, FarmerConfig
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.roles.harvester.api_v1 import HarvesterV1API
from trionode.roles.harvester.main import Harvester, HarvesterConfig
from trionode.roles.timelord.main import TimelordConfig, TimelordService

LOCAL = "127.0.0.1"


@pytest.fixture
def two_plot_sets(farm: Farm, tmp_path: Path) -> tuple[Path, Path, Path]:
    """A farm root and two directories of 3 k=18 plots each (the shared farm's plot indices
    0-2 and 3-5)."""
    v1, v2 = tmp_path / "v1", tmp_path / "v2"
    link_plots(farm.plot_files[:3], v1)
    link_plots(farm.plot_files[3:6], v2)
    return farm.root, v1, v2


def plot_ids(directory: Path) -> set[bytes]:
    return {bytes(load_plot(p).plot_id) for p in directory.glob("*.plot")}


async def test_one_farmer_farms_with_v1_and_v2_harvesters(
    two_plot_sets: tuple[Path, Path, Path], tmp_path: Path
) -> None:
    root, v1_dir, v2_dir = two_plot_sets
    ids = {"v1": plot_ids(v1_dir), "v2": plot_ids(v2_dir)}
    node = FullNodeService(FullNodeConfig(root=tmp_path / "node", network="sim", port=0))
    async with trio.open_nursery() as nursery:
        await nursery.start(node.run)
        assert node.node is not None and node.node.port and node.full_node is not None
        port = node.node.port
        farmer = Farmer(FarmerConfig(root, "sim", (LOCAL, port), port=0))
        await nursery.start(farmer.run)
        assert farmer.harvester_node.port
        farmer_addr = (LOCAL, farmer.harvester_node.port)
        # Two machines' harvesters: own roots (own node ids), the farm's private CA.
        roots = {name: tmp_path / f"harvester_{name}" for name in ("v1", "v2")}
        for harvester_root in roots.values():
            shutil.copytree(root / "ssl" / "ca", harvester_root / "ssl" / "ca")
        v1 = Harvester(
            HarvesterConfig(roots["v1"], "sim", farmer_addr, (v1_dir,), port=0, protocol="v1")
        )
        v2 = Harvester(HarvesterConfig(roots["v2"], "sim", farmer_addr, (v2_dir,), port=0))
        await nursery.start(v1.run)
        await nursery.start(v2.run)
        await nursery.start(
            TimelordService(
                TimelordConfig(root, "sim", (LOCAL, port), port=0, use_processes=False)
            ).run
        )
        chain = node.full_node.blockchain
        found = {"v1": 0, "v2": 0}
        with trio.fail_after(240), chain.subscribe() as events:
            while not (found["v1"] and found["v2"]):
                await events.receive()
                found = {"v1": 0, "v2": 0}
                for header_hash in chain.get_header_hashes():
                    block = await chain.get_block(header_hash)
                    assert block is not None
                    plot_id = bytes(block.proof_of_space.get_plot_id())
                    for name in found:
                        found[name] += plot_id in ids[name]
        # Each harvester was recognised by its generation, and each gave proofs and signatures.
        generations = farmer.state.harvester_generation
        assert generations[v1.node.node_id] == 1
        assert generations[v2.node.node_id] == 2
        assert isinstance(v1.api, HarvesterV1API)
        assert v1.api.responses_sent > 0 and v1.api.proofs_sent > 0
        assert farmer.state.headers_by_harvester.get(v1.node.node_id, 0) > 0
        assert farmer.state.headers_by_harvester.get(v2.node.node_id, 0) > 0
        nursery.cancel_scope.cancel()
