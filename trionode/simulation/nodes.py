"""The one adapter between the simulator and the full node: builds a real
:class:`~trionode.roles.full_node.main.FullNodeService` (SQLite store under the node's root,
real blockchain, mempool, sync and peer layer) whose transport is the simulated network's, and
starts it inside the node's own world (its skewed wall clock and its seeded random choices).

Everything else in :mod:`trionode.simulation` talks to nodes through :class:`SimNode`, so when
the full node's construction changes only this module follows.
"""

from __future__ import annotations

import hashlib
import math
import random
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any, TypeVar

import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.nursery.clock import using_world
from trionode.nursery.offload import using_executor
from trionode.peers.limits import PeerLimits
from trionode.peers.node import PeerNode
from trionode.peers.transport import Transport
from trionode.roles.full_node.api import FullNodeAPI
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.roles.full_node.node import FullNode
from trionode.sync import SyncConfig
from trionode.testing.memory_transport import MemoryNetwork, MemoryTransport
from trionode.wire import bytes32

T = TypeVar("T")

PORT = 8444
#: Virtual time 0 is this wall-clock second (the block tools' genesis timestamp).
EPOCH = 1_700_000_000
#: Seconds between a node's event-loop lag samples (10 a second in a real node) and between
#: its status files (every 2 s and at each new tip in a real node).
LAG_INTERVAL = 30.0
STATUS_INTERVAL = 60.0


class _CrashInCommit(Exception):
    """Raised inside a store transaction to roll it back, as power loss before the commit."""


class _PowerLoss(BaseException):
    """Unwinds a task that died in a commit under a shielded cancel scope (the chain's commit
    is shielded: a cancellation cannot reach it). A BaseException, so no handler of the node
    takes it for an error; the node's runner swallows it."""


class NodeExecutor:
    """The node's executor: blocking work runs inline (deterministic), store writes wait
    ``disk_delay`` virtual seconds first (a slow disk), and with ``crash_in_commit`` set the
    next write issues all its statements, then the node dies before the commit: the
    transaction rolls back and the node's tasks are cancelled where they stand.

    Store writes are recognised by the store runner's method name (``_run_write``), a coupling
    this adapter keeps so the storage code needs no hook."""

    concurrent = False

    def __init__(self, node: SimNode) -> None:
        self._node = node
        self.disk_delay = 0.0
        self.crash_in_commit = False
        self.calls = 0

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        limiter: trio.CapacityLimiter | None = None,
        abandon_on_cancel: bool = False,
    ) -> T:
        self.calls += 1
        if getattr(fn, "__name__", "") == "_run_write":
            if self.disk_delay:
                await trio.sleep(self.disk_delay)
            if self.crash_in_commit:
                self.crash_in_commit = False
                work, work_args = args

                def doomed(conn: object, *a: object) -> None:
                    work(conn, *a)
                    raise _CrashInCommit

                try:
                    fn(doomed, work_args)
                except _CrashInCommit:
                    pass
                self._node.died_in_commit = True
                self._node.cancel()
                if trio.current_effective_deadline() != -math.inf:
                    raise _PowerLoss  # shielded: the cancellation cannot end this task
                await trio.sleep_forever()
        result = fn(*args)
        await trio.lowlevel.checkpoint()
        return result


class _SimService(FullNodeService):
    """A full node whose peer transport is the simulated network's."""

    def __init__(self, config: FullNodeConfig, network: MemoryNetwork, node_id: bytes32) -> None:
        super().__init__(config)
        self._network = network
        self._node_id = node_id

    def make_transport(self, limits: PeerLimits) -> Transport:
        return MemoryTransport(
            self._network,
            local_node_id=self._node_id,
            host=self.config.host,
            max_message_size=limits.max_message_size,
        )


class SimNode:
    """One full node of a run: ``host`` is its address, ``root`` keeps its store across a
    crash. ``skew`` (seconds) is added to its wall clock, read at every call."""

    def __init__(self, name: str, index: int, root: Path, seed: int, *, honest: bool) -> None:
        self.name = name
        self.index = index
        self.host = f"10.{index // 250}.{index % 250 + 1}.1"
        self.root = root
        self.seed = seed
        self.honest = honest
        self.skew = 0.0
        self.node_id = bytes32(hashlib.sha256(f"trionode sim {seed} {name}".encode()).digest())
        self.incarnation = 0
        self.service: FullNodeService | None = None
        self.api_class: type[FullNodeAPI] | None = None
        self.on_ban: Callable[[SimNode, str, float, str], None] | None = None
        self._scope: trio.CancelScope | None = None
        self._done: trio.Event | None = None
        self.executor = NodeExecutor(self)
        self.died_in_commit = False
        self._calls: set[trio.CancelScope] = set()  # the farm's and wallet's calls into it

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, PORT)

    @property
    def running(self) -> bool:
        return self._done is not None and not self._done.is_set()

    @property
    def full_node(self) -> FullNode:
        assert self.service is not None and self.service.full_node is not None, self.name
        return self.service.full_node

    @property
    def blockchain(self) -> Blockchain:
        return self.full_node.blockchain

    @property
    def peer_node(self) -> PeerNode:
        assert self.service is not None and self.service.node is not None, self.name
        return self.service.node

    def wall(self) -> float:
        return EPOCH + trio.current_time() + self.skew

    async def start(
        self,
        nursery: trio.Nursery,
        network: MemoryNetwork,
        peers: tuple[tuple[str, int], ...],
        *,
        target_outbound: int,
    ) -> None:
        """Start (or restart on the same root) and return once the node listens."""
        self.root.mkdir(parents=True, exist_ok=True)
        config = FullNodeConfig(
            root=self.root,
            network="sim",
            port=PORT,
            host=self.host,
            peers=peers,
            target_outbound=target_outbound,
            validation_workers=1,
            sync=SyncConfig(),
        )
        service = _SimService(config, network, self.node_id)
        if self.api_class is not None:
            service.api_class = self.api_class
        self.service = service
        self.incarnation += 1
        rand = random.Random(f"{self.seed} {self.name} {self.incarnation}")
        scope = trio.CancelScope()
        done = trio.Event()
        self._scope, self._done = scope, done

        async def run(*, task_status: trio.TaskStatus[FullNodeService]) -> None:
            try:
                with scope:
                    await service.run(task_status=task_status)
            except BaseExceptionGroup as group:
                _, rest = group.split(_PowerLoss)
                if rest is not None:
                    raise rest from None
            except _PowerLoss:
                pass
            finally:
                done.set()

        # Tasks inherit the context they are spawned in: the node's world reaches every task
        # the node starts below this one.
        with using_world(wall=self.wall, rand=rand), using_executor(self.executor):
            await nursery.start(run)
        # Per-node timers cost the run CPU for every virtual second of every node: the event
        # loop's lag is always 0 in virtual time (the clock stands still while code runs), and
        # nobody reads a simulated node's status file; both are kept, much rarer.
        self.peer_node.loop_lag.interval = LAG_INTERVAL
        self.full_node.status_interval = STATUS_INTERVAL
        self._rare_status()
        self._watch_bans()

    def _rare_status(self) -> None:
        """The status file at most once per STATUS_INTERVAL virtual seconds: the node also
        writes it after every change of its tips (a JSON file per node and block, 4% of a
        profiled run's CPU), and nobody reads a simulated node's. Both ways it is written
        (on the loop, and handed to a worker after each block) are wrapped."""
        full_node = self.full_node
        write = full_node.write_status
        write_off_loop = full_node.write_status_off_loop
        last = -math.inf

        def due() -> bool:
            nonlocal last
            now = trio.current_time()
            if now - last < STATUS_INTERVAL:
                return False
            last = now
            return True

        def rare() -> None:
            if due():
                write()

        async def rare_off_loop() -> None:
            if due():
                await write_off_loop()

        full_node.write_status = rare  # type: ignore[method-assign]
        full_node.write_status_off_loop = rare_off_loop  # type: ignore[method-assign]

    def _watch_bans(self) -> None:
        bans = self.peer_node.bans
        ban = bans.ban

        def recorded(host: str, seconds: float, reason: str) -> None:
            if self.on_ban is not None:
                self.on_ban(self, host, seconds, reason)
            ban(host, seconds, reason)

        bans.ban = recorded  # type: ignore[method-assign]

    async def call(self, work: Callable[[], Awaitable[object]]) -> bool:
        """Run ``work`` (the farm's or the wallet's call into this node, from outside its
        tasks) so that the node's crash cancels it too; False if it was cancelled. A call
        left running into a crashed node held its store's writer, and the node never finished
        dying (seed 1, 50 nodes: three nodes hung so from their first crash in a commit)."""
        scope = trio.CancelScope()
        self._calls.add(scope)
        try:
            with scope:
                await work()
        finally:
            self._calls.discard(scope)
        return not scope.cancelled_caught

    def cancel(self) -> None:
        if self._scope is not None:
            self._scope.cancel()
        for call in self._calls:
            call.cancel()

    async def wait_down(self) -> None:
        if self._done is not None:
            await self._done.wait()

    async def crash(self) -> None:
        """Stop the node at once (its tasks are cancelled; what the store committed stays)."""
        if self._scope is not None and self._done is not None:
            self.cancel()
            await self._done.wait()
