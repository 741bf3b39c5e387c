"""The README's first command, as a process: ``python -m trionode devnet --root TMP --blocks 2``
sets up a devnet (keys, 4 k=18 plots, certificates), runs its introducer, two full nodes,
farmer, harvester and timelord as separate processes, and exits 0 once both full nodes hold the
same chain of at least 2 blocks. Real time (other processes, real VDFs): 30-90 s on 2 cores."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import get_constants
from trionode.devnet.layout import DevnetLayout
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_url


async def stored_hashes(root: Path) -> list[bytes]:
    async with await ChainStore.open(default_db_url(root, "devnet")) as store:
        chain = await Blockchain.create(store, get_constants("devnet"))
        return list(chain.get_header_hashes())


@pytest.mark.slow
async def test_devnet_blocks_2_exits_0_with_the_same_chain_on_both_nodes(tmp_path: Path) -> None:
    root = tmp_path / "devnet"
    cmd = [sys.executable, "-m", "trionode", "devnet", "--root", str(root), "--blocks", "2"]
    with trio.fail_after(600):
        result = await trio.run_process(cmd, capture_stdout=True, capture_stderr=True, check=False)
    out = (result.stdout[-3000:] + result.stderr[-3000:]).decode(errors="replace")
    assert result.returncode == 0, out
    layout = DevnetLayout(root)
    assert len(list(layout.plots.glob("*.plot"))) == 4
    first, second = (
        await stored_hashes(layout.full_node(0)),
        await stored_hashes(layout.full_node(1)),
    )
    assert len(first) >= 2 and len(second) >= 2
    common = min(len(first), len(second))
    assert first[:common] == second[:common]
