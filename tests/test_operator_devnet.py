"""The README's devnet, run as an operator would: it explains itself once ready, the commands it
prints work as printed (``show``, ``rpc``, ``wallet`` on the devnet directory with ``--node``),
one devnet per directory, a node stopped over RPC stays stopped, Ctrl-C exits 0; a node that
cannot start is reported once, with this run's log only."""

from __future__ import annotations

import json
import os
import queue
import re
import shlex
import signal
import subprocess
import sys
import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from tests.conftest import Farm
from trionode.devnet.layout import DevnetLayout

TIMEOUT = 600


class Lines:
    """The output of a process, line by line, with a timeout on each wait."""

    def __init__(self, proc: subprocess.Popen[str]) -> None:
        self.proc = proc
        self.seen: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, needle: str) -> str:
        while True:
            try:
                line = self._queue.get(timeout=TIMEOUT)
            except queue.Empty:
                raise AssertionError(f"no {needle!r} yet:\n" + "\n".join(self.seen)) from None
            if line is None:
                raise AssertionError(f"exited before {needle!r}:\n" + "\n".join(self.seen))
            self.seen.append(line)
            if needle in line:
                return line

    def rest(self) -> str:
        while (line := self._queue.get(timeout=TIMEOUT)) is not None:
            self.seen.append(line)
        return "\n".join(self.seen)


def devnet(*args: str) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [sys.executable, "-m", "trionode", "devnet", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        stdin=subprocess.DEVNULL,
        text=True,
    )


def stop(proc: subprocess.Popen[str]) -> None:
    """On a failed assertion too: SIGINT, so the devnet stops its role processes (a SIGKILL
    would leave them running without it)."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGINT)
        try:
            proc.wait(timeout=TIMEOUT)
        except subprocess.TimeoutExpired:
            proc.kill()


def run(argv: list[str]) -> tuple[int, str]:
    proc = subprocess.run(
        argv, capture_output=True, text=True, timeout=TIMEOUT, stdin=subprocess.DEVNULL
    )
    out = proc.stdout + proc.stderr
    assert "Traceback" not in out, out
    return proc.returncode, out


def pasted(command: str) -> list[str]:
    """A printed ``python -m trionode ...`` command, as the shell would run it."""
    argv = shlex.split(command)
    assert argv[:3] == ["python", "-m", "trionode"], command
    return [sys.executable, *argv[1:]]


@pytest.mark.slow
def test_devnet_explains_itself_and_its_commands_work(
    tmp_path: Path, seed_devnet_farm: Callable[[Path], Farm]
) -> None:
    base = tmp_path / "devnet"
    layout = DevnetLayout(base)
    # The suite's farm (fixed keys, 4 plots) in place: the devnet reuses it instead of making
    # plots (test_devnet_process runs a devnet on a fresh directory).
    seed_devnet_farm(base)
    with devnet("--root", str(base)) as proc:
        out = Lines(proc)
        try:
            out.expect("devnet: ready:")
            out.expect("devnet: Ctrl-C to stop")
            text = "\n".join(out.seen)
            # Where everything is.
            for path in (layout.introducer, layout.full_node(0), layout.full_node(1), layout.farm):
                assert str(path) in text
            assert f"logs: {base / 'logs'}/<name>.out" in text
            commands = [
                line.removeprefix("devnet:").strip()
                for line in out.seen
                if line.startswith("devnet:   python -m trionode ")
            ]
            assert [c.split()[3] for c in commands] == ["show", "rpc", "rpc", "wallet"]

            # Every printed command works as printed, against the devnet directory. Each is a
            # process of its own: they run at once (so do the independent checks further down,
            # while the farm makes its first coins).
            with ThreadPoolExecutor(4) as pool:
                (code, shown), (code_s, state), (code_p, plots), (code_b, balance) = pool.map(
                    run, [pasted(c) for c in commands]
                )
                assert code == 0, shown
                assert "full_node_0: full node on network devnet" in shown
                assert "full_node_1: full node on network devnet" in shown
                # get_blockchain_state --node full_node_1
                assert code_s == 0 and "--node full_node_1" in commands[1], state
                assert json.loads(state)["blockchain_state"]["network"] == "devnet"
                assert code_p == 0, plots  # get_plots --node farm
                assert "harvesters" in json.loads(plots)  # the farmer answered
                assert code_b == 0, balance  # wallet balance --root DIR
                assert re.search(r"^total  \d+$", balance, re.M), balance

                # show on one node of it; a wrong --node; a second devnet on the directory.
                one_node = pool.submit(run, pasted(f"{commands[0]} --node full_node_1"))
                wrong_node = pool.submit(run, pasted(f"{commands[1].replace('full_node_1', 'n7')}"))
                second_devnet = pool.submit(
                    run, [sys.executable, "-m", "trionode", "devnet", "--root", str(base)]
                )

                # A payment, once the farm has coins: one line on success, no peer-layer log
                # lines.
                while re.search(r"^total  0$", balance, re.M):
                    proc_alive = proc.poll() is None
                    assert proc_alive, "\n".join(out.seen)
                    out_line = out.expect("node0: height")  # the devnet saw the chain move
                    assert "node0" in out_line
                    code, balance = run(pasted(commands[3]))
                    assert code == 0, balance
                code, paid = run(
                    pasted(
                        f"python -m trionode wallet send --root {base} --to {'ab' * 32} --amount 1"
                    )
                )
                assert code == 0, paid
                assert re.fullmatch(
                    r"transaction [0-9a-f]{64} accepted by 127\.0\.0\.1:\d+\n", paid
                )

                code, one = one_node.result()
                assert code == 0 and "full_node_0" not in one and "full_node_1:" in one, one
                # A wrong --node names the nodes there are.
                code, wrong = wrong_node.result()
                assert code == 2
                assert (
                    "its nodes are introducer" not in wrong and "full_node_0, full_node_1" in wrong
                )
                # A second devnet on the same directory refuses before touching anything.
                code, second = second_devnet.result()
                assert code == 1
                assert (
                    second.strip() == f"trionode: another devnet (pid {proc.pid}) is using {base}"
                )

            # A node stopped over RPC is stopped, not crashed, and not restarted.
            code, stopped = run(
                pasted(f"python -m trionode rpc stop_node --root {base} --node full_node_1")
            )
            assert code == 0, stopped
            out.expect("full_node_1 stopped (exit code 0, e.g. rpc stop_node); not restarting it")

            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=TIMEOUT) == 0
            text = out.rest()
        finally:
            stop(proc)
    assert "Traceback" not in text and "crashed" not in text, text
    assert "devnet: SIGINT: stopping" in text


@pytest.mark.slow
def test_devnet_node_that_cannot_start_is_reported_once(
    tmp_path: Path, seed_devnet_farm: Callable[[Path], Farm]
) -> None:
    base = tmp_path / "devnet"
    seed_devnet_farm(base)  # no plot to make
    store = base / "full_node_0" / "db" / "blockchain_devnet.sqlite"
    store.parent.mkdir(parents=True)
    store.write_bytes(os.urandom(8192))  # not a database
    reason = "full_node_0 could not start: cannot open the chain store: corrupt chain store"
    for _ in (1, 2):  # twice: the second run's tail has no line of the first
        code, out = run(
            [sys.executable, "-m", "trionode", "devnet", "--root", str(base)]
            + ["--full-nodes", "1", "--plots", "1", "--blocks", "1"]
        )
        assert code == 1, out
        assert out.count(reason) == 1, out
        assert out.count("last lines of") == 1, out
        # The tail is this run's: the process printed its one line once per run.
        assert out.count("trionode: cannot open the chain store") == 1, out
        assert "crashed" not in out and "restarting" not in out, out
    assert (base / "logs" / "full_node_0.out.1").exists()  # the first run's, kept aside
