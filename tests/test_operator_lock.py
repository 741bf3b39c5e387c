"""One process per root and role: an OS file lock held for the process's life (real processes)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from trionode import runfiles

TIMEOUT = 120


def start_node(root: Path, *extra: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trionode", "--role", "full_node", "--root", str(root)]
        + ["--port", "0", "--rpc-port", "0", "--network", "sim", *extra],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def wait_ready(proc: subprocess.Popen[str], root: Path) -> dict[str, object]:
    """Read the node's output until it says it is ready (its ready file is then written)."""
    assert proc.stdout is not None
    lines = []
    for line in proc.stdout:
        lines.append(line)
        if "full_node ready on port" in line:
            data = runfiles.read_json(runfiles.ready_path(root, "full_node"))
            assert isinstance(data, dict)
            return data
    raise AssertionError("the node exited before it was ready:\n" + "".join(lines))


def run_cli(*args: str) -> tuple[int, str]:
    proc = subprocess.run(
        [sys.executable, "-m", "trionode", *args],
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
        stdin=subprocess.DEVNULL,
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return proc.returncode, out


def dead_pid() -> int:
    """The pid of a process that has exited (and been reaped)."""
    proc = subprocess.run(
        [sys.executable, "-c", "import os; print(os.getpid())"],
        check=True,
        capture_output=True,
        text=True,
    )
    return int(proc.stdout)


def test_second_instance_refuses_and_sigterm_stops_cleanly(tmp_path: Path) -> None:
    root = tmp_path / "node"
    with start_node(root) as first:
        try:
            ready = wait_ready(first, root)
            assert ready["pid"] == first.pid
            lock = runfiles.lock_path(root, "full_node")
            assert lock.read_text().strip() == str(first.pid)

            code, out = run_cli(
                "--role", "full_node", "--root", str(root), "--port", "0", "--rpc-port", "0"
            )
            assert code == 1
            assert out.strip() == f"trionode: another full_node (pid {first.pid}) is using {root}"
            # The refused instance touched nothing of the running one.
            assert runfiles.read_json(runfiles.ready_path(root, "full_node")) == ready

            first.send_signal(signal.SIGTERM)
            assert first.wait(timeout=TIMEOUT) == 0
            assert first.stdout is not None
            rest = first.stdout.read()
            assert "Traceback" not in rest and "full_node stopped" in rest
        finally:
            first.kill()
    assert lock.read_text() == ""  # a clean stop leaves no pid behind


def test_stale_lock_of_a_dead_process_is_taken_over(tmp_path: Path) -> None:
    root = tmp_path / "node"
    pid = dead_pid()
    lock = runfiles.lock_path(root, "full_node")
    lock.parent.mkdir(parents=True)
    lock.write_text(f"{pid}\n")  # what a killed node leaves (the kernel dropped its flock)
    with start_node(root) as node:
        try:
            wait_ready(node, root)
            assert lock.read_text().strip() == str(node.pid)
            code, out = run_cli("rpc", "stop_node", "--root", str(root))
            assert code == 0, out
            assert node.wait(timeout=TIMEOUT) == 0
        finally:
            node.kill()
    log = (root / "log" / "full_node.log").read_text()
    assert f"took over the lock {lock}: its holder (pid {pid}) is no longer running" in log
    assert " INFO " in next(line for line in log.splitlines() if "took over the lock" in line)


@pytest.mark.slow
def test_devnet_and_testnet_check_every_root_first(tmp_path: Path) -> None:
    base = tmp_path / "net"
    # A full node already runs on the root devnet would give its second full node.
    with start_node(base / "full_node_1") as node:
        try:
            wait_ready(node, base / "full_node_1")
            code, out = run_cli("devnet", "--root", str(base), "--blocks", "1")
            assert code == 1
            assert out.strip() == (
                f"trionode: another full_node (pid {node.pid}) is using {base / 'full_node_1'}"
            )
            # Nothing was set up: no keys, no plots, no process started.
            assert not (base / "farm").exists() and not (base / "plots").exists()
        finally:
            node.send_signal(signal.SIGTERM)
            node.wait(timeout=TIMEOUT)
    # And a second driver on a directory another one holds.
    held = runfiles.RootLock(base, "testnet").acquire()
    try:
        code, out = run_cli("testnet", "--root", str(base), "--nodes", "2", "--blocks", "1")
        assert code == 1
        assert (
            out.strip() == f"trionode: testnet: another testnet (pid {os.getpid()}) is using {base}"
        )
    finally:
        held.release()


def test_lock_is_exclusive_between_processes(tmp_path: Path) -> None:
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from trionode import runfiles; "
            f"runfiles.RootLock(__import__('pathlib').Path({str(tmp_path)!r}), 'farmer').acquire(); "
            "print('locked', flush=True); sys.stdin.read()",
        ],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
    )
    with holder:
        assert holder.stdout is not None and holder.stdin is not None
        assert holder.stdout.readline() == "locked\n"
        with pytest.raises(runfiles.RootBusy, match=rf"another farmer \(pid {holder.pid}\)"):
            runfiles.check_free(tmp_path, "farmer")
        runfiles.check_free(tmp_path, "harvester")  # another role: another lock
        holder.stdin.close()  # the holder exits: the kernel drops its lock
        assert holder.wait(timeout=TIMEOUT) == 0
    runfiles.check_free(tmp_path, "farmer")
    with runfiles.RootLock(tmp_path, "farmer") as lock:
        assert lock.stale_pid == holder.pid  # it never released cleanly
