"""``python -m trionode show`` and ``rpc`` against full nodes running in-process on 127.0.0.1
(the CLI's blocking HTTP client runs in a worker thread), including a devnet-shaped directory."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import trio

from trionode.cli import rpc as rpc_cli
from trionode.cli.rpc import format_sync
from trionode.protocols.chain_types import FullBlock
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService

LOCAL = "127.0.0.1"


def cli_main(argv: list[str]) -> int:
    """The ``rpc`` / ``show`` subcommands as ``python -m trionode`` parses them (their own
    parser, so this test does not depend on the other subcommands)."""
    parser = argparse.ArgumentParser(prog="python -m trionode")
    rpc_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


async def run_cli(argv: list[str], capsys: object) -> tuple[int, str, str]:
    code = await trio.to_thread.run_sync(cli_main, argv)
    out, err = capsys.readouterr()  # type: ignore[attr-defined]
    return code, out, err


async def test_show_and_rpc_on_a_devnet_directory(
    tmp_path: Path, chain_20: list[FullBlock], capsys: object
) -> None:
    devnet = tmp_path / "devnet"
    async with trio.open_nursery() as nursery:
        a = FullNodeService(
            FullNodeConfig(root=devnet / "full_node_0", network="sim", port=0, rpc_port=0)
        )
        await nursery.start(a.run)
        assert a.full_node is not None and a.node is not None
        for block in chain_20[:5]:
            await a.full_node.add_block(block, source=None)
        b = FullNodeService(
            FullNodeConfig(
                root=devnet / "full_node_1",
                network="sim",
                port=0,
                rpc_port=0,
                peers=((LOCAL, a.node.port),),
            )
        )
        await nursery.start(b.run)
        assert b.full_node is not None
        chain_b = b.full_node.blockchain
        with chain_b.subscribe() as events, trio.fail_after(60):
            while (chain_b.peak_height or -1) < 4:
                await events.receive()

        code, out, _ = await run_cli(["show", "--root", str(devnet / "full_node_0")], capsys)
        assert code == 0
        assert "height      4" in out
        assert chain_20[4].header_hash.hex() in out
        assert "not syncing" in out
        assert "peers       1 (farmer 0, full_node 1, timelord 0)" in out

        # The devnet directory: every full node, in order.
        code, out, _ = await run_cli(["show", "--root", str(devnet)], capsys)
        assert code == 0
        assert out.index("full_node_0:") < out.index("full_node_1:")
        assert out.count("height      4") == 2

        # rpc: any method, JSON out; the role follows from the method.
        code, out, _ = await run_cli(
            ["rpc", "get_block_by_height", '{"height": 2}', "--root", str(devnet / "full_node_1")],
            capsys,
        )
        assert code == 0
        answer = json.loads(out)
        assert FullBlock.from_json_dict(answer["block"]) == chain_20[2]

        # A node error: printed as JSON, exit 1.
        code, out, err = await run_cli(
            ["rpc", "get_block", "{}", "--root", str(devnet / "full_node_1")], capsys
        )
        assert code == 1 and json.loads(out)["code"] == "bad_params"
        assert "missing parameter 'header_hash'" in err
        # Bad JSON on the command line: usage error, nothing sent.
        code, _, err = await run_cli(
            ["rpc", "get_block", "{oops", "--root", str(devnet / "full_node_1")], capsys
        )
        assert code == 2 and "JSON parameters" in err
        code, _, err = await run_cli(
            ["rpc", "get_block", "[1]", "--root", str(devnet / "full_node_1")], capsys
        )
        assert code == 2 and "must be an object" in err

        # A stopped node of the devnet: a clear error for it, exit 1, the others still shown.
        assert b.node is not None
        b.node.stop()
        await b.node.stopped.wait()
        code, out, _ = await run_cli(["show", "--root", str(devnet)], capsys)
        assert code == 1
        assert "full_node_1: cannot reach" in out and "height      4" in out
        nursery.cancel_scope.cancel()


async def test_show_without_a_node(tmp_path: Path, capsys: object) -> None:
    code, out, _ = await run_cli(["show", "--root", str(tmp_path)], capsys)
    assert code == 1 and "rpc.cookie does not exist" in out
    (tmp_path / "rpc.cookie").write_text("ab" * 32)
    code, out, _ = await run_cli(["show", "--root", str(tmp_path)], capsys)
    assert code == 1 and "is the full_node running" in out


def test_sync_line() -> None:
    assert format_sync({"syncing": False}).startswith("not syncing")
    line = format_sync(
        {
            "syncing": True,
            "progress": 0.4567,
            "height": 456,
            "target_height": 1000,
            "blocks_per_second": 12.5,
            "eta_seconds": 125.0,
        }
    )
    assert line == "syncing 45.7% (height 456 of 1000, 12.5 blocks/s, ETA 2m05s)"
    assert "ETA ?" in format_sync({"syncing": True, "progress": 0.1, "eta_seconds": None})
