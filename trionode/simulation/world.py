"""The simulated world of one run: its nodes, farm, adversaries, faults and checks, driven
from one root task (see :mod:`trionode.simulation.run`)."""

from __future__ import annotations

import collections
import os
import random
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from trionode.consensus import get_constants
from trionode.nursery.clock import using_world
from trionode.nursery.offload import InlineExecutor, using_executor
from trionode.protocols.chain_types import FullBlock
from trionode.simulation.byzantine import Adversary
from trionode.simulation.config import SimConfig
from trionode.simulation.eventlog import EventLog
from trionode.simulation.farm import CachedBlockTools, Farm
from trionode.simulation.invariants import EscapedErrors, Invariants, agreed
from trionode.simulation.links import FaultInjector
from trionode.simulation.nodes import EPOCH, SimNode
from trionode.simulation.report import SimReport
from trionode.simulation.topology import initial_links
from trionode.testing.memory_transport import MemoryNetwork
from trionode.wire import bytes32

FINAL_BLOCKS = 2  # blocks farmed after the last heal (the lurkers' moment)
POOL_CHECK_INTERVAL = 10.0
MEAN_FAULT_GAP = 60.0  # virtual seconds between two faults
FARM_CALL_TIMEOUT = 60.0  # virtual seconds the farm or wallet waits on one node
SKEW_FRACTION = 0.4  # clock skews stay within this fraction of MAX_FUTURE_TIME


def default_cache_dir() -> Path:
    """Plots and proofs of time the simulator keeps between runs."""
    env = os.environ.get("TRIONODE_SIM_CACHE")
    if env:
        return Path(env)
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "trionode" / "sim"


class SimWorld:
    def __init__(self, config: SimConfig, work: Path, errors: EscapedErrors) -> None:
        self.config = config
        self.work = work
        self.errors = errors
        seed = config.seed
        self.rand = random.Random(f"trionode sim {seed}")
        self.log = EventLog(path=config.event_log)
        self.inv = Invariants()
        self.constants = get_constants("sim")
        cache = default_cache_dir()
        self.bt = CachedBlockTools(
            self.constants,
            config.plot_dir or cache / "plots",
            num_plots=4,
            k=18,
            cache_dir=cache / f"vdf-{self.constants.genesis_challenge.hex()[:16]}",
        )
        self.farm = Farm(self.bt, random.Random(f"trionode farm {seed}"), self.log)
        byz = set(self.rand.sample(range(config.nodes), config.byzantine))
        self.nodes = [
            SimNode(f"n{i:02d}", i, work / f"n{i:02d}", seed, honest=i not in byz)
            for i in range(config.nodes)
        ]
        self.honest = [n for n in self.nodes if n.honest]
        self.honest_hosts = {n.host for n in self.honest}
        self.names = {n.host: n.name for n in self.nodes}
        self.adversaries = [
            Adversary(n, random.Random(f"trionode byzantine {seed} {n.name}"), self.log)
            for n in self.nodes
            if not n.honest
        ]
        self.bans: collections.Counter[str] = collections.Counter()
        self.faults: collections.Counter[str] = collections.Counter()
        self.latencies: list[float] = []
        self.reached: set[tuple[str, bytes32]] = set()
        self.reorgs = 0
        self.deepest_reorg = 0
        self.crashed_at: dict[str, list[float]] = collections.defaultdict(list)
        self.converged_after: float | None = None
        self.virtual_end = 0.0
        self.injector: FaultInjector | None = None
        self.network: MemoryNetwork | None = None
        self.peers: dict[str, tuple[tuple[str, int], ...]] = {}

    # -- the root task ----------------------------------------------------------------------

    async def main(self) -> None:
        root_world = using_world(
            wall=lambda: EPOCH + trio.current_time(),
            rand=random.Random(f"trionode root {self.config.seed}"),
        )
        with using_executor(InlineExecutor()), root_world:
            async with trio.open_nursery() as nursery:
                self.injector = FaultInjector(
                    nursery,
                    random.Random(f"trionode links {self.config.seed}"),
                    self.log,
                    self.names,
                )
                self.network = MemoryNetwork(shaper=self.injector)
                await self._start_all(nursery)
                nursery.start_soon(self._check_pools)
                for adversary in self.adversaries:
                    nursery.start_soon(adversary.run)
                async with trio.open_nursery() as faults:
                    if self.config.faults:
                        faults.start_soon(self._inject_faults, nursery)
                    await self._farm()
                    faults.cancel_scope.cancel()
                await self._settle(nursery)
                self._final_checks()
                self.virtual_end = trio.current_time()
                for node in self.nodes:
                    await node.crash()
                self.log.close()
                nursery.cancel_scope.cancel()

    async def _start_all(self, nursery: trio.Nursery) -> None:
        links = initial_links(
            self.config.topology, len(self.nodes), self.rand, degree=self.config.degree
        )
        dials: dict[int, list[tuple[str, int]]] = collections.defaultdict(list)
        for a, b in links:
            dials[a].append(self.nodes[b].address)
        if "clock-skew" in self.config.faults:
            for node in self.nodes:
                node.skew = self._skew()
        for node in self.nodes:
            self.peers[node.name] = tuple(dials[node.index])
            node.on_ban = self._on_ban
            await self._start(nursery, node)

    def _skew(self) -> float:
        bound = self.constants.MAX_FUTURE_TIME * SKEW_FRACTION
        return round(self.rand.uniform(-bound, bound), 3)

    async def _start(self, nursery: trio.Nursery, node: SimNode) -> None:
        assert self.network is not None
        await node.start(
            nursery, self.network, self.peers[node.name], target_outbound=self.config.degree
        )
        self.log.write("start", node.name, node.incarnation, f"{node.skew:g}")
        for adversary in self.adversaries:
            if adversary.node is node:
                adversary.install()
        if node.honest:
            nursery.start_soon(self._watch_tips, node)

    def _on_ban(self, by: SimNode, host: str, seconds: float, reason: str) -> None:
        kind = reason.split(":", 2)[1].strip() if reason.count(":") >= 1 else reason
        self.bans[kind[:60]] += 1
        self.log.write("ban", by.name, self.names.get(host, host), kind[:60])
        if by.honest:
            self.inv.ban(by, host, reason, self.honest_hosts)

    async def _watch_tips(self, node: SimNode) -> None:
        """Log each new peak of ``node``, check it is a block the farm made, byte for byte,
        and measure how long after its making the node reached it."""
        chain = node.blockchain
        incarnation = node.incarnation
        last_height = -1 if chain.peak_height is None else chain.peak_height
        with chain.subscribe(1024) as events:
            async for event in events:
                if node.incarnation != incarnation or not node.running:
                    return
                if not event.new_peak:
                    continue
                peak = event.peak
                h = peak.header_hash
                self.log.write("tip", node.name, peak.height, h.hex()[:16])
                if event.fork_height is not None and event.fork_height < last_height:
                    self.reorgs += 1
                    self.deepest_reorg = max(self.deepest_reorg, last_height - event.fork_height)
                last_height = int(peak.height)
                made = self.farm.made.get(h)
                # The stored encoding, not decoded: one comparison of bytes per node and tip.
                stored = await chain.get_block_bytes(h)
                self.inv.check(
                    "stored blocks validate",
                    made is not None and stored is not None and stored == made.encoded,
                    f"{node.name} took {h.hex()[:16]} at height {peak.height}: not the farm's block",
                )
                if made is not None and (node.name, h) not in self.reached:
                    self.reached.add((node.name, h))
                    self.latencies.append(trio.current_time() - made.at)

    # -- farming ----------------------------------------------------------------------------

    def _farming_done(self) -> bool:
        cfg = self.config
        if len(self.farm.made) >= cfg.blocks:
            return True
        if cfg.virtual_seconds is not None and trio.current_time() >= cfg.virtual_seconds:
            return True
        if cfg.until_height is not None:
            top = max((n.blockchain.peak_height or 0) for n in self.honest if n.running)
            return top >= cfg.until_height
        return False

    def _running_honest(self) -> list[SimNode]:
        return [n for n in self.honest if n.running]

    async def _farm(self) -> None:
        while not self._farming_done():
            await trio.sleep(self.farm.rand.expovariate(1 / self.config.block_interval))
            await self._farm_one()

    async def _farm_one(self) -> None:
        running = self._running_honest()
        if not running:
            return
        node = self.farm.rand.choice(running)
        equivocate = bool(self.adversaries) and self.farm.rand.random() < 0.05
        twins: list[FullBlock] = []

        async def farm() -> None:
            twins.extend(await self.farm.farm_on(node, equivocate=equivocate))

        await self._on(node, farm)
        if twins:
            others = [n for n in running if n is not node]
            if others:
                other = self.farm.rand.choice(others)
                await self._on(other, lambda: other.full_node.add_block(twins[0], source=None))
        if len(running) > 1 and self.farm.rand.random() < 0.5:
            target = self.farm.rand.choice(running)
            rest = [n for n in running if n is not target]
            await self._on(target, lambda: self.farm.spend_on(target, rest))

    async def _on(self, node: SimNode, work: Callable[[], Awaitable[object]]) -> None:
        """Run the farm's or the wallet's ``work`` on ``node``; a node that crashed meanwhile
        (its store closed under the call) just misses it, as a farmer loses its full node."""
        if not node.running:
            return
        # A farmer gives up on a full node that does not answer: the farm is one task, and a
        # node stuck for good would stop every later block of the run (it did, before calls
        # were cancelled with their node: SimNode.call). The stuck node is logged; the
        # convergence invariant judges it at the end.
        with trio.move_on_after(FARM_CALL_TIMEOUT) as scope:
            try:
                await node.call(work)
            except Exception:
                if node.running:
                    raise
        if scope.cancelled_caught:
            self.faults["farm calls timed out"] += 1
            self.log.write("stuck", node.name, node.incarnation)

    # -- faults -----------------------------------------------------------------------------

    async def _inject_faults(self, nursery: trio.Nursery) -> None:
        kinds = sorted(self.config.faults)
        rand = random.Random(f"trionode faults {self.config.seed}")
        while True:
            await trio.sleep(rand.expovariate(1 / MEAN_FAULT_GAP))
            kind = rand.choice(kinds)
            duration = round(rand.uniform(10, 90), 3)
            nursery.start_soon(self._fault, kind, duration, rand.random(), nursery)

    async def _fault(self, kind: str, duration: float, pick: float, nursery: trio.Nursery) -> None:
        injector = self.injector
        assert injector is not None
        self.faults[kind] += 1
        rates = injector.rates
        if kind == "partition":
            if injector.partitioned:
                return
            groups = {n.host: int(self.rand.random() < 0.5) for n in self.nodes}
            self.log.write("fault", kind, sum(groups.values()), duration)
            injector.partition(groups)
            await trio.sleep(duration)
            injector.heal()
        elif kind == "crash":
            running = self._running_honest()
            if len(running) < 2:
                return
            node = running[int(pick * len(running))]
            in_commit = self.rand.random() < 0.5
            self.log.write("fault", kind, node.name, duration, "in-commit" if in_commit else "")
            if in_commit:
                # Dies at its next store write, before the commit (or plainly if none comes).
                node.executor.crash_in_commit = True
                with trio.move_on_after(30):
                    await node.wait_down()
                node.executor.crash_in_commit = False
                if node.died_in_commit:
                    self.faults["crash in commit"] += 1
                    node.died_in_commit = False
            await node.crash()
            # When it went down, not when the fault was armed: a node set to die in a commit
            # runs on until its next store write (up to 30 s), and a transaction it accepts
            # meanwhile dies with its mempool (seed 1, 1,000 blocks: n11 accepted one 0.6 s
            # after the fault was armed, and the check called it lost).
            self.crashed_at[node.name].append(trio.current_time())
            await trio.sleep(duration)
            await self._restart(nursery, node)
        elif kind == "slow-disk":
            node = self.nodes[int(pick * len(self.nodes))]
            node.executor.disk_delay = round(self.rand.uniform(0.05, 2.0), 3)
            self.log.write("fault", kind, node.name, node.executor.disk_delay, duration)
            await trio.sleep(duration)
            node.executor.disk_delay = 0.0
        elif kind == "clock-skew":
            node = self.nodes[int(pick * len(self.nodes))]
            node.skew = self._skew()
            self.log.write("fault", kind, node.name, f"{node.skew:g}")
            return
        else:
            field, value = {
                "loss": ("loss", 0.002),
                "delay": ("jitter", 3.0),
                "duplicate": ("duplicate", 0.02),
                "reorder": ("reorder", 0.02),
            }[kind]
            self.log.write("fault", kind, value, duration)
            setattr(rates, field, value)
            await trio.sleep(duration)
            setattr(rates, field, 0.0)
        self.log.write("heal", kind)

    async def _heal_all(self, nursery: trio.Nursery) -> None:
        injector = self.injector
        assert injector is not None
        injector.heal()
        r = injector.rates
        r.loss = r.duplicate = r.reorder = r.jitter = 0.0
        for node in self.nodes:
            node.executor.disk_delay = 0.0
            if not node.running:
                await self._restart(nursery, node)
        self.log.write("heal", "all")

    async def _restart(self, nursery: trio.Nursery, node: SimNode) -> None:
        """Start a crashed node again on its kept store; a store that does not reopen fails
        the run."""
        if node.running:
            return
        try:
            await self._start(nursery, node)
        except Exception as exc:  # noqa: BLE001 - any failure to reopen is the finding
            self.inv.fail("a crashed node restarts", f"{node.name}: {type(exc).__name__}: {exc}")
        self.inv.checked["a crashed node restarts"] += 1

    # -- the end ----------------------------------------------------------------------------

    async def _settle(self, nursery: trio.Nursery) -> None:
        await self._heal_all(nursery)
        for adversary in self.adversaries:
            adversary.final_phase = True
        healed_at = trio.current_time()
        for _ in range(FINAL_BLOCKS):
            await trio.sleep(self.config.block_interval)
            await self._farm_one()
        last_block_at = trio.current_time()
        deadline = healed_at + self.config.settle_seconds
        while trio.current_time() < deadline:
            if agreed(self.honest) and not any(n.full_node.sync.syncing for n in self.honest):
                self.converged_after = trio.current_time() - last_block_at
                break
            await trio.sleep(1.0)
        self.log.write("settled", self.converged_after)

    def _final_checks(self) -> None:
        peaks: dict[str, bytes32 | None] = {}
        for node in self.honest:
            peak = node.blockchain.get_peak()
            peaks[node.name] = None if peak is None else peak.header_hash
        self.inv.converged(peaks, self.converged_after and agreed(self.honest))
        accepted: dict[str, list[tuple[bytes32, list[bytes32]]]] = collections.defaultdict(list)
        crashed = {name: max(times) for name, times in self.crashed_at.items()}
        for tx_id, (tx, name, at) in self.farm.accepted.items():
            if name in crashed and crashed[name] >= at:
                continue  # the mempool died with the node
            accepted[name].append((tx_id, [s.coin.name() for s in tx.spends]))
        for node in self.honest:
            chain = self.farm.chain_to(peaks[node.name])
            self.inv.coins(node.name, chain)
            self.inv.transactions(node, chain, accepted.get(node.name, []))
        for record in self.errors.records:
            self.inv.fail("no handler exception escapes", record)
        self.inv.checked["no handler exception escapes"] += 1

    async def _check_pools(self) -> None:
        while True:
            await trio.sleep(POOL_CHECK_INTERVAL)
            for node in self._running_honest():
                self.inv.pools(node)

    # -- report -----------------------------------------------------------------------------

    def report(self, wall_seconds: float) -> SimReport:
        heaviest = None
        peaks = [
            p
            for n in self.honest
            if n.service is not None and (p := n.blockchain.get_peak()) is not None
        ]
        final_chain: set[bytes32] = set()
        if peaks:
            top = max(peaks, key=lambda p: (int(p.weight), bytes(p.header_hash)))
            heaviest = int(top.height)
            final_chain = {b.header_hash for b in self.farm.chain_to(top.header_hash)}
        attacks: collections.Counter[str] = collections.Counter()
        for adversary in self.adversaries:
            attacks.update(adversary.sent)
        assert self.injector is not None
        faults = dict(self.faults)
        faults.update({f"{k} (messages)": v for k, v in self.injector.counts.items()})
        return SimReport(
            seed=self.config.seed,
            replay=self.config.replay_command(),
            event_log_sha256=self.log.hexdigest(),
            events=self.log.count,
            wall_seconds=round(wall_seconds, 3),
            virtual_seconds=round(self.virtual_end, 3),
            blocks_made=len(self.farm.made),
            final_height=heaviest,
            forks=len(set(self.farm.made) - final_chain),
            reorgs=self.reorgs,
            deepest_reorg=self.deepest_reorg,
            equivocations=self.farm.equivocations,
            latencies=self.latencies,
            bytes_sent={self.names.get(h, h): v for h, v in self.injector.bytes_sent.items()},
            bans=dict(self.bans),
            faults=faults,
            attacks=dict(attacks),
            transactions={
                "submitted": self.farm.submitted,
                "accepted": len(self.farm.accepted),
            },
            invariants_checked=dict(self.inv.checked),
            violations=list(self.inv.violations),
            converged_after=self.converged_after,
            vdfs_run=self.bt.vdfs_run,
            log_tail=list(self.log.tail),
        )
