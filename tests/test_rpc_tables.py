"""The CLI's ``rpc`` command finds the role serving a method in the roles' own method tables
(roles/<role>/rpc.py ``METHODS``); there is no second list to keep in step."""

from __future__ import annotations

from pathlib import Path

import pytest

from trionode import runfiles
from trionode.cli.rpc import ROLE_METHODS, choose_role, serving_roles
from trionode.roles.farmer.rpc import FarmerRpc
from trionode.roles.full_node import rpc as full_node_rpc
from trionode.roles.pool import rpc as pool_rpc
from trionode.rpc.common import PEER_METHODS


def running(root: Path, *roles: str) -> Path:
    for role in roles:
        runfiles.write_json_atomic(
            runfiles.ready_path(root, role), {"role": role, "pid": 1, "port": 1, "rpc_port": 9}
        )
    return root


def test_every_role_table_has_the_peer_methods() -> None:
    for role, table in ROLE_METHODS.items():
        assert set(PEER_METHODS) <= set(table), role
        assert all(callable(handler) for handler in table.values()), role


def test_a_method_of_one_role_goes_to_that_role(tmp_path: Path) -> None:
    root = running(tmp_path, "farmer", "harvester")
    assert choose_role(root, "get_blockchain_state") == "full_node"
    assert choose_role(root, "push_transaction") == "full_node"
    assert choose_role(root, "payout_now") == "pool"
    assert serving_roles("get_pool_state") == ["pool"]
    # Every full node method of the table, none forgotten.
    only_full_node = set(full_node_rpc.METHODS) - set(PEER_METHODS)
    assert only_full_node and all(choose_role(root, m) == "full_node" for m in only_full_node)
    assert all(choose_role(root, m) == "pool" for m in set(pool_rpc.METHODS) - set(PEER_METHODS))


@pytest.mark.parametrize("method", ["get_plots", "refresh_plots", "get_harvesters", "get_rewards"])
def test_a_farm_method_goes_to_the_farmer_if_it_runs_else_the_harvester(
    tmp_path: Path, method: str
) -> None:
    assert serving_roles(method) == ["farmer", "harvester"]
    assert choose_role(running(tmp_path / "both", "farmer", "harvester"), method) == "farmer"
    assert choose_role(running(tmp_path / "h", "harvester"), method) == "harvester"
    assert choose_role(tmp_path / "none", method) == "harvester"


def test_a_method_every_role_serves_goes_to_the_first_running_role(tmp_path: Path) -> None:
    assert choose_role(running(tmp_path / "t", "timelord", "pool"), "get_connections") == "timelord"
    assert choose_role(running(tmp_path / "p", "pool"), "get_routes") == "pool"
    assert choose_role(tmp_path / "none", "close_connection") == "full_node"
    assert choose_role(tmp_path / "none", "no_such_method") == "full_node"


def test_a_method_added_to_a_role_table_is_routed_to_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Adding a handler and its row to the role's table is all the CLI needs."""
    table = dict(ROLE_METHODS["farmer"])
    table["get_signage_points"] = FarmerRpc.get_rewards
    monkeypatch.setitem(ROLE_METHODS, "farmer", table)
    assert choose_role(tmp_path, "get_signage_points") == "farmer"
