"""kill -9 of a process in the middle of adding blocks (SQLite, and PostgreSQL when available):
the store it leaves opens (integrity check passes), holds every block the process reported
committed, and adding the rest resumes."""

from __future__ import annotations

import random
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from tests.chain_store_helpers import BACKENDS, backend_url
from tests.chain_writer_child import write_blocks
from tests.seeds import test_seed
from trionode.blockchain import Blockchain
from trionode.protocols.chain_types import FullBlock
from trionode.storage import ChainStore
from trionode.testing.block_tools import BlockTools, coin_set

REPO = Path(__file__).resolve().parents[1]
KILLS = 5


async def run_child(
    url: str, blocks_file: Path, *, kill_after_lines: int | None, jitter: float, window: int = 1
) -> tuple[list[str], int]:
    """Run the writer; with ``kill_after_lines``, SIGKILL it ``jitter`` seconds after it printed
    that many lines (so the kill lands anywhere: mid-validation, mid-transaction, mid-print).
    Returns the complete lines it printed and its exit code."""
    proc = await trio.lowlevel.open_process(
        [
            sys.executable,
            "-m",
            "tests.chain_writer_child",
            url,
            str(blocks_file),
            "sim",
            str(window),
        ],
        stdout=subprocess.PIPE,
        cwd=REPO,
    )
    assert proc.stdout is not None
    buf = b""
    lines: list[str] = []
    killed = False
    try:
        with trio.fail_after(120):
            while True:
                chunk = await proc.stdout.receive_some()
                if not chunk:
                    break
                buf += chunk
                *complete, buf = buf.split(b"\n")
                lines += [line.decode() for line in complete]
                if kill_after_lines is not None and not killed and len(lines) >= kill_after_lines:
                    await trio.sleep(jitter)
                    proc.kill()
                    killed = True
            code = await proc.wait()
    finally:
        if proc.returncode is None:
            proc.kill()
        with trio.CancelScope(shield=True):
            await proc.wait()
            await proc.stdout.aclose()
    return lines, code


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


@pytest.mark.slow
@pytest.mark.parametrize("window", [1, 8], ids=["one_by_one", "windows_of_8"])
async def test_kill_9_while_adding_blocks(
    tmp_path: Path, store_url: str, block_tools: BlockTools, chain_30: list[FullBlock], window: int
) -> None:
    """With ``window`` > 1 the blocks go in as a sync adds them (``add_blocks`` of a window:
    one transaction for it), so the kill lands in a window's validation or inside its commit;
    the window is then stored whole or not at all."""
    # 30 blocks, then a heavier fork from height 24: the last commits are a reorg.
    fork = block_tools.make_chain(8, parent_chain=chain_30[:24], seed=5)
    blocks = chain_30 + fork[24:]
    blocks_file = tmp_path / "blocks.bin"
    write_blocks(blocks_file, blocks)
    url = store_url

    seed = test_seed()  # replay a failure with TRIONODE_TEST_SEED=<seed in the message>
    rng = random.Random(seed)
    reported: set[str] = set()
    total = len(blocks)
    for attempt in range(KILLS):
        # Each run first re-reads the blocks it already has ("have" lines), then commits new
        # ones; kill somewhere among the next few commits.
        have = len(reported)
        target = min(total, have + rng.randint(1, 6))
        jitter = rng.uniform(0, 0.02)
        lines, code = await run_child(
            url, blocks_file, kill_after_lines=target, jitter=jitter, window=window
        )
        why = f"seed {seed}, attempt {attempt}, kill after {target} lines + {jitter:.4f}s"
        assert code in (-9, 0), (why, code, lines)
        words = [line.split() for line in lines if line]
        assert all(w[0] in ("committed", "have", "done") for w in words), (why, lines)
        reported |= {w[2] for w in words if w[0] in ("committed", "have")}

        async with await ChainStore.open(url) as store:  # integrity check runs here
            chain = await Blockchain.create(store, block_tools.constants)
            for header_hash in reported:
                assert chain.contains_block(bytes.fromhex(header_hash)), (why, header_hash)  # type: ignore[arg-type]
            stored = [b for b in blocks if chain.contains_block(b.header_hash)]
            # Nothing half-added: every stored block is a prefix of the input order.
            assert stored == blocks[: len(stored)], why
            if len(stored) <= 32:
                # Up to the reorg (whose fork's coin changes a restarted writer reads first,
                # which splits that window's commit), a window is stored whole or not at all.
                assert len(stored) % window == 0, (why, len(stored))

    lines, code = await run_child(url, blocks_file, kill_after_lines=None, jitter=0, window=window)
    assert code == 0 and lines[-2:] == [lines[-2], "done"], lines
    async with await ChainStore.open(url) as store:
        chain = await Blockchain.create(store, block_tools.constants)
        assert chain.get_header_hashes() == [b.header_hash for b in fork]
        coins = await store.get_coin_records([c for c in coin_set(fork)])
        assert coins == coin_set(fork)
