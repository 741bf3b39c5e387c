"""The full node, composed: block intake (:mod:`trionode.sync.intake`) and one part per job,
wired once at construction on a peer layer that already exists.

- :class:`~trionode.roles.full_node.headers.HeaderMaker`: the farmer protocol (what to farm
  on, headers for farmers' proofs of space);
- :class:`~trionode.roles.full_node.unfinished.UnfinishedBlocks`: unfinished blocks and the
  proofs of time (from timelords and peers) that finish them;
- :class:`~trionode.roles.full_node.transactions.TransactionGossip`: transactions and the
  mempool;
- block gossip: intake reports each block it added to a tip on a bounded channel; this node's
  relay loop hands it to :class:`~trionode.roles.full_node.relay.BlockRelay`, which sends each
  other full node the Block, or only the proof of time to a peer that holds the unfinished
  block (what each peer has is in :class:`~trionode.peers.holdings.HoldingsBook`).

Its long-lived loops (:meth:`FullNode.loops`) are run by the role (``main.py``) under a
supervisor it owns: greeting new connections, following the chain (mempool, farmers,
timelords), relaying blocks, block intake's sync loop, and the status file.
"""

from __future__ import annotations

import functools
import logging
import threading
from pathlib import Path

import attrs
import trio

from trionode import runfiles
from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.results import AddBlockResult
from trionode.consensus import ConsensusConstants
from trionode.mempool import AddResult, MempoolManager
from trionode.nursery.clock import wall_time
from trionode.nursery.offload import run_blocking
from trionode.nursery.supervisor import ChildFn
from trionode.peers.connection import PeerConnection
from trionode.peers.holdings import HoldingsBook
from trionode.peers.node import PeerNode
from trionode.protocols.chain_types import FullBlock, Transaction
from trionode.protocols.farmer_protocol import ProofOfTimeRate
from trionode.protocols.peer_protocol import Block
from trionode.protocols.shared_protocol import NodeType
from trionode.protocols.timelord_protocol import ChallengeStart, ProofOfSpaceInfo
from trionode.roles.full_node.gossip import GossipState
from trionode.roles.full_node.headers import HeaderMaker
from trionode.roles.full_node.outbox import Outbox
from trionode.roles.full_node.relay import BlockRelay
from trionode.roles.full_node.transactions import TransactionGossip
from trionode.roles.full_node.unfinished import UnfinishedBlocks
from trionode.roles.greeter import greet_new_connections
from trionode.sync import REPORT_BUFFER, BlockAdded, BlockIntake, IntakeLimits, SyncConfig
from trionode.sync.budget import RequestBudget
from trionode.wire import uint64

logger = logging.getLogger(__name__)

STATUS_INTERVAL = 2.0


class FullNode:
    """``node`` is the peer layer this full node talks through (constructed first; the
    caller registers the full node's APIs on it and runs it)."""

    def __init__(
        self,
        constants: ConsensusConstants,
        blockchain: Blockchain,
        root: Path,
        node: PeerNode,
        *,
        sync_config: SyncConfig | None = None,
        limits: IntakeLimits | None = None,
    ) -> None:
        self.constants = constants
        self.blockchain = blockchain
        self.root = root
        self.node = node
        self.limits = limits or IntakeLimits()
        self.outbox = Outbox(node)
        self.gossip = GossipState(self.limits)
        # What each connected full node has (for the relay), dropped with its connection.
        self.holdings = HoldingsBook()
        node.on_disconnect.append(self.holdings.drop)
        self.relay = BlockRelay(self.outbox, self.holdings, blockchain)
        # Our requests to each peer stay under the rate limits honest peers apply.
        self.budget = RequestBudget()
        self.mempool = MempoolManager(blockchain)
        reports, self._reports = trio.open_memory_channel[BlockAdded](REPORT_BUFFER)
        self.intake = BlockIntake(
            blockchain,
            node,
            reports,
            config=attrs.evolve(sync_config or SyncConfig(), threshold=constants.SYNC_THRESHOLD),
            limits=self.limits,
            budget=self.budget,
        )
        self.sync = self.intake.long_sync
        self.unfinished = UnfinishedBlocks(
            constants,
            blockchain,
            self.intake,
            self.outbox,
            self.gossip,
            self.limits,
            relay=self.relay,
            holdings=self.holdings,
        )
        self.farming = self.unfinished.farming
        self.headers = HeaderMaker(
            constants, blockchain, self.mempool, self.unfinished, self.outbox
        )
        self.transactions = TransactionGossip(self.mempool, self.gossip, self.outbox, self.budget)
        self._status_lock = threading.Lock()
        # Seconds between status files (the network simulator, whose nodes nobody shows,
        # writes them rarely: a per-node timer costs it CPU for every virtual second).
        self.status_interval = STATUS_INTERVAL

    @property
    def blocks_made(self) -> int:
        return self.unfinished.blocks_made

    async def add_block(self, block: FullBlock, *, source: PeerConnection | None) -> AddBlockResult:
        """Add a block through block intake (e.g. one made or loaded here: ``source`` None)."""
        return await self.intake.add_block(block, source=source)

    async def add_transaction(self, tx: Transaction, *, source: PeerConnection | None) -> AddResult:
        """Validate and hold ``tx`` (the RPC's ``push_transaction``: ``source`` None)."""
        return await self.transactions.add_transaction(tx, source=source)

    def loops(self) -> list[tuple[str, ChildFn]]:
        """The full node's long-lived loops, by name, for the role's supervisor to run (each
        permanent; start them once the peer layer runs, in this order)."""
        return [
            ("greeter", functools.partial(greet_new_connections, self.node, self.greet)),
            ("chain-follower", self.follow_chain),
            ("block-relay", self.relay_blocks),
            ("relay-fallback", self.relay.fallback_loop),
            ("block-finisher", self.unfinished.finish_loop),
            ("status", self.status_loop),
            ("block-intake", self.intake.run),
        ]

    # ---------------------------------------------------------------- loops

    async def greet(self, conn: PeerConnection) -> None:
        """First messages for a new connection, by the peer's role."""
        if conn.node_type is NodeType.FARMER:
            await conn.send(ProofOfTimeRate(uint64(await self.blockchain.get_next_ips())))
            for msg in await self.headers.finalized_messages():
                await conn.send(msg)
        elif conn.node_type is NodeType.TIMELORD:
            challenges = set()
            for msg in await self.headers.finalized_messages():
                challenges.add(msg.challenge_hash)
                await conn.send(ChallengeStart(msg.challenge_hash, msg.weight))
            for (c, iters), _blocks in list(self.farming.unfinished.items()):
                if c in challenges:
                    await conn.send(ProofOfSpaceInfo(c, uint64(iters)))
        elif conn.node_type is NodeType.FULL_NODE:
            peak = self.blockchain.get_peak()
            if peak is not None:
                block = await self.blockchain.get_block(peak.header_hash)
                if block is not None:
                    await conn.send(Block(block))

    async def follow_chain(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Follow every change of the tip set, whoever made it (our farmer's block, a peer's,
        a sync batch): update the mempool and tell farmers and timelords the new challenges.

        This runs as the node's own loop, not in the handler that added the block, so a
        peer that disconnects right after delivering a block cannot cancel the follow-up.
        Events that pile up are taken together: each update reads the current tips.
        """
        with self.blockchain.subscribe(buffer=256) as events:
            task_status.started()
            async for event in events:
                new_peak = event.new_peak
                while True:
                    try:
                        new_peak = events.receive_nowait().new_peak or new_peak
                    except trio.WouldBlock:
                        break
                if new_peak:
                    await self.mempool.on_new_peak()
                    self._log_peak()
                await self.headers.tell_farmers_and_timelords()
                await self.write_status_off_loop()

    def _log_peak(self) -> None:
        peak = self.blockchain.get_peak()
        if peak is not None:
            logger.info(
                "new peak: height %d, weight %d, %s",
                peak.height,
                peak.weight,
                peak.header_hash.hex()[:16],
            )

    async def relay_blocks(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Block gossip: each block intake added to a tip goes to the other full nodes (not
        back to its sender; only its proof of time to those that hold its unfinished block).
        Reads the intake's channel, which lives as long as this node: a restarted relay goes
        on where the last one stopped."""
        task_status.started()
        async for added in self._reports:
            await self.relay.block(added.block, source=added.source)

    async def status_loop(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        task_status.started()
        while True:
            await self.write_status_off_loop()
            await trio.sleep(self.status_interval)

    # ---------------------------------------------------------------- status

    def sync_status(self) -> dict[str, object]:
        """Whether a long sync runs, its target height, progress (0..1), blocks/s, ETA (s)."""
        return self.sync.status()

    def write_status(self) -> None:
        self._write_status_file(self.status())

    async def write_status_off_loop(self) -> None:
        """:meth:`write_status` with the file written (JSON, fsync) in a worker thread: the
        loops call it after every block, and a disk's fsync must not stall the event loop."""
        await run_blocking(self._write_status_file, self.status())

    def _write_status_file(self, status: dict[str, object]) -> None:
        # One writer at a time: writes from two threads (or a thread and the loop) would
        # share the temporary file and one rename would find it gone.
        with self._status_lock:
            runfiles.write_json_atomic(runfiles.status_path(self.root, "full_node"), status)

    def status(self) -> dict[str, object]:
        """What the status file holds (read on the event loop: the chain's state)."""
        peak = self.blockchain.get_peak()
        tips = self.blockchain.get_tips()
        status: dict[str, object] = {
            "height": None if peak is None else int(peak.height),
            "peak": None if peak is None else peak.header_hash.hex(),
            "weight": 0 if peak is None else int(peak.weight),
            "tips": [t.header_hash.hex() for t in tips],
            "peers": {
                t.name.lower(): len(self.outbox.peers(t))
                for t in (NodeType.FULL_NODE, NodeType.FARMER, NodeType.TIMELORD)
            },
            "port": self.node.port,
            "event_loop_lag": self.node.loop_lag.as_json(),
            "blocks_made": self.blocks_made,
            "sync": self.sync_status(),
            "mempool": {
                "transactions": len(self.mempool.mempool),
                "cost": self.mempool.mempool.total_cost,
            },
            "time": wall_time(),
        }
        return status
