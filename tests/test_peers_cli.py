"""The full node and introducer entry points as real processes: discover, then exit 0 on a signal."""

from __future__ import annotations

import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import trio

from trionode.peers.addresses import parse_host_port


def test_parse_host_port() -> None:
    assert parse_host_port("127.0.0.1:8444") == ("127.0.0.1", 8444)
    assert parse_host_port("[::1]:8445") == ("::1", 8445)
    for bad in ("127.0.0.1", ":80", "host:x", "host:70000", "host:0"):
        with pytest.raises(ValueError, match="HOST:PORT|out of range"):
            parse_host_port(bad)


class Proc:
    """A role in its own process; its log lines are collected as they come."""

    def __init__(self, process: trio.Process) -> None:
        self.process = process
        self.lines: list[str] = []
        self.changed = trio.Event()

    async def pump(self) -> None:
        assert self.process.stderr is not None
        buf = b""
        async for chunk in self.process.stderr:
            buf += chunk
            *done, buf = buf.split(b"\n")
            self.lines += [line.decode() for line in done]
            self.changed.set()
            self.changed = trio.Event()

    async def wait_line(self, pattern: str) -> re.Match[str]:
        while True:
            for line in self.lines:
                found = re.search(pattern, line)
                if found:
                    return found
            await self.changed.wait()

    def count(self, pattern: str) -> int:
        return sum(1 for line in self.lines if re.search(pattern, line))


async def start(nursery: trio.Nursery, role: str, root: Path, *args: str) -> Proc:
    cmd = [sys.executable, "-m", "trionode", "--role", role, "--root", str(root), "--port", "0"]
    cmd += ["--rpc-port", "0", "--network", "sim", *args]
    process = await trio.lowlevel.open_process(cmd, stderr=subprocess.PIPE)
    proc = Proc(process)
    nursery.start_soon(proc.pump)
    return proc


@pytest.mark.slow
async def test_processes_discover_and_stop_cleanly(nursery: trio.Nursery, tmp_path: Path) -> None:
    procs: list[Proc] = []
    try:
        # A bound against hangs, not a speed goal: loaded CI machines start processes slowly.
        with trio.fail_after(120):
            intro = await start(nursery, "introducer", tmp_path / "i")
            procs.append(intro)
            port = int((await intro.wait_line(r"listening on port (\d+)")).group(1))
            for name in ("a", "b", "c"):
                procs.append(
                    await start(
                        nursery, "full_node", tmp_path / name, "--introducer", f"127.0.0.1:{port}"
                    )
                )
            for proc in procs[1:]:
                # Two full-node peers each (plus the introducer's connection, which comes and goes).
                while proc.count(r"connected <full_node") < 2:
                    await proc.changed.wait()
            for proc in procs:
                proc.process.send_signal(signal.SIGINT)
            for proc in procs:
                with trio.fail_after(10):
                    assert await proc.process.wait() == 0
                assert any("stopped" in line for line in proc.lines)
    finally:
        for proc in procs:
            if proc.process.returncode is None:
                proc.process.kill()
                await proc.process.wait()
