"""A payment made with the wallet command on one node is gossiped, mined by the farm of
another node and visible on every node (all roles in one process, real TLS websockets on
127.0.0.1, real plots, VDFs and signatures, network ``sim``)."""

from __future__ import annotations

import argparse
import hashlib
from pathlib import Path

import pytest
import trio

from tests.conftest import Farm
from trionode.cli.wallet import cmd_balance, cmd_send
from trionode.consensus import SIM
from trionode.roles.farmer.main import Farmer, FarmerConfig
from trionode.roles.harvester.main import Harvester, HarvesterConfig
from trionode.roles.timelord.main import TimelordConfig, TimelordService
from trionode.testing.full_node import LOCAL, TestNetwork
from trionode.wire import bytes32

RECIPIENT = bytes32(hashlib.sha256(b"recipient").digest())
AMOUNT = 1_000
FEE = 7


async def test_payment_is_mined_and_seen_by_every_node(
    farm: Farm, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root, plots = farm.root, farm.plots
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a")  # the farm's node
        b = await net.start("b", peers=[a])  # the wallet's node
        await net.start("c", peers=[b])  # hears of everything through b
        farmer = Farmer(FarmerConfig(root, "sim", (LOCAL, a.port), port=0))
        await nursery.start(farmer.run)
        assert farmer.harvester_node.port
        harvester = Harvester(
            HarvesterConfig(root, "sim", (LOCAL, farmer.harvester_node.port), (plots,), port=0)
        )
        await nursery.start(harvester.run)
        timelord = TimelordService(
            TimelordConfig(root, "sim", (LOCAL, a.port), port=0, use_processes=False)
        )
        await nursery.start(timelord.run)
        with trio.fail_after(120):
            await net.wait_for_height("b", 1)

        def run_cli(handler: object, **extra: object) -> int:
            args = argparse.Namespace(
                root=str(root), node_root=b.root, network="sim", db=None, **extra
            )
            return handler(args)  # type: ignore[operator,no-any-return]

        # The wallet reads b's store and submits to b; the farmer is on a. Every block so far
        # was farmed by this farm and pays its coinbase to the pool key's address; the fees
        # coins are 0 (no transactions yet), so the balance is COINBASE_AMOUNT per block.
        capsys.readouterr()
        low = b.blockchain.peak_height
        assert await trio.to_thread.run_sync(run_cli, cmd_balance) == 0
        high = b.blockchain.peak_height
        assert low is not None and high is not None
        lines = capsys.readouterr().out.splitlines()
        keys = farm.keys
        pool_line = next(line for line in lines if line.startswith("pool"))
        farmer_line = next(line for line in lines if line.startswith("farmer"))
        assert keys.pool_puzzle_hash.hex() in pool_line
        assert keys.farmer_puzzle_hash.hex() in farmer_line
        _, _, total_text, _, coins_text, _ = pool_line.split()
        pool_total, pool_coins = int(total_text), int(coins_text)
        assert low + 1 <= pool_coins <= high + 1, (low, high, pool_line)
        assert pool_total == pool_coins * SIM.COINBASE_AMOUNT
        assert farmer_line.split()[2:] == ["0", "in", "0", "coins"]
        assert lines[-1] == f"total  {pool_total}"
        status = await trio.to_thread.run_sync(
            lambda: run_cli(
                cmd_send,
                to=RECIPIENT.hex(),
                amount=AMOUNT,
                fee=FEE,
                full_node=f"{LOCAL}:{b.port}",
                timeout=30.0,
            )
        )
        out = capsys.readouterr().out
        assert status == 0, out
        assert "accepted" in out

        async def paid(handle_name: str) -> None:
            chain = net[handle_name].blockchain
            with chain.subscribe(64) as events:
                while not await chain.get_coin_records_by_puzzle_hash(RECIPIENT):
                    with trio.move_on_after(0.5):
                        await events.receive()

        with trio.fail_after(120):
            for name in ("a", "b", "c"):
                await paid(name)
        for name in ("a", "b", "c"):
            (record,) = await net[name].blockchain.get_coin_records_by_puzzle_hash(RECIPIENT)
            assert int(record.coin.amount) == AMOUNT and record.spent_height is None
        # The block that paid holds the fee in its fees target, and the mempools are empty.
        block_hash = a.blockchain.height_to_hash(record.confirmed_height)
        assert block_hash is not None
        block = await a.blockchain.get_block(block_hash)
        assert block is not None and int(block.body.fees_target.amount) == FEE
        # The mempool catches up when the node handles its new peak, a step after the store
        # shows the coin; no event tells a test it did, so poll (it must happen, bounded).
        with trio.fail_after(30):
            while len(a.full_node.mempool.mempool):  # noqa: ASYNC110
                await trio.sleep(0.05)
        nursery.cancel_scope.cancel()


def test_wallet_send_refuses_bad_input(farm: Farm, tmp_path: Path) -> None:
    root = farm.root
    base = {"root": str(root), "node_root": tmp_path, "network": "sim", "db": None}
    bad_to = argparse.Namespace(
        **base, to="zz", amount=1, fee=0, full_node="127.0.0.1:1", timeout=1.0
    )
    assert cmd_send(bad_to) == 2
    bad_node = argparse.Namespace(
        **base, to=RECIPIENT.hex(), amount=1, fee=0, full_node="nohostport", timeout=1.0
    )
    assert cmd_send(bad_node) == 2
    no_store = argparse.Namespace(
        **base, to=RECIPIENT.hex(), amount=1, fee=0, full_node="127.0.0.1:1", timeout=1.0
    )
    assert cmd_send(no_store) == 1  # no chain store under node_root
