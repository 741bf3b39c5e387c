"""An integration test on a testnet of real node processes (the README's example, verbatim)."""

from pathlib import Path

import pytest
import trio

from trionode.testnet import Testnet


@pytest.mark.trio
async def test_two_nodes_agree_and_a_restarted_node_catches_up(tmp_path: Path) -> None:
    # Two full nodes linked n0 <- n1, the farm (farmer, harvester, timelord) on n0, fast VDFs.
    async with Testnet.open(tmp_path, nodes=2, topology="line", network="sim", farm="n0") as net:
        with trio.fail_after(600):
            height = await net.sync_all(300, min_height=2)  # same peak, at least height 2
            assert net.node("n1").height == height

            await net.stop_node("n1")  # SIGTERM: it closes its store and exits 0
            await net.wait_height("n0", height + 1, timeout=300)  # the farm goes on
            await net.start_node("n1")  # same root, same chain store
            caught_up = await net.sync_all(300, min_height=height + 1)
            assert net.node("n0").peak == net.node("n1").peak
            assert caught_up > height
