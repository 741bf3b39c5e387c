"""Role processes of a devnet, each a child of the devnet's supervisor.

A process child runs ``python -m trionode --role ...`` with its output in a log file. If the
process exits, the child raises :class:`ProcessExited`, which the supervisor reports and answers
with a restart (permanent policy, backoff). Cancelling the child (Ctrl-C, shutdown) sends the
process SIGTERM, which every role handles by closing its connections and exiting 0; trio sends
SIGKILL if it has not exited within a few seconds.
"""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import sys
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio

logger = logging.getLogger(__name__)


class ProcessExited(Exception):
    """A role process ended on its own: a crash, or a clean exit nobody asked for."""

    def __init__(self, name: str, returncode: int, log_path: Path) -> None:
        self.name = name
        self.returncode = returncode
        self.log_path = log_path
        how = f"signal {-returncode}" if returncode < 0 else f"exit code {returncode}"
        super().__init__(f"process {name} ended with {how} (log: {log_path})")


@attrs.frozen
class ProcessSpec:
    name: str
    args: tuple[str, ...]  # arguments after ``python -m trionode``
    root: Path
    log_path: Path

    def command(self) -> list[str]:
        return [sys.executable, "-m", "trionode", *self.args]


async def _terminate(process: trio.Process) -> None:
    process.send_signal(signal.SIGTERM)
    with trio.move_on_after(10):
        await process.wait()
        return
    logger.warning("process %d ignored SIGTERM for 10 s: killing it", process.pid)
    process.kill()


async def run_role_process(spec: ProcessSpec, *, extra_env: dict[str, str] | None = None) -> None:
    """Run one role process until it exits (raises ProcessExited) or this task is cancelled."""
    spec.log_path.parent.mkdir(parents=True, exist_ok=True)
    env = dict(os.environ)
    env.setdefault("PYTHONUNBUFFERED", "1")
    if extra_env:
        env.update(extra_env)
    with open(spec.log_path, "ab") as log:  # noqa: ASYNC230 - opening a log file is instant
        logger.info("starting %s: %s", spec.name, " ".join(spec.args))
        result = await trio.run_process(
            spec.command(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=env,
            check=False,
            deliver_cancel=_terminate,
        )
    raise ProcessExited(spec.name, result.returncode, spec.log_path)


def rotate_console_log(path: Path) -> None:
    """Start a fresh console log for a new run: the last run's is kept as ``NAME.out.1``.

    Appending forever would mix earlier runs' lines into the tail shown when a process fails.
    """
    try:
        os.replace(path, path.with_name(path.name + ".1"))
    except FileNotFoundError:
        pass


def reason_line(path: Path) -> str | None:
    """The ``trionode: ...`` line a role process printed before it exited, if any (its own
    one-line account of why it could not start or stopped)."""
    for line in reversed(tail(path, 40).splitlines()):
        if line.startswith("trionode: "):
            return line.removeprefix("trionode: ")
    return None


def tail(path: Path, lines: int = 15) -> str:
    """The last lines of a log file, for error reports."""
    try:
        data = path.read_bytes()[-8192:]
    except OSError:
        return ""
    return "\n".join(data.decode(errors="replace").splitlines()[-lines:])


def format_args(pairs: Sequence[tuple[str, object]]) -> tuple[str, ...]:
    out: list[str] = []
    for flag, value in pairs:
        if value is None:
            continue
        out += [flag, str(value)]
    return tuple(out)
