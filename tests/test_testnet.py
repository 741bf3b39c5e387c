"""The testnet driver: topologies (pure), and real full node processes with a farm that reach
the same tip, and a partition that really cuts a side off and heals."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
import trio

from tests.conftest import Farm
from trionode.cli.testnet import parse_groups
from trionode.testnet import Testnet, TestnetError
from trionode.testnet.topology import components, connect_components, links, node_names


def test_topologies() -> None:
    names = node_names(4)
    assert names == ["n0", "n1", "n2", "n3"]
    assert links(names, "line") == [("n0", "n1"), ("n1", "n2"), ("n2", "n3")]
    assert links(names, "star") == [("n0", "n1"), ("n0", "n2"), ("n0", "n3")]
    mesh = links(names, "mesh")
    assert len(mesh) == 6 and all(names.index(a) < names.index(b) for a, b in mesh)
    assert links(["a"], "line") == []
    assert links(names, "none") == []
    with pytest.raises(ValueError, match="unknown topology 'ring'"):
        links(names, "ring")
    with pytest.raises(ValueError, match="at least 1 node"):
        node_names(0)


def test_split_groups_stay_connected() -> None:
    names = node_names(3)
    line = links(names, "line")
    # {n0, n2} has no line link inside: it gets one, dialed by the later node
    assert components(["n0", "n2"], line) == [["n0"], ["n2"]]
    assert connect_components(["n0", "n2"], line, names) == [("n0", "n2")]
    assert connect_components(["n0", "n1"], line, names) == []


def test_parse_groups() -> None:
    assert parse_groups("n0,n1/n2") == [["n0", "n1"], ["n2"]]
    for bad in ("n0,n1", "n0//n1", "/n1"):
        with pytest.raises(ValueError, match="at least two non-empty groups"):
            parse_groups(bad)


@pytest.mark.slow
async def test_connect_and_bad_split(tmp_path: Path) -> None:
    async with Testnet.open(tmp_path, nodes=2, topology="none") as net:
        with trio.fail_after(60):
            with pytest.raises(TestnetError, match="every full node exactly once"):
                await net.split([["n0"], ["n0"]])
            with pytest.raises(TestnetError, match="no node 'n7'"):
                net.node("n7")
            assert net.peers_of("n1") == []
            await net.connect("n0", "n1")  # n1 restarts with --peer n0
            assert net.peers_of("n1") == ["n0"]
            await net.wait_for(
                lambda: net.node("n0").full_node_peers() == 1 == net.node("n1").full_node_peers(),
                timeout=30,
                what="n0 and n1 connected",
            )
            assert net.node("n0").running and net.node("n1").running


@pytest.mark.slow
async def test_line_with_farm_syncs_splits_and_heals(
    tmp_path: Path, seed_devnet_farm: Callable[[Path], Farm]
) -> None:
    """3 full node processes in a line, the farm on n0: all reach the same tip; split off n2,
    which then gets no blocks and no peers while n0/n1 go on; after the join n2 catches up."""
    # The suite's farm (fixed keys, its plots): the same plots on every run, so no run depends
    # on lucky random plots, and none to make.
    seed_devnet_farm(tmp_path)
    async with Testnet.open(tmp_path, nodes=3, topology="line", network="sim", farm="n0") as net:
        with trio.fail_after(300):
            height = await net.sync_all(120, min_height=2)
            assert len({n.peak for n in net.full_nodes()}) == 1

            await net.split([["n0", "n1"], ["n2"]])
            n2 = net.node("n2")
            cut_at = n2.height
            assert cut_at is not None and cut_at >= height
            # the farm's side goes on two more blocks ...
            assert cut_at is not None
            await net.sync_all(120, names=["n0", "n1"], min_height=cut_at + 2)
            # ... while n2, with no peer at all, stays where it was cut off
            assert n2.full_node_peers() == 0
            assert n2.height == cut_at
            assert net.node("n0").full_node_peers() == 1  # n1 only

            await net.join()
            healed = await net.sync_all(120, min_height=cut_at + 2)
            assert healed >= cut_at + 2
            assert len({n.peak for n in net.full_nodes()}) == 1
            assert n2.full_node_peers() >= 1
