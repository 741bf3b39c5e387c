"""``--root`` a devnet or testnet directory and ``--node NAME``: which root each command uses."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from trionode import runfiles
from trionode.cli.rpc import resolve_root
from trionode.cli.wallet import _roots


def make(base: Path, *names: str) -> Path:
    for name in names:
        (base / name).mkdir(parents=True)
        (base / name / "config.yaml").write_text("{}\n")
    return base


def ns(base: Path, **kw: object) -> argparse.Namespace:
    return argparse.Namespace(root=str(base), node_root=None, rpc_role=None, **kw)


def test_testnet_directory(tmp_path: Path) -> None:
    base = make(tmp_path / "tn", "n0", "n1", "n2", "farm")
    members = runfiles.network_members(base)
    assert list(members) == ["n0", "n1", "n2", "farm"]
    assert runfiles.network_kind(members) == "testnet"
    assert resolve_root(ns(base, node="n2"), "get_blockchain_state") == (base / "n2", None)
    assert resolve_root(ns(base, node=None), "get_blockchain_state") == (base / "n0", None)
    assert resolve_root(ns(base, node=None), "get_harvesters") == (base / "farm", None)
    assert resolve_root(ns(base, node="harvester"), "get_plots") == (base / "farm", "harvester")
    assert _roots(ns(base, node="n1")) == (base / "farm", base / "n1")
    with pytest.raises(ValueError, match="its full nodes are n0, n1, n2"):
        _roots(ns(base, node="farm"))


def test_devnet_directory(tmp_path: Path) -> None:
    base = make(tmp_path / "dn", "introducer", "full_node_0", "full_node_1", "farm")
    members = runfiles.network_members(base)
    assert runfiles.network_kind(members) == "devnet"
    assert runfiles.full_node_names(members) == ["full_node_0", "full_node_1"]
    assert resolve_root(ns(base, node="introducer"), "get_routes") == (
        base / "introducer",
        "introducer",
    )
    assert _roots(ns(base, node=None)) == (base / "farm", base / "full_node_0")
    with pytest.raises(ValueError, match="its nodes are full_node_0, full_node_1, introducer"):
        resolve_root(ns(base, node="n1"), "get_routes")


def test_a_node_root_is_not_a_network(tmp_path: Path) -> None:
    root = make(tmp_path / "x", "n0") / "n0"
    assert runfiles.network_members(root) == {}
    assert resolve_root(ns(root, node=None), "get_routes") == (root, None)
    with pytest.raises(ValueError, match="is not a devnet or testnet directory"):
        resolve_root(ns(root, node="n0"), "get_routes")
