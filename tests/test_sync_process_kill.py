"""Long sync between real processes, with the syncing node SIGKILLed part-way: its store opens
clean (the integrity check passes at start-up), the blocks it committed are kept, and the
restarted node finishes the sync to the same tip."""

from __future__ import annotations

import random
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from tests.seeds import test_seed
from trionode import runfiles
from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import get_constants
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_url
from trionode.sync import SyncConfig
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import preload

BLOCKS = 150


def start(root: Path, *extra: str) -> subprocess.Popen[bytes]:
    cmd = [sys.executable, "-m", "trionode", "--role", "full_node", "--root", str(root)]
    cmd += ["--network", "sim", "--port", "0", "--rpc-port", "0", "--log-level", "INFO", *extra]
    log = open(root.parent / f"{root.name}.log", "ab")  # noqa: SIM115 - closed by the process's end
    try:
        return subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT)
    finally:
        log.close()


async def wait_for(
    what: str, check: object, proc: subprocess.Popen[bytes], deadline: float
) -> object:
    """Poll ``check`` (a file another process writes) until it holds. The other process sends
    no event, so this is a real-time poll, with a generous bound and without blocking trio."""
    with trio.move_on_after(deadline):
        while True:
            value = check()  # type: ignore[operator]
            if value:
                return value
            assert proc.poll() is None, f"process ended while waiting for {what}"
            await trio.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def status(root: Path) -> dict | None:
    return runfiles.read_json(runfiles.status_path(root, "full_node"))


async def stored_height(root: Path) -> int | None:
    async with await ChainStore.open(default_db_url(root, "sim")) as store:  # checks integrity
        chain = await Blockchain.create(store, get_constants("sim"))
        return chain.peak_height


@pytest.mark.slow
async def test_sigkill_mid_sync_then_resume(tmp_path: Path, block_tools: BlockTools) -> None:
    blocks = await trio.to_thread.run_sync(block_tools.make_chain, BLOCKS)
    server_root, client_root = tmp_path / "server", tmp_path / "client"
    await preload(server_root, "sim", blocks)
    server = start(server_root)
    client: subprocess.Popen[bytes] | None = None
    try:
        ready = await wait_for(
            "server ready",
            lambda: runfiles.read_json(runfiles.ready_path(server_root, "full_node")),
            server,
            60,
        )
        peer = f"127.0.0.1:{ready['port']}"  # type: ignore[index]
        client = start(client_root, "--peer", peer)
        # Kill it part-way: once its status shows at least ``target`` blocks, with the target
        # drawn from a seed (replay with TRIONODE_TEST_SEED=<seed>). The target lies in the
        # first window, so the kill lands while the next one (the rest of the chain, more than
        # a hundred blocks) is still to come.
        seed = test_seed()
        target = random.Random(seed).randint(1, SyncConfig().first_window - 1)
        why = f"seed {seed}: kill once height >= {target}"
        await wait_for(
            f"some blocks synced ({why})",
            lambda: (s := status(client_root)) is not None and (s.get("height") or 0) >= target,
            client,
            120,
        )
        client.send_signal(signal.SIGKILL)
        client.wait()
        kept = await stored_height(client_root)
        # The kill landed mid-sync: some blocks kept, not all of them.
        assert kept is not None and target <= kept < BLOCKS - 1, (why, kept)

        client = start(client_root, "--peer", peer)
        await wait_for(
            "the server's tip",
            lambda: (
                (s := status(client_root)) is not None
                and s.get("peak") == blocks[-1].header_hash.hex()
            ),
            client,
            120,
        )
    finally:
        for proc in (client, server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    assert await stored_height(client_root) == BLOCKS - 1


@pytest.mark.slow
async def test_sigkill_anywhere_in_the_pipelined_sync(
    tmp_path: Path, block_tools: BlockTools
) -> None:
    """Killed at a random instant once the long sync runs (downloading, validating headers of
    one window while the window below verifies or commits): whatever the stage, the store opens
    clean and holds a prefix of the server's chain (a window is committed whole or not at
    all), and the restarted node finishes the sync."""
    blocks = await trio.to_thread.run_sync(block_tools.make_chain, BLOCKS)
    server_root, client_root = tmp_path / "server", tmp_path / "client"
    await preload(server_root, "sim", blocks)
    server = start(server_root)
    client: subprocess.Popen[bytes] | None = None
    try:
        ready = await wait_for(
            "server ready",
            lambda: runfiles.read_json(runfiles.ready_path(server_root, "full_node")),
            server,
            60,
        )
        peer = f"127.0.0.1:{ready['port']}"  # type: ignore[index]
        client = start(client_root, "--peer", peer)
        seed = test_seed()
        jitter = random.Random(seed).uniform(0, 1.0)
        why = f"seed {seed}: kill {jitter:.3f} s after the sync started"
        await wait_for(
            f"the sync to start ({why})",
            # (or blocks stored already: the status file is written at intervals)
            lambda: (
                (s := status(client_root)) is not None
                and (s["sync"]["syncing"] or s.get("height") is not None)
            ),
            client,
            120,
        )
        await trio.sleep(jitter)  # a real process: the instant of the kill is the point
        client.send_signal(signal.SIGKILL)
        client.wait()
        async with await ChainStore.open(default_db_url(client_root, "sim")) as store:
            chain = await Blockchain.create(store, get_constants("sim"))
            stored = chain.get_header_hashes()
        assert stored == [b.header_hash for b in blocks[: len(stored)]], why

        client = start(client_root, "--peer", peer)
        await wait_for(
            "the server's tip",
            lambda: (
                (s := status(client_root)) is not None
                and s.get("peak") == blocks[-1].header_hash.hex()
            ),
            client,
            120,
        )
    finally:
        for proc in (client, server):
            if proc is not None and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
    assert await stored_height(client_root) == BLOCKS - 1
