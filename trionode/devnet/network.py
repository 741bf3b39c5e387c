"""Running a devnet: every role as a separate, supervised process, with live progress.

Start order follows who dials whom (PROTOCOL.md): the introducer, then the full nodes (node 0
first; the others also keep node 0 as a peer), then farmer, harvester and timelord. Every
process listens on a port of the OS's choice; the devnet reads it from the process's ready file
and pins it for restarts, so a restarted process comes back where its peers redial.
"""

from __future__ import annotations

import logging
import os
import shlex
import time
from collections.abc import Callable
from pathlib import Path

import attrs
import trio

from trionode import runfiles
from trionode.consensus import ConsensusConstants
from trionode.devnet.layout import DevnetLayout
from trionode.devnet.processes import (
    ProcessExited,
    ProcessSpec,
    reason_line,
    rotate_console_log,
    run_role_process,
    tail,
)
from trionode.nursery import (
    ChildInfo,
    ChildState,
    RestartIntensityExceeded,
    RestartPolicy,
    Supervisor,
)

logger = logging.getLogger(__name__)

LOCAL = "127.0.0.1"
READY_TIMEOUT = 60.0
PROGRESS_INTERVAL = 2.0


class DevnetError(Exception):
    """The devnet could not do what was asked; the message says why."""


@attrs.define
class Devnet:
    layout: DevnetLayout
    constants: ConsensusConstants
    full_nodes: int
    say: Callable[[str], None]
    log_level: str = "INFO"
    # Harvester protocol of each harvester (``--harvesters v1,v2``) and whether a pool runs.
    harvesters: tuple[str, ...] = ("v2",)
    pool: bool = False
    specs: dict[str, ProcessSpec] = attrs.field(factory=dict)
    ports: dict[str, int] = attrs.field(factory=dict)
    pids: dict[str, int] = attrs.field(factory=dict)
    crashes: dict[str, str] = attrs.field(factory=dict)
    stopping: bool = False

    # ------------------------------------------------------------------ processes

    def _spec(self, name: str, role: str, root: Path, *args: str) -> ProcessSpec:
        base = (
            "--role",
            role,
            "--root",
            str(root),
            "--network",
            self.constants.network_name,
            "--log-level",
            self.log_level,
            # Several nodes share the machine: RPC on a port of the OS's choice (the ready file
            # says which) instead of every full node wanting config.yaml's 8555.
            "--rpc-port",
            "0",
            # Metrics on too, for every role, also on a port of the OS's choice (ready file).
            "--metrics-port",
            "0",
        )
        return ProcessSpec(name, base + args, root, self.layout.console_log(name))

    async def _child(self, name: str, role: str) -> None:
        """One run of a role process (the supervisor calls this again after a crash)."""
        spec = self.specs[name]
        # Port 0 the first time; after that the port it got, where its peers redial.
        port = self.ports.get(name, 0)
        try:
            await run_role_process(attrs.evolve(spec, args=(*spec.args, "--port", str(port))))
        except ProcessExited as exc:
            if exc.returncode == 0:
                return  # it was asked to stop (rpc stop_node): done, not a crash
            raise

    async def _start(self, supervisor: Supervisor, name: str, role: str, spec: ProcessSpec) -> int:
        self.specs[name] = spec
        ready = runfiles.ready_path(spec.root, role)
        ready.unlink(missing_ok=True)
        rotate_console_log(spec.log_path)
        # TRANSIENT: a process that exits 0 was stopped on purpose and stays stopped; one that
        # fails is restarted.
        await supervisor.start_child(name, self._child, name, role, policy=RestartPolicy.TRANSIENT)
        with trio.move_on_after(READY_TIMEOUT):
            while True:
                data = runfiles.read_json(ready)
                if data is not None and isinstance(data.get("port"), int):
                    self.ports[name] = data["port"]
                    if isinstance(data.get("pid"), int):
                        self.pids[name] = data["pid"]
                    self.say(f"{name} is up on port {data['port']}")
                    return int(data["port"])
                if name in self.crashes:
                    break
                await trio.sleep(0.1)
        reason = reason_line(spec.log_path) or self.crashes.get(name, "timed out")
        raise DevnetError(
            f"{name} could not start: {reason}\n"
            f"last lines of {spec.log_path}:\n{tail(spec.log_path)}"
        )

    def _on_change(self, info: ChildInfo) -> None:
        if self.stopping:
            return
        exc = info.last_exception
        if info.state is ChildState.STOPPED:
            self.say(f"{info.name} stopped (exit code 0, e.g. rpc stop_node); not restarting it")
            return
        if info.state not in (ChildState.RESTARTING, ChildState.FAILED):
            return
        reason = str(exc) if exc is not None else "ended"
        self.crashes[info.name] = reason
        if info.name not in self.ports:
            return  # it never became ready: _start reports it, with its log, and stops
        what = "restarting it" if info.state is ChildState.RESTARTING else "giving up"
        if isinstance(exc, ProcessExited):
            reason = reason_line(exc.log_path) or reason
        self.say(f"{info.name} crashed ({reason}); {what} (restart #{info.restart_count})")
        if isinstance(exc, ProcessExited):
            self.say(f"    last lines of {exc.log_path}:")
            for line in tail(exc.log_path, 8).splitlines():
                self.say(f"    {line}")

    async def run(self, *, blocks: int | None, deadline_seconds: float) -> int:
        supervisor = Supervisor(
            "devnet",
            max_restarts=5,
            within_seconds=120.0,
            backoff_initial=1.0,
            backoff_max=10.0,
            shutdown_timeout=15.0,
            on_change=self._on_change,
        )
        result = 0
        async with trio.open_nursery() as nursery:
            await nursery.start(self._supervise, supervisor)
            try:
                await self._start_processes(supervisor)
                for line in self.ready_lines(blocks):
                    self.say(line)
                result = await self._watch(blocks, deadline_seconds)
            except DevnetError as exc:
                self.say(f"failed: {exc}")
                result = 1
            finally:
                self.stopping = True
                self.say("stopping every process")
                with trio.CancelScope(shield=True), trio.move_on_after(60):
                    await supervisor.shutdown()
                nursery.cancel_scope.cancel()
        return result

    async def _launch(
        self, supervisor: Supervisor, name: str, role: str, root: Path, *args: str
    ) -> int:
        return await self._start(supervisor, name, role, self._spec(name, role, root, *args))

    async def _start_processes(self, supervisor: Supervisor) -> None:
        """Start every process in dependency order, each once the one it dials is ready."""
        layout = self.layout
        intro = await self._launch(supervisor, "introducer", "introducer", layout.introducer)
        node0 = 0
        for i in range(self.full_nodes):
            args = ["--introducer", f"{LOCAL}:{intro}"]
            if i > 0:
                args += ["--peer", f"{LOCAL}:{node0}"]
            port = await self._launch(
                supervisor, f"full_node_{i}", "full_node", layout.full_node(i), *args
            )
            node0 = port if i == 0 else node0
        node = f"{LOCAL}:{node0}"
        farmer_args = ["--full-node", node]
        if self.pool:
            pool = await self._launch(supervisor, "pool", "pool", layout.pool, "--full-node", node)
            farmer_args += ["--pool", f"{LOCAL}:{pool}"]
        farmer = await self._launch(supervisor, "farmer", "farmer", layout.farm, *farmer_args)
        for i, protocol in enumerate(self.harvesters):
            name = "harvester" if i == 0 else f"harvester_{i}"
            args = ["--farmer", f"{LOCAL}:{farmer}", "--protocol", protocol]
            args += ["--plots", str(layout.harvester_plots(i))]
            if i == 0 and self.pool:
                args += ["--plots", str(layout.pooled_plots)]
            await self._launch(supervisor, name, "harvester", layout.harvester(i), *args)
        await self._launch(supervisor, "timelord", "timelord", layout.farm, "--full-node", node)

    async def _supervise(
        self, supervisor: Supervisor, *, task_status: trio.TaskStatus[Supervisor]
    ) -> None:
        try:
            await supervisor.run(task_status=task_status)
        except RestartIntensityExceeded as exc:
            self.say(f"devnet failed: {exc}")
            raise

    # ------------------------------------------------------------------ the operator's guide

    def ready_lines(self, blocks: int | None) -> list[str]:
        """What the operator needs once everything runs: roots, logs, how to stop, what to try."""
        base = self.layout.base
        q = shlex.quote
        names = [f"full_node_{i}" for i in range(self.full_nodes)]
        lines = [
            f"ready: introducer, {len(names)} full nodes, farmer, harvester, timelord on 127.0.0.1",
            "roots:",
            f"  introducer                   {self.layout.introducer}",
            *(f"  {n:<28} {self.layout.full_node(i)}" for i, n in enumerate(names)),
            f"  farmer, harvester, timelord  {self.layout.farm} (farm keys; plots in "
            f"{self.layout.plots})",
            f"logs: {base / 'logs'}/<name>.out (this run's console output; the last run's is "
            "<name>.out.1), and ROOT/log/<role>.log in each root",
            "try, in another terminal:",
            f"  python -m trionode show --root {q(str(base))}",
            f"  python -m trionode rpc get_blockchain_state --root {q(str(base))} --node "
            f"{names[-1]}",
            f"  python -m trionode rpc get_plots --root {q(str(base))} --node farm",
            f"  python -m trionode wallet balance --root {q(str(base))}",
        ]
        if blocks is None:
            lines.append("Ctrl-C to stop")
        else:
            lines.append(
                f"stops by itself once every full node holds {blocks} blocks; Ctrl-C to stop sooner"
            )
        return lines

    # ------------------------------------------------------------------ progress

    def statuses(self) -> list[dict | None]:
        return [
            runfiles.read_json(runfiles.status_path(self.layout.full_node(i), "full_node"))
            for i in range(self.full_nodes)
        ]

    def cpu_report(self) -> str:
        parts = []
        for name, pid in self.pids.items():
            cpu = process_cpu_seconds(pid)
            if cpu is not None:
                parts.append(f"{name} {cpu:.1f}")
        return ", ".join(parts) if parts else "unknown"

    def _line(self, statuses: list[dict | None], started: float) -> str:
        parts = []
        for i, st in enumerate(statuses):
            if st is None:
                parts.append(f"node{i}: starting")
                continue
            height = st.get("height")
            peers = st.get("peers", {})
            parts.append(
                f"node{i}: height {'-' if height is None else height} "
                f"tips {len(st.get('tips', []))} peers {peers.get('full_node', 0)}"
            )
        return f"[{time.monotonic() - started:6.1f}s] " + " | ".join(parts)

    async def _watch(self, blocks: int | None, deadline_seconds: float) -> int:
        started = time.monotonic()
        last = ""
        deadline = trio.current_time() + deadline_seconds if blocks is not None else float("inf")
        while True:
            statuses = self.statuses()
            line = self._line(statuses, started)
            if line.split("] ", 1)[1] != last:
                self.say(line)
                last = line.split("] ", 1)[1]
            if blocks is not None and _agree(statuses, blocks):
                peak = statuses[0]["peak"] if statuses[0] else "?"
                self.say(
                    f"every full node holds the same chain of {statuses[0]['height'] + 1} blocks "  # type: ignore[index]
                    f"(peak {str(peak)[:16]}) after {time.monotonic() - started:.1f} s"
                )
                self.say("CPU seconds used so far: " + self.cpu_report())
                return 0
            if trio.current_time() > deadline:
                raise DevnetError(
                    f"the full nodes did not agree on a chain of {blocks} blocks within "
                    f"{deadline_seconds:.0f} s; last status: {last}"
                )
            await trio.sleep(PROGRESS_INTERVAL)


def process_cpu_seconds(pid: int) -> float | None:
    """User + system CPU of a process and of its finished children (Linux /proc), or None."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    ticks = os.sysconf("SC_CLK_TCK")
    # fields[11:15] are utime, stime, cutime, cstime (stat fields 14-17)
    return sum(int(x) for x in fields[11:15]) / ticks


def _agree(statuses: list[dict | None], blocks: int) -> bool:
    if not statuses or any(st is None or st.get("height") is None for st in statuses):
        return False
    peaks = {st["peak"] for st in statuses}  # type: ignore[index]
    heights = [st["height"] for st in statuses]  # type: ignore[index]
    return len(peaks) == 1 and min(heights) + 1 >= blocks


def say_to_stdout(text: str) -> None:
    for line in text.splitlines() or [""]:
        print(f"devnet: {line}", flush=True)
