"""A full node as a real process: a corrupt store stops start-up with a specific error and a
non-zero exit (nothing is touched); `rpc stop_node` ends the process with exit 0."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import trio

from trionode import runfiles
from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import get_constants
from trionode.rpc.client import find_rpc_port
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_path, default_db_url
from trionode.testing.block_tools import BlockTools


def _rows(db: Path) -> dict[str, list[tuple[object, ...]]]:
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {t: sorted(conn.execute(f"SELECT * FROM {t}").fetchall()) for t in tables}


def node_cmd(root: Path, *extra: str) -> list[str]:
    return [
        sys.executable,
        "-m",
        "trionode",
        "--role",
        "full_node",
        "--root",
        str(root),
        "--network",
        "sim",
        "--port",
        "0",
        "--rpc-port",
        "0",
        *extra,
    ]


async def test_corrupt_store_stops_start_up(tmp_path: Path, block_tools: BlockTools) -> None:
    root = tmp_path / "node"
    constants = get_constants("sim")
    chain = block_tools.make_chain(4)
    async with await ChainStore.open(default_db_url(root, "sim")) as store:
        blockchain = await Blockchain.create(store, constants)
        for block in chain:
            assert (await blockchain.add_block(block)).added
    db = default_db_path(root, "sim")
    with sqlite3.connect(db) as conn:
        conn.execute("DELETE FROM chain WHERE height = 2")
    before = _rows(db)
    result = await trio.run_process(
        node_cmd(root), capture_stdout=True, capture_stderr=True, check=False
    )
    assert result.returncode == 1
    err = result.stderr.decode()
    assert "cannot open the chain store" in err and "height" in err
    assert "Traceback" not in err
    assert _rows(db) == before  # start-up did not try to "repair" anything


def test_rpc_stop_node_ends_the_process(tmp_path: Path) -> None:
    root = tmp_path / "node"
    proc = subprocess.Popen(node_cmd(root), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 60
        while find_rpc_port(root, "full_node") is None:
            assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
            assert time.monotonic() < deadline
            time.sleep(0.1)
        out = subprocess.run(
            [sys.executable, "-m", "trionode", "rpc", "stop_node", "--root", str(root)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        assert proc.wait(timeout=30) == 0
        assert runfiles.read_json(runfiles.ready_path(root, "full_node")) is not None
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stderr:
            proc.stderr.close()
