"""RPC of the farmer, harvester, timelord and introducer over real HTTP on 127.0.0.1, with the
roles running in one process (like test_farming_roles): plots, harvesters, rewards, connections,
authentication, bad parameters, stop_node."""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest
import trio
from mnemonic import Mnemonic

from trionode import runfiles
from trionode.cli.rpc import ROLE_METHODS
from trionode.keys.derive import farmer_sk, master_sk_from_mnemonic, pool_sk
from trionode.keys.keychain import Keychain
from trionode.plotting.create import ensure_plots
from trionode.roles.farmer.main import Farmer, FarmerConfig
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.roles.harvester.main import Harvester, HarvesterConfig
from trionode.roles.introducer_main import IntroducerService
from trionode.roles.timelord.main import TimelordConfig, TimelordService
from trionode.rpc.auth import read_cookie
from trionode.rpc.client import RpcCallError, RpcClient
from trionode.service import ServiceSettings

LOCAL = "127.0.0.1"
OTHERS = 4  # the conftest plot_dir (BlockTools' plots: other keys than this farm's)
OWN = 1  # own_plot_dir: this farm's keys


def rpc_port(root: Path, role: str) -> int:
    ready = runfiles.read_json(runfiles.ready_path(root, role))
    assert isinstance(ready, dict) and isinstance(ready.get("rpc_port"), int), ready
    return int(ready["rpc_port"])


async def eventually(check: Callable[[], Awaitable[bool]], what: str) -> None:
    """Poll ``check`` (an RPC round trip) until it holds; bounded, never a timed assertion."""
    # Polling: the state lives behind HTTP in another role, no event reaches this test.
    with trio.move_on_after(30) as scope:
        while not await check():  # noqa: ASYNC110
            await trio.sleep(0.05)
    if scope.cancelled_caught:
        pytest.fail(f"timed out waiting for {what}")


FARM_MNEMONIC = Mnemonic("english").to_mnemonic(hashlib.sha256(b"rpc").digest())


@pytest.fixture
def farm_root(tmp_path: Path) -> Path:
    root = tmp_path / "farm"
    Keychain(root).add_mnemonic(FARM_MNEMONIC)
    return root


@pytest.fixture(scope="session")
def own_plot_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One k=18 plot of this farm's own keys (made once, kept in the pytest cache), so the
    harvester has a plot that pays the farm next to the conftest's plots of other keys."""
    cache = getattr(request.config, "cache", None)
    path = (
        Path(cache.mkdir("trionode-k18-rpc-farm-plot"))
        if cache is not None
        else tmp_path_factory.mktemp("rpc-farm-plot")
    )
    master = master_sk_from_mnemonic(FARM_MNEMONIC)
    ensure_plots(path, 18, 1, farmer_sk(master).get_g1(), pool_sk(master).get_g1(), master)
    return path


async def test_farmer_harvester_timelord_introducer_rpc(
    farm_root: Path, plot_dir: Path, own_plot_dir: Path, tmp_path: Path, block_tools: Any
) -> None:
    del block_tools  # makes sure plot_dir holds its plots
    async with trio.open_nursery() as nursery:
        node = FullNodeService(
            FullNodeConfig(root=tmp_path / "fn", network="sim", port=0, rpc_port=0)
        )
        await nursery.start(node.run)
        assert node.node is not None and node.node.port
        fn_port = node.node.port
        farmer = Farmer(
            FarmerConfig(farm_root, "sim", (LOCAL, fn_port), port=0, rpc_port=0, metrics_port=0)
        )
        await nursery.start(farmer.run)
        assert farmer.harvester_node.port
        harvester = Harvester(
            HarvesterConfig(
                farm_root,
                "sim",
                (LOCAL, farmer.harvester_node.port),
                (plot_dir, own_plot_dir),
                port=0,
                rpc_port=0,
            )
        )
        await nursery.start(harvester.run)
        timelord = TimelordService(
            TimelordConfig(
                farm_root, "sim", (LOCAL, fn_port), port=0, use_processes=False, rpc_port=0
            )
        )
        timelord_done = trio.Event()

        async def run_timelord(*, task_status: trio.TaskStatus[None]) -> None:
            await timelord.run(task_status=task_status)
            timelord_done.set()

        await nursery.start(run_timelord)
        introducer = IntroducerService(
            ServiceSettings(tmp_path / "intro", "sim", port=0, rpc_port=0)
        )
        await nursery.start(introducer.run)

        token = read_cookie(farm_root)
        async with (
            RpcClient(rpc_port(farm_root, "farmer"), token) as f,
            RpcClient(rpc_port(farm_root, "harvester"), token) as h,
            RpcClient(rpc_port(farm_root, "timelord"), token) as t,
            RpcClient(
                rpc_port(tmp_path / "intro", "introducer"), read_cookie(tmp_path / "intro")
            ) as i,
        ):
            # -- farmer and harvester -----------------------------------------------------
            async def harvester_reported() -> bool:
                hs = (await f.call("get_harvesters"))["harvesters"]
                return len(hs) == 1 and hs[0]["plots"] is not None

            await eventually(harvester_reported, "the harvester's plots at the farmer")
            harvesters = (await f.call("get_harvesters"))["harvesters"]
            hv = harvesters[0]
            assert hv["type"] == "harvester"
            assert hv["node_id"] == harvester.node.node_id.hex()
            assert (hv["plots"], hv["no_key"]) == (OWN, OTHERS)

            plots = (await f.call("get_plots"))["harvesters"][hv["node_id"]]
            assert (len(plots["plots"]), len(plots["no_key_filenames"])) == (OWN, OTHERS)
            assert all(str(plot_dir) in name for name in plots["no_key_filenames"])

            refreshed = await f.call("refresh_plots")
            assert list(refreshed["harvesters"]) == [hv["node_id"]] and refreshed["failed"] == {}

            own = await h.call("get_plots")
            assert (len(own["plots"]), len(own["no_key"])) == (OWN, OTHERS)
            assert own["failed_to_open"] == {}
            rescan = await h.call("refresh_plots")
            assert rescan["added"] == [] and rescan["removed"] == []

            rewards = await f.call("get_rewards")
            keys = farmer.state.keys
            assert rewards["farmer_puzzle_hash"] == keys.farmer_puzzle_hash.hex()
            assert rewards["pool_puzzle_hash"] == keys.pool_puzzle_hash.hex()
            assert rewards["headers_signed"] == 0

            (me,) = (await h.call("get_harvesters"))["harvesters"]
            assert me["node_id"] == hv["node_id"] and me["plots"] == OWN
            assert [c["type"] for c in me["farmers"]] == ["farmer"]
            plot_keys = await h.call("get_rewards")
            assert plot_keys["plots"] == OWN
            # The one plot the harvester loaded pays this farm; the others were listed as no_key.
            assert plot_keys["farmer_public_keys"] == [bytes(keys.farmer_pk).hex()]

            kinds = {c["type"] for c in (await f.call("get_connections"))["connections"]}
            assert kinds == {"harvester", "full_node"}
            assert [c["type"] for c in (await h.call("get_connections"))["connections"]] == [
                "farmer"
            ]
            assert [c["type"] for c in (await t.call("get_connections"))["connections"]] == [
                "full_node"
            ]
            assert (await i.call("get_connections"))["connections"] == []

            # -- every method of every role refuses a caller without the token ------------
            for client in (f, h, t, i):
                routes = (await client.call("get_routes"))["routes"]
                assert "stop_node" in routes and "get_connections" in routes
                async with RpcClient(int(client.url.rsplit(":", 1)[1]), None) as anonymous:
                    for method in routes:
                        response = await anonymous.post_raw(method, b"{}")
                        assert response.status_code == 401, (client.url, method)
                        assert response.json()["code"] == "unauthorized"
            assert set((await f.call("get_routes"))["routes"]) >= {
                "get_plots",
                "refresh_plots",
                "get_harvesters",
                "get_rewards",
            }
            assert set((await h.call("get_routes"))["routes"]) >= {"get_plots", "refresh_plots"}
            # Each role serves exactly its table, the one the CLI's rpc command reads.
            builtin = {"get_routes", "stop_node"}
            for role, client in [
                ("farmer", f),
                ("harvester", h),
                ("timelord", t),
                ("introducer", i),
            ]:
                routes = set((await client.call("get_routes"))["routes"])
                assert routes == set(ROLE_METHODS[role]) | builtin, role

            # -- bad parameters ------------------------------------------------------------
            for client, method, params in [
                (f, "get_connections", {"type": 5}),
                (f, "close_connection", {"node_id": "xyz"}),
                (h, "close_connection", {}),
                (t, "close_connection", {"node_id": 12}),
            ]:
                with pytest.raises(RpcCallError) as info:
                    await client.call(method, params)
                assert info.value.status == 400 and info.value.code == "bad_params"
            with pytest.raises(RpcCallError) as info:
                await f.call("get_block", {})
            assert info.value.status == 404 and info.value.code == "unknown_method"

            # -- closing the harvester's connection from the farmer -------------------------
            async def harvester_ports() -> list[int]:
                conns = (await f.call("get_connections", {"type": "harvester"}))["connections"]
                return [c["port"] for c in conns]

            (old_port,) = await harvester_ports()
            closed = await f.call("close_connection", {"node_id": hv["node_id"]})
            assert closed["node_id"] == hv["node_id"]
            # The old connection is gone at once (close_connection waits for it) ...
            assert old_port not in await harvester_ports()

            # ... and the harvester redials: a new connection, from another port.
            async def redialled() -> bool:
                ports = await harvester_ports()
                return len(ports) == 1 and ports[0] != old_port

            await eventually(redialled, "the harvester to redial the farmer")
            with pytest.raises(RpcCallError) as info:
                await f.call("close_connection", {"node_id": "11" * 32})
            assert info.value.status == 404

            # -- stop_node stops the role: its run() returns --------------------------------
            assert (await t.call("stop_node"))["stopping"] is True
            with trio.fail_after(15):
                await timelord_done.wait()
        nursery.cancel_scope.cancel()
