"""A testnet of real full node processes on 127.0.0.1, driven from Python.

Each node is ``python -m trionode --role full_node`` with its own root ``BASE/<name>`` (port 0 the
first time, then pinned so its peers redial the same address after a restart), started with
``--peer`` for each topology link it dials. An optional farm (farmer, harvester, timelord in
``BASE/farm``, plots in ``BASE/plots``, set up by :func:`trionode.devnet.setup.prepare_farm`)
makes blocks on one node. Progress is read from each node's ``ROOT/run/full_node.status.json``.

Partitions are real: full nodes learn addresses from each other (peer exchange, inbound
connections), so a link cannot be cut by telling one node to forget another. :meth:`split`
stops every node, clears every node's peers table (in its chain database; the chain is
kept), and starts each node again with ``--peer`` only towards nodes of its own group: no node
then knows an address on the other side. :meth:`join` restarts the nodes that dial a topology
link crossing the groups, with their full peer list, and the sides sync.

Usage (a trio task)::

    async with Testnet.open(base, nodes=3, topology="line", farm="n0") as net:
        await net.sync_all(timeout=120, min_height=3)
        await net.split([["n0", "n1"], ["n2"]])
        ...
        await net.join()
        await net.sync_all(timeout=120)
"""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Sequence
from contextlib import asynccontextmanager
from pathlib import Path

import attrs
import trio

from trionode import runfiles
from trionode.consensus import get_constants
from trionode.devnet.layout import DevnetLayout
from trionode.devnet.processes import (
    ProcessExited,
    ProcessSpec,
    rotate_console_log,
    run_role_process,
    tail,
)
from trionode.devnet.setup import prepare_farm
from trionode.init_root import init_root
from trionode.nursery import RestartPolicy, Supervisor
from trionode.nursery.offload import run_blocking
from trionode.storage.engine import default_db_url
from trionode.storage.peer_store import PeerStore
from trionode.testnet.node import LOCAL, TestnetError, TestnetNode
from trionode.testnet.topology import Link, connect_components, links, node_names

__all__ = ["LOCAL", "Testnet", "TestnetError", "TestnetNode"]

logger = logging.getLogger(__name__)

READY_TIMEOUT = 60.0
POLL = 0.25
# A stopped process gets SIGTERM, then SIGKILL after 10 s (devnet.processes); the supervisor
# must wait longer than that before it gives up on it.
STOP_TIMEOUT = 15.0


@attrs.define(eq=False)
class Testnet:
    """N full node processes in a topology, optionally farming; see the module docstring.

    Build it with :meth:`open` (an async context manager that starts and stops everything).
    """

    __test__ = False  # not a pytest test class

    base: Path
    names: list[str]
    topology: str
    network: str = "sim"
    farm: str | None = None
    plots: int = 4
    k: int = 18
    log_level: str = "INFO"
    log_format: str = "console"
    say: Callable[[str], None] = logger.info
    nodes: dict[str, TestnetNode] = attrs.field(factory=dict)
    links: list[Link] = attrs.field(factory=list)
    groups: list[set[str]] | None = None
    _group_links: list[Link] = attrs.field(factory=list)
    _supervisor: Supervisor | None = None
    _started: set[str] = attrs.field(factory=set)

    # ------------------------------------------------------------------ life

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        base: Path | str,
        *,
        nodes: int | Sequence[str] = 3,
        topology: str = "line",
        network: str = "sim",
        farm: str | None = None,
        plots: int = 4,
        k: int = 18,
        log_level: str = "INFO",
        log_format: str = "console",
        say: Callable[[str], None] = logger.info,
    ) -> AsyncIterator[Testnet]:
        """Set up roots (and the farm), start every node in start order, yield the testnet;
        stop every process on the way out (also on error or cancellation)."""
        names = node_names(nodes) if isinstance(nodes, int) else list(nodes)
        net = cls(
            base=Path(base),
            names=names,
            topology=topology,
            network=network,
            farm=farm,
            plots=plots,
            k=k,
            log_level=log_level,
            log_format=log_format,
            say=say,
        )
        net.links = links(names, topology)
        if farm is not None and farm not in names:
            raise TestnetError(f"farm node {farm!r} is not one of {', '.join(names)}")
        lock = net._claim_roots()
        try:
            async with net._run(names, farm) as running:
                yield running
        finally:
            lock.release()

    def _claim_roots(self) -> runfiles.RootLock:
        """Lock the base directory and check that no process runs any role of ours on our
        roots (a second testnet on one directory would share every store)."""
        roles = [(self.base / name, "full_node") for name in self.names]
        if self.farm is not None:
            roles += [(self.base / "farm", r) for r in ("farmer", "harvester", "timelord")]
        if self.base.exists() and not self.base.is_dir():
            raise TestnetError(f"--root {self.base}: is a file, not a directory")
        try:
            lock = runfiles.RootLock(self.base, "testnet").acquire()
        except runfiles.RootBusy as exc:
            raise TestnetError(str(exc)) from None
        try:
            for root, role in roles:
                runfiles.check_free(root, role)
        except runfiles.RootBusy as exc:
            lock.release()
            raise TestnetError(str(exc)) from None
        return lock

    @asynccontextmanager
    async def _run(self, names: list[str], farm: str | None) -> AsyncIterator[Testnet]:
        net = self
        await run_blocking(net._prepare)
        supervisor = Supervisor(
            "testnet", max_restarts=0, shutdown_timeout=STOP_TIMEOUT, within_seconds=60.0
        )
        net._supervisor = supervisor
        async with trio.open_nursery() as nursery:
            await nursery.start(supervisor.run)
            try:
                for name in names:
                    await net.start_node(name)
                if farm is not None:
                    await net._start_farm()
                yield net
            finally:
                with trio.CancelScope(shield=True), trio.move_on_after(2 * STOP_TIMEOUT + 5):
                    await net.stop()
                    await supervisor.shutdown()
                nursery.cancel_scope.cancel()

    def _prepare(self) -> None:
        for name in self.names:
            root = self.base / name
            init_root(root)
            self.nodes[name] = TestnetNode(
                name, "full_node", root, self.base / "logs" / f"{name}.out"
            )
        if self.farm is not None:
            layout = DevnetLayout(self.base)
            prepare_farm(
                layout, get_constants(self.network), plots=self.plots, k=self.k, say=self.say
            )
            for role in ("farmer", "harvester", "timelord"):
                self.nodes[role] = TestnetNode(role, role, layout.farm, layout.console_log(role))

    # ------------------------------------------------------------------ processes

    def node(self, name: str) -> TestnetNode:
        """The node called ``name`` (``n0``..., or ``farmer``/``harvester``/``timelord``)."""
        try:
            return self.nodes[name]
        except KeyError:
            raise TestnetError(
                f"no node {name!r}; the testnet has {', '.join(self.nodes)}"
            ) from None

    def full_nodes(self) -> list[TestnetNode]:
        return [self.nodes[n] for n in self.names]

    def peers_of(self, name: str) -> list[str]:
        """The nodes ``name`` dials now: its topology/connect links, within its split group."""
        group = self._group(name)
        out = []
        for listener, dialer in [*self.links, *self._group_links]:
            if dialer == name and (group is None or listener in group) and listener not in out:
                out.append(listener)
        return out

    def _group(self, name: str) -> set[str] | None:
        if self.groups is None:
            return None
        for group in self.groups:
            if name in group:
                return group
        return None

    def _args(self, node: TestnetNode) -> list[str]:
        args = [
            "--role",
            node.role,
            "--root",
            str(node.root),
            "--network",
            self.network,
            "--log-level",
            self.log_level,
            "--log-format",
            self.log_format,
            "--port",
            str(node.port),
            "--rpc-port",
            "0",
            "--metrics-port",
            "0",
        ]
        if node.role == "full_node":
            for peer in self.peers_of(node.name):
                args += ["--peer", self.nodes[peer].address]
        elif node.role in ("farmer", "timelord"):
            assert self.farm is not None
            args += ["--full-node", self.nodes[self.farm].address]
        elif node.role == "harvester":
            args += ["--farmer", self.nodes["farmer"].address]
            args += ["--plots", str(DevnetLayout(self.base).plots)]
        return args

    async def _process(self, node: TestnetNode, spec: ProcessSpec) -> None:
        try:
            await run_role_process(spec)
        except ProcessExited as exc:
            # Nobody asked it to stop (stopping cancels this task): remember it, so waits fail
            # at once with the log instead of timing out.
            node.exited = exc
            node.running = False
            self.say(f"{node.name} exited on its own: {exc}")

    async def start_node(self, name: str) -> int:
        """Start ``name``'s process (its current peer set) and wait until it listens."""
        node = self.node(name)
        if node.running:
            raise TestnetError(f"{name} is already running")
        assert self._supervisor is not None
        ready = runfiles.ready_path(node.root, node.role)
        ready.unlink(missing_ok=True)
        runfiles.status_path(node.root, node.role).unlink(missing_ok=True)
        node.exited = None
        if name not in self._started:  # a new run: a fresh console log (the last one: .out.1)
            self._started.add(name)
            rotate_console_log(node.console_log)
        spec = ProcessSpec(name, tuple(self._args(node)), node.root, node.console_log)
        await self._supervisor.start_child(
            name, self._process, node, spec, policy=RestartPolicy.TEMPORARY
        )
        node.running = True
        with trio.move_on_after(READY_TIMEOUT):
            while node.exited is None:
                data = runfiles.read_json(ready)
                if isinstance(data, dict) and isinstance(data.get("port"), int):
                    node.ready = data
                    node.port = data["port"]
                    self.say(f"{name} is up on port {node.port}")
                    return node.port
                await trio.sleep(0.05)
        await self._stop_child(node)
        raise TestnetError(
            f"{name} did not become ready: {node.exited or 'timed out'}\n{tail(node.console_log)}"
        )

    async def _stop_child(self, node: TestnetNode) -> None:
        assert self._supervisor is not None
        try:
            await self._supervisor.stop_child(node.name)
        except LookupError:  # a temporary child that ended is forgotten
            pass
        node.running = False

    async def stop_node(self, name: str) -> None:
        """SIGTERM the process and wait until it has exited (it closes its stores cleanly)."""
        await self._stop_child(self.node(name))

    async def restart_node(self, name: str) -> None:
        await self.stop_node(name)
        await self.start_node(name)

    async def _start_farm(self) -> None:
        for role in ("farmer", "harvester", "timelord"):
            await self.start_node(role)

    # ------------------------------------------------------------------ topology changes

    async def connect(self, a: str, b: str) -> None:
        """Link ``b`` to ``a``: restart ``b`` with ``a`` among its ``--peer``s."""
        self.node(a)
        self.node(b)
        if a == b:
            raise TestnetError("a node cannot be linked to itself")
        if (a, b) not in self.links:
            self.links.append((a, b))
        await self.restart_node(b)

    def _kept_group(self, groups: list[set[str]]) -> set[str]:
        """The side that keeps running through a split: the farm's, else the first."""
        for group in groups:
            if self.farm in group:
                return group
        return groups[0]

    async def split(self, groups: Iterable[Iterable[str]]) -> None:
        """Partition the full nodes into ``groups`` (every node in exactly one group).

        The farm's group (else the first) keeps running. Every other node is stopped, its peer
        store deleted, and started again on a new port with ``--peer`` only towards nodes of its
        own group (joined into one connected side if the topology's links within the group
        leave it in pieces). The kept side only knows the old, dead addresses of the others,
        and the others know no address across: no link can form until :meth:`join`.
        """
        sets = [set(g) for g in groups]
        listed = [n for g in sets for n in g]
        if len(sets) < 2 or sorted(listed) != sorted(self.names):
            raise TestnetError(
                f"split needs at least two groups listing every full node exactly once: got "
                f"{[sorted(g) for g in sets]}, nodes are {self.names}"
            )
        kept = self._kept_group(sets)
        moved = [self.nodes[n] for n in self.names if n not in kept]
        self.groups = sets
        self._group_links = []
        for group in sets:
            members = [n for n in self.names if n in group]
            self._group_links += connect_components(members, self.links, self.names)
        await self._stop_many(moved)
        retired = {node.port for node in moved}
        for node in moved:
            store = PeerStore.open(default_db_url(node.root, self.network))
            try:
                await store.clear()
            finally:
                store.close()
            node.port = 0
        for node in moved:  # start order: a node's listeners are up before it dials them
            await self.start_node(node.name)
            while node.port in retired:  # the OS handed out a dead address again: move on
                await self.stop_node(node.name)
                node.port = 0
                await self.start_node(node.name)
        self.say("split into " + " | ".join(",".join(sorted(g)) for g in sets))

    async def join(self) -> None:
        """Heal a split: for each topology link that crosses groups, restart its end outside
        the kept group with that link among its ``--peer``s (a link with a kept end is turned
        so that the restarted node dials the kept one, whose address never changed)."""
        if self.groups is None:
            return
        kept = self._kept_group(self.groups)
        restart: list[str] = []
        turned: list[Link] = []
        for listener, dialer in self.links:
            if self._group(listener) is self._group(dialer):
                turned.append((listener, dialer))
            elif dialer in kept:
                turned.append((dialer, listener))
                restart.append(listener)
            else:
                turned.append((listener, dialer))
                restart.append(dialer)
        self.links = turned
        self.groups = None
        self._group_links = []
        for name in self.names:
            if name in restart:
                await self.restart_node(name)
        self.say("joined")

    # ------------------------------------------------------------------ waiting

    def _check_alive(self) -> None:
        dead = [n for n in self.nodes.values() if n.exited is not None]
        if dead:
            node = dead[0]
            raise TestnetError(f"{node.name} exited: {node.exited}\n{tail(node.console_log)}")

    def describe(self) -> str:
        parts = []
        for node in self.full_nodes():
            st = node.status()
            if not node.running:
                parts.append(f"{node.name}: stopped")
            elif st is None:
                parts.append(f"{node.name}: starting")
            else:
                peak = st.get("peak")
                parts.append(
                    f"{node.name}: height {st.get('height')} peak {str(peak)[:8]} "
                    f"peers {st.get('peers', {}).get('full_node', 0)}"
                )
        return " | ".join(parts)

    async def wait_for(
        self,
        predicate: Callable[[], bool],
        *,
        timeout: float,  # noqa: ASYNC109 - the error names what was awaited, with statuses
        what: str,
    ) -> None:
        """Poll ``predicate`` (status files change on disk; there is no event to wait on) until
        it holds; TestnetError after ``timeout`` seconds or as soon as a process dies."""
        with trio.move_on_after(timeout):
            while True:
                self._check_alive()
                if predicate():
                    return
                await trio.sleep(POLL)
        raise TestnetError(f"{what}: not reached within {timeout:g} s; {self.describe()}")

    async def wait_height(
        self,
        name: str,
        height: int,
        *,
        timeout: float = 120.0,  # noqa: ASYNC109 - see wait_for
    ) -> None:
        node = self.node(name)
        await self.wait_for(
            lambda: (node.height if node.height is not None else -1) >= height,
            timeout=timeout,
            what=f"{name} at height {height}",
        )

    def in_sync(self, names: Sequence[str] | None = None, min_height: int | None = None) -> bool:
        statuses = [self.nodes[n].status() for n in (names or self.names)]
        if any(st is None or st.get("peak") is None for st in statuses):
            return False
        if len({st["peak"] for st in statuses}) != 1:  # type: ignore[index]
            return False
        return min_height is None or statuses[0]["height"] >= min_height  # type: ignore[index]

    async def sync_all(
        self,
        timeout: float = 120.0,  # noqa: ASYNC109 - see wait_for
        *,
        names: Sequence[str] | None = None,
        min_height: int | None = None,
    ) -> int:
        """Wait until the full nodes (``names``, default all) report the same peak (and at least
        ``min_height``); returns the common height."""
        started = time.monotonic()
        await self.wait_for(
            lambda: self.in_sync(names, min_height),
            timeout=timeout,
            what=f"same peak on {', '.join(names or self.names)}"
            + ("" if min_height is None else f" at height >= {min_height}"),
        )
        height = int(self.nodes[(names or self.names)[0]].height or 0)
        logger.info("in sync at height %d after %.1f s", height, time.monotonic() - started)
        return height

    async def _stop_many(self, nodes: Iterable[TestnetNode]) -> None:
        # At once: each process takes a moment to close its connections and stores.
        async with trio.open_nursery() as nursery:
            for node in nodes:
                if node.running:
                    nursery.start_soon(self._stop_child, node)

    async def stop(self) -> None:
        """Stop every process, all at once (leaving :meth:`open` does this too)."""
        await self._stop_many(list(self.nodes.values()))
