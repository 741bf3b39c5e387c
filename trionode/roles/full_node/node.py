"""Full node state and the work behind its handlers: making blocks with farmers and timelords,
adding blocks from anywhere, telling farmers, timelords and peers what changed, syncing, and
the mempool.

Gossip rules (PROTOCOL.md section 4, seed 000; bounds in docs/protocol.md section 2):
- ``Block``: a block already stored is dropped (the seen-cache holds only blocks that
  validated, so an invalid copy never hides the valid block); a block whose parent is stored
  is validated fully, stored and, if it extends a tip, relayed to the other full nodes. A
  disconnected block must first pass the checks that need no parent
  (:mod:`trionode.blockchain.detached`), or its sender is banned; only then does it count as
  the peer's tip advert: more than SYNC_THRESHOLD heights above our peak it is a long sync
  target (:mod:`trionode.sync`), a nearer one is kept (orphan pool, bounded) and its parents
  fetched with ``RequestBlock``, each checked before the next is asked for (short sync).
- ``UnfinishedBlock``: held and relayed only when it validates, its parent is one of our tips
  and it is good enough: its proof of time should finish within
  ``PROPAGATION_THRESHOLD_BLOCKS`` block times of the best unfinished block seen for the same
  challenge (iterations compared at the next ProofOfTimeRate); at most a few per proof of
  space. Our timelords are told its iterations.
- ``NewProofOfTime`` / ``ProofOfTimeFinished``: a proof that finishes held unfinished blocks is
  verified (worker thread) before anything is taken from the pool; an invalid one bans its
  sender (a peer or a timelord) and leaves the held blocks alone.
- Transactions: ``TransactionId`` announces, ``RequestTransaction`` fetches, ``NewTransaction``
  delivers; a transaction new to the mempool is announced to the other full nodes by id.

Farmer protocol conventions (PROTOCOL.md leaves them open):
- ``ProofOfSpaceFinalized.height`` is the height of the block to farm on the challenge (the
  finalized block's height + 1; 0 for the genesis challenge), ``weight`` the finalized block's
  weight, ``quality`` its proof of space quality (zeros for genesis), ``difficulty`` the
  difficulty of the block to farm.
- ``HeaderHash.header_hash`` is ``HeaderData.get_hash()``: what the plot key signs.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio
from blspy import AugSchemeMPL

from trionode import runfiles
from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.results import AddBlockResult, AddBlockStatus
from trionode.consensus import (
    ConsensusConstants,
    block_reward,
    challenge_hash_for_child,
    check_coinbase_owner,
    check_pos_proof,
    expected_pos_challenge,
    make_challenge,
    make_header_data,
    passes_plot_filter,
    plot_filter_input,
    quality_for,
    required_iterations,
)
from trionode.consensus.coins import body_cost, transaction_fee
from trionode.mempool import AddResult, AddStatus, MempoolManager
from trionode.nursery.clock import wall_time
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import BAN_INVALID_BLOCK_SECONDS, PeerRequestError, RemoteProtocolError
from trionode.peers.node import PeerNode
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import (
    Body,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    HeaderBlock,
    ProofOfTime,
    Transaction,
)
from trionode.protocols.farmer_protocol import (
    HeaderHash,
    HeaderSignature,
    ProofOfSpaceArrived,
    ProofOfSpaceFinalized,
    ProofOfTimeRate,
    RequestHeaderHash,
)
from trionode.protocols.peer_protocol import (
    Block,
    NewProofOfTime,
    NewTransaction,
    RequestTransaction,
    TransactionId,
    UnfinishedBlock,
)
from trionode.protocols.shared_protocol import NodeType
from trionode.protocols.timelord_protocol import ChallengeStart, ProofOfSpaceInfo
from trionode.roles.full_node.farming import FarmingState, PendingHeader
from trionode.roles.full_node.gossip import GossipState, IntakeLimits
from trionode.sync import (
    InconsistentPeer,
    SyncConfig,
    SyncManager,
    TooFarBehind,
    fetch_missing_parents,
)
from trionode.sync.budget import RequestBudget
from trionode.wire import G2Element, Streamable, bytes32, uint32, uint64

logger = logging.getLogger(__name__)

MAX_U64 = 2**64 - 1
# An unfinished block is relayed when its proof of time should finish within this many block
# times of the best one seen for its challenge.
PROPAGATION_THRESHOLD_BLOCKS = 1


class InvalidBlockFromPeer(RemoteProtocolError):
    ban_seconds = BAN_INVALID_BLOCK_SECONDS


class InvalidProofOfTime(RemoteProtocolError):
    """A proof of time (from a peer or a timelord) that does not verify."""

    ban_seconds = BAN_INVALID_BLOCK_SECONDS


def _serialized_size(block: FullBlock) -> int:
    return len(bytes(block))


class RequestRejected(Exception):
    """A farmer's request this node will not serve (answered with Error)."""


class FullNode:
    def __init__(
        self,
        constants: ConsensusConstants,
        blockchain: Blockchain,
        root: Path,
        *,
        sync_config: SyncConfig | None = None,
        limits: IntakeLimits | None = None,
    ) -> None:
        self.constants = constants
        self.blockchain = blockchain
        self.root = root
        self.limits = limits or IntakeLimits()
        self.farming = FarmingState(limits=self.limits)
        self.gossip = GossipState(self.limits)
        # Our requests to each peer stay under the rate limits honest peers apply.
        self.budget = RequestBudget()
        self.node: PeerNode | None = None  # set by main once the peer layer exists
        self.blocks_made = 0
        self._add_lock = trio.Lock()
        self.mempool = MempoolManager(blockchain)
        self.sync = SyncManager(
            blockchain,
            attrs.evolve(sync_config or SyncConfig(), threshold=constants.SYNC_THRESHOLD),
            node=lambda: self.node,
            on_blocks=self._synced_blocks,
            on_near_tip=self._short_sync,
            budget=self.budget,
        )
        # Parents fetched one by one beyond this many: a long sync's job.
        self.short_sync_limit = 2 * constants.SYNC_THRESHOLD
        self._short_syncing: set[bytes32] = set()  # node ids of peers we fetch parents from

    # ---------------------------------------------------------------- what to farm on

    def _peers(self, node_type: NodeType) -> list[PeerConnection]:
        return [] if self.node is None else self.node.get_connections(node_type)

    async def finalized_messages(self) -> list[ProofOfSpaceFinalized]:
        """One ProofOfSpaceFinalized per tip, heaviest first (the genesis challenge while the
        chain is empty). Farming every tip, not only the heaviest, is what keeps a small farm
        going when one challenge has no proof in any plot."""
        tips = self.blockchain.get_tips()
        if not tips:
            difficulty = await self.blockchain.get_next_difficulty()
            return [
                ProofOfSpaceFinalized(
                    self.constants.genesis_challenge,
                    uint32(0),
                    uint64(0),
                    bytes32(bytes(32)),
                    uint64(difficulty),
                )
            ]
        out = []
        for tip in tips:
            challenge = challenge_hash_for_child(self.constants, tip)
            if challenge is None:
                continue
            difficulty = await self.blockchain.get_next_difficulty(tip.header_hash)
            quality_string = check_pos_proof(tip.proof_of_space)
            quality = (
                quality_for(tip.proof_of_space.challenge, quality_string)
                if quality_string is not None
                else bytes32(bytes(32))
            )
            out.append(
                ProofOfSpaceFinalized(
                    challenge,
                    uint32(int(tip.height) + 1),
                    uint64(min(int(tip.weight), MAX_U64)),
                    quality,
                    uint64(difficulty),
                )
            )
        return out

    async def greet(self, conn: PeerConnection) -> None:
        """First messages for a new connection, by the peer's role."""
        if conn.node_type is NodeType.FARMER:
            await conn.send(ProofOfTimeRate(uint64(await self.blockchain.get_next_ips())))
            for msg in await self.finalized_messages():
                await conn.send(msg)
        elif conn.node_type is NodeType.TIMELORD:
            challenges = set()
            for msg in await self.finalized_messages():
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

    async def on_tips_changed(self, new_peak: bool) -> None:
        """Tell farmers and timelords the challenges of the tips."""
        msgs = await self.finalized_messages()
        ips = await self.blockchain.get_next_ips()
        peak = self.blockchain.get_peak()
        if peak is not None and new_peak:
            logger.info(
                "new peak: height %d, weight %d, %s",
                peak.height,
                peak.weight,
                peak.header_hash.hex()[:16],
            )
        for conn in self._peers(NodeType.FARMER):
            await self._send_quietly(conn, ProofOfTimeRate(uint64(ips)))
            for msg in msgs:
                await self._send_quietly(conn, msg)
        for conn in self._peers(NodeType.TIMELORD):
            for msg in msgs:
                await self._send_quietly(conn, ChallengeStart(msg.challenge_hash, msg.weight))
        self.write_status()

    async def follow_chain(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Follow every change of the tip set, whoever made it (our farmer's block, a peer's,
        a sync batch): update the mempool and tell farmers and timelords the new challenges.

        This runs as the node's own service, not in the handler that added the block, so a
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
                await self.on_tips_changed(new_peak)

    async def _send_quietly(self, conn: PeerConnection, payload: Streamable) -> None:
        try:
            await conn.send(payload)
        except PeerRequestError as exc:
            logger.info("could not send %s to %r: %s", type(payload).__name__, conn, exc)

    async def broadcast(
        self, payload: Streamable, *, exclude: PeerConnection | None = None
    ) -> None:
        for conn in self._peers(NodeType.FULL_NODE):
            if conn is not exclude:
                await self._send_quietly(conn, payload)

    def sync_status(self) -> dict[str, object]:
        """Whether a long sync runs, its target height, progress (0..1), blocks/s, ETA (s)."""
        return self.sync.status()

    def write_status(self) -> None:
        peak = self.blockchain.get_peak()
        tips = self.blockchain.get_tips()
        status = {
            "height": None if peak is None else int(peak.height),
            "peak": None if peak is None else peak.header_hash.hex(),
            "weight": 0 if peak is None else int(peak.weight),
            "tips": [t.header_hash.hex() for t in tips],
            "peers": {
                t.name.lower(): len(self._peers(t))
                for t in (NodeType.FULL_NODE, NodeType.FARMER, NodeType.TIMELORD)
            },
            "port": None if self.node is None else self.node.port,
            "event_loop_lag": None if self.node is None else self.node.loop_lag.as_json(),
            "blocks_made": self.blocks_made,
            "sync": self.sync_status(),
            "mempool": {
                "transactions": len(self.mempool.mempool),
                "cost": self.mempool.mempool.total_cost,
            },
            "time": wall_time(),
        }
        runfiles.write_json_atomic(runfiles.status_path(self.root, "full_node"), status)

    # ---------------------------------------------------------------- farmer protocol

    def _parent_for_challenge(self, challenge_hash: bytes32) -> HeaderBlock | None | bool:
        """The tip whose child answers ``challenge_hash`` (None: genesis; False: unknown)."""
        if challenge_hash == self.constants.genesis_challenge:
            return None
        for tip in self.blockchain.get_tips():
            if challenge_hash_for_child(self.constants, tip) == challenge_hash:
                return tip
        return False

    async def make_header(self, req: RequestHeaderHash) -> HeaderHash:
        parent = self._parent_for_challenge(req.challenge_hash)
        if parent is False:
            raise RequestRejected(f"challenge {req.challenge_hash.hex()[:16]} is not on a tip")
        assert parent is not True
        pos = req.proof_of_space
        plot_id = pos.get_plot_id()
        f = plot_filter_input(plot_id, req.challenge_hash, req.challenge_hash)
        if not passes_plot_filter(f, self.constants.PLOT_FILTER_BITS):
            raise RequestRejected("the plot does not pass the filter for this challenge")
        if pos.challenge != expected_pos_challenge(plot_id, req.challenge_hash):
            raise RequestRejected("proof of space answers another challenge")
        quality_string = await run_blocking(check_pos_proof, pos)
        if quality_string is None:
            raise RequestRejected("invalid proof of space")
        parent_hash = None if parent is None else parent.header_hash
        difficulty = await self.blockchain.get_next_difficulty(parent_hash)
        iterations = required_iterations(self.constants, pos, quality_string, difficulty)
        height = 0 if parent is None else int(parent.height) + 1
        coinbase = req.coinbase
        if int(coinbase.height) != height or int(coinbase.amount) != block_reward(
            self.constants, height
        ):
            raise RequestRejected(f"coinbase must be for height {height} and the block reward")
        owner_err = check_coinbase_owner(pos, coinbase, req.coinbase_signature)
        if owner_err is not None:
            raise RequestRejected(
                f"coinbase not owned as the proof of space says: {owner_err.name}"
            )
        transactions = await self.mempool.select_for(parent_hash, self.constants.MAX_BLOCK_COST)
        body = make_body(
            coinbase, req.coinbase_signature, req.fees_target_puzzle_hash, transactions
        )
        timestamp = int(wall_time())
        if parent is not None:
            timestamp = max(timestamp, int(parent.header.data.timestamp) + 1)
        data = make_header_data(
            parent=parent,
            difficulty=difficulty,
            iterations=iterations,
            pos=pos,
            body=body,
            timestamp=timestamp,
        )
        header_hash = data.get_hash()
        self.farming.add_pending(
            header_hash, PendingHeader(pos, body, data, req.challenge_hash, iterations)
        )
        logger.info(
            "header for height %d made for a farmer (%d iterations, %d transactions)",
            height,
            iterations,
            len(transactions),
        )
        return HeaderHash(pos.get_hash(), header_hash)

    async def header_signed(self, msg: HeaderSignature) -> None:
        pending = self.farming.pending.pop(msg.header_hash, None)
        if pending is None:
            logger.info("signature for an unknown header %s ignored", msg.header_hash.hex()[:16])
            return
        block = FullBlock(
            pending.pos, None, None, Header(pending.data, msg.header_signature), pending.body
        )
        err = await self.blockchain.validate_unfinished(block)
        if err is not None:
            logger.warning("our own unfinished block is invalid: %s", err.name)
            return
        size = await run_blocking(_serialized_size, block)
        await self.hold_unfinished(
            block, pending.challenge_hash, pending.iterations, source=None, size=size
        )

    async def unfinished_from_peer(self, block: FullBlock, peer: PeerConnection) -> None:
        """An UnfinishedBlock from a peer: held (and relayed) only if it validates and extends
        a tip. Only a held block counts as seen: an invalid copy must not hide the valid one."""
        if block.is_finished or self.blockchain.contains_block(block.header_hash):
            return
        if block.header_hash in self.gossip.unfinished or not self.farming.accepts_unfinished(
            block
        ):
            return  # held already, or its proof of space has its share (first seen kept)
        tips = {t.header_hash: t for t in self.blockchain.get_tips()}
        if block.height == 0 and not tips:
            parent: HeaderBlock | None = None
        elif block.prev_header_hash in tips:
            parent = tips[block.prev_header_hash]
        else:
            logger.debug("unfinished block at height %d does not extend a tip", block.height)
            return
        challenge = challenge_hash_for_child(self.constants, parent)
        if challenge is None:
            return
        err = await self.blockchain.validate_unfinished(block)
        if err is not None:
            raise InvalidBlockFromPeer(f"invalid unfinished block: {err.name}")
        size = await run_blocking(_serialized_size, block)
        parent_iters = 0 if parent is None else int(parent.header.data.total_iters)
        iterations = int(block.header.data.total_iters) - parent_iters
        await self.hold_unfinished(block, challenge, iterations, source=peer, size=size)

    async def hold_unfinished(
        self,
        block: FullBlock,
        challenge_hash: bytes32,
        iterations: int,
        *,
        source: PeerConnection | None,
        size: int,
    ) -> None:
        """Hold a valid unfinished block (``size`` bytes) for its proof of time; if it is good
        enough and the pool takes it, tell our timelords its iterations and relay it to the
        other full nodes."""
        parent_hash = None if block.height == 0 else block.prev_header_hash
        try:
            ips = await self.blockchain.get_next_ips(parent_hash)
        except KeyError:
            return
        threshold = ips * self.constants.BLOCK_TIME_TARGET * PROPAGATION_THRESHOLD_BLOCKS
        if not self.gossip.good_enough(challenge_hash, iterations, threshold):
            logger.info(
                "unfinished block at height %d (%d iterations) is not good enough to relay",
                block.height,
                iterations,
            )
            return
        if not self.farming.add_unfinished(challenge_hash, iterations, block, size):
            return
        self.gossip.unfinished.add(block.header_hash)
        logger.info(
            "unfinished block at height %d waits for %d iterations on %s",
            block.height,
            iterations,
            challenge_hash.hex()[:16],
        )
        for conn in self._peers(NodeType.TIMELORD):
            await self._send_quietly(conn, ProofOfSpaceInfo(challenge_hash, uint64(iterations)))
        # Seed 000: farmers hear of proofs of space at a weight, to skip much worse ones.
        farmers = self._peers(NodeType.FARMER)
        if farmers:
            arrived = ProofOfSpaceArrived(
                uint64(min(int(block.weight), MAX_U64)), self._quality_of(block)
            )
            for conn in farmers:
                await self._send_quietly(conn, arrived)
        await self.broadcast(UnfinishedBlock(block), exclude=source)

    @staticmethod
    def _quality_of(block: FullBlock) -> bytes32:
        quality_string = check_pos_proof(block.proof_of_space)
        if quality_string is None:  # unreachable for a validated block
            return bytes32(bytes(32))
        return quality_for(block.proof_of_space.challenge, quality_string)

    # ---------------------------------------------------------------- proofs of time

    async def proof_of_time(
        self, pot: ProofOfTime, *, source: PeerConnection | None, from_timelord: bool = False
    ) -> int:
        """Finish the unfinished blocks this proof completes; returns how many were added.

        ``source`` is the connection it came on (None: made here); ``from_timelord`` says it
        is our timelord's (its blocks count as made here and the proof is relayed). The proof
        is verified before any held block is taken: an invalid one raises InvalidProofOfTime
        (its sender is banned) and the held blocks stay for the valid proof. A proof that
        answers nothing we hold is ignored unverified."""
        pot_hash = pot.get_hash()
        if pot_hash in self.gossip.proofs_of_time:
            return 0  # a duplicate of a proof that verified
        challenge_hash, iterations = pot.challenge_hash, int(pot.number_of_iterations)
        if not self.farming.peek_unfinished(challenge_hash, iterations):
            return 0
        if not await self.blockchain.verify_proof_of_time(pot):
            what = "timelord's" if from_timelord else "peer's"
            if source is not None:
                raise InvalidProofOfTime(
                    f"invalid proof of time from a {what} connection for "
                    f"{challenge_hash.hex()[:16]}/{iterations}"
                )
            logger.warning("our proof of time for %s does not verify", challenge_hash.hex()[:16])
            return 0
        self.gossip.proofs_of_time.add(pot_hash)
        own = source is None or from_timelord
        blocks = self.farming.take_unfinished(challenge_hash, iterations)
        added = 0
        for unfinished in blocks:
            challenge = make_challenge(
                self.constants,
                answered_challenge=challenge_hash,
                pos=unfinished.proof_of_space,
                pot=pot,
                header_data=unfinished.header.data,
            )
            finished = unfinished.replace(proof_of_time=pot, challenge=challenge)
            result = await self.add_block(finished, source=None)
            if result.added:
                added += 1
                if own:
                    self.blocks_made += 1
        if blocks and own:
            await self.broadcast(NewProofOfTime(pot))
        return added

    # ---------------------------------------------------------------- blocks

    async def add_block(self, block: FullBlock, *, source: PeerConnection | None) -> AddBlockResult:
        """Add a block; relay it if it extends a tip. A peer's invalid block bans the peer.
        Disconnected blocks kept earlier whose parent this is are added after it."""
        async with self._add_lock:
            result = await self.blockchain.add_block(block)
        if result.added or result.status is AddBlockStatus.ALREADY_HAVE:
            self.gossip.blocks.add(block.header_hash)  # validated: later copies are dropped
        if result.status is AddBlockStatus.INVALID:
            err = result.error.name if result.error is not None else "?"
            if source is not None:
                raise InvalidBlockFromPeer(f"invalid block at height {block.height}: {err}")
            logger.warning("block at height %d is invalid: %s", block.height, err)
        elif result.status is AddBlockStatus.ADDED_TO_TIP:
            logger.info(
                "block %s at height %d added to a tip%s",
                block.header_hash.hex()[:16],
                block.height,
                " (new peak)" if result.new_peak else "",
            )
            await self.broadcast(Block(block), exclude=source)
        if result.added:
            for child in self.gossip.take_children(block.header_hash):
                await self.add_block(child, source=None)
        return result

    async def block_from_peer(self, block: FullBlock, peer: PeerConnection) -> None:
        """A Block from a peer: dropped if stored, added if its parent is stored; otherwise
        checked detached (an invalid one bans the peer) and only then taken as the peer's tip
        advert: kept and its parents fetched if it is close (short sync), handed to the long
        sync if far."""
        if block.header_hash in self.gossip.blocks or self.blockchain.contains_block(
            block.header_hash
        ):
            return
        if block.height == 0 or self.blockchain.contains_block(block.prev_header_hash):
            await self.add_block(block, source=peer)
            return
        if self.sync.advertised(peer, block):
            return  # this peer sent this very block before and it passed
        err, size = await self.blockchain.check_detached(block)
        if err is not None:
            raise InvalidBlockFromPeer(
                f"invalid block at height {block.height} (parent unknown): {err.name}"
            )
        self.sync.note_tip(peer, block)
        if self.sync.is_far(int(block.height)):
            return  # the long sync loop was woken by note_tip
        if self.sync.syncing:
            self.gossip.keep_orphan(block, size)  # its parents may arrive with the sync
            return
        await self._short_sync(peer, block, size)

    async def _short_sync(
        self, peer: PeerConnection, block: FullBlock, size: int | None = None
    ) -> None:
        """Fetch ``block``'s missing parents from ``peer``, each checked before the next is
        asked for, then add them. One short sync per peer and ``short_sync_max_running`` in
        all: a block beyond that waits in the orphan pool for its parents."""
        if size is None:
            size = await run_blocking(_serialized_size, block)
        self.gossip.keep_orphan(block, size)
        if (
            peer.node_id in self._short_syncing
            or len(self._short_syncing) >= self.limits.short_sync_max_running
        ):
            return
        self._short_syncing.add(peer.node_id)
        try:
            chain = await fetch_missing_parents(
                peer,
                block,
                self.blockchain.contains_block,
                self.short_sync_limit,
                check=self._checked_parent,
                max_bytes=self.limits.short_sync_max_bytes,
                budget=self.budget,
            )
        except TooFarBehind as exc:
            logger.info("%r: %s: long sync", peer, exc)
            self.sync.note_tip(peer, block, deep=True)
            return
        except PeerRequestError as exc:
            logger.info("short sync from %r failed: %s", peer, exc)
            return
        finally:
            self._short_syncing.discard(peer.node_id)
        logger.info("short sync: %d missing blocks fetched from %r", len(chain) - 1, peer)
        for b in chain:
            result = await self.add_block(b, source=peer)
            if not result.added and result.status is not AddBlockStatus.ALREADY_HAVE:
                break

    async def _checked_parent(self, child: FullBlock, parent: FullBlock) -> int:
        """A parent a peer served for ``child``: it must pass the detached checks and link to
        ``child``; returns its size. Raises InconsistentPeer (the peer is banned)."""
        err, size = await self.blockchain.check_parent(child, parent)
        if err is not None:
            raise InconsistentPeer(
                f"served a parent at height {parent.height} that is invalid: {err.name}"
            )
        return size

    async def _synced_blocks(
        self, blocks: Sequence[FullBlock], results: Sequence[AddBlockResult]
    ) -> None:
        """After each window a long sync committed: tell farmers and timelords, follow the
        mempool (blocks are not relayed: peers that need them sync as well)."""
        # follow_chain tells farmers, timelords and the mempool. Only what validated is seen:
        # an invalid block a sync peer served must not hide the valid one.
        for block, result in zip(blocks, results, strict=True):
            if result.added or result.status is AddBlockStatus.ALREADY_HAVE:
                self.gossip.blocks.add(block.header_hash)

    async def blocks_for(self, tip: bytes32, heights: Sequence[int]) -> list[FullBlock]:
        return await self.blockchain.get_blocks_at(heights, tip)

    # ---------------------------------------------------------------- transactions

    async def add_transaction(self, tx: Transaction, *, source: PeerConnection | None) -> AddResult:
        """Validate ``tx`` against the heaviest tip and hold it; announce it by id to the other
        full nodes if it is new. A full node relaying a transaction that is invalid whatever
        the coin set is banned."""
        tx_id = tx.get_hash()
        self.gossip.transactions.add(tx_id)
        result = await self.mempool.add_transaction(tx)
        if result.added:
            for conn in self._peers(NodeType.FULL_NODE):
                if conn is not source:
                    await self._send_quietly(conn, TransactionId(tx_id))
        elif result.status is AddStatus.INVALID:
            logger.info(
                "transaction %s from %r refused: %s", tx_id.hex()[:16], source, result.describe()
            )
            if (
                source is not None
                and source.node_type is NodeType.FULL_NODE
                and result.peer_at_fault
            ):
                raise InvalidTransactionFromPeer(f"invalid transaction: {result.describe()}")
        return result

    async def transaction_announced(self, tx_id: bytes32, peer: PeerConnection) -> None:
        """A TransactionId: fetch the transaction if it is new to us."""
        if tx_id in self.mempool.mempool or not self.gossip.transactions.add(tx_id):
            return
        if not self.budget.try_spend(peer, T.request_transaction):
            self.gossip.transactions.discard(tx_id)  # another announcement may fetch it
            logger.debug("request budget to %r spent: transaction %s not fetched", peer, tx_id)
            return
        try:
            reply = await peer.request(RequestTransaction(tx_id))
        except PeerRequestError as exc:
            self.gossip.transactions.discard(tx_id)
            logger.debug("could not fetch transaction %s: %s", tx_id.hex()[:16], exc)
            return
        if not isinstance(reply, NewTransaction) or reply.transaction.get_hash() != tx_id:
            raise InvalidTransactionFromPeer("answered RequestTransaction with another transaction")
        await self.add_transaction(reply.transaction, source=peer)


class InvalidTransactionFromPeer(RemoteProtocolError):
    ban_seconds = BAN_INVALID_BLOCK_SECONDS


def make_body(
    coinbase: CoinbaseInfo,
    coinbase_signature: G2Element,
    fees_puzzle_hash: bytes32,
    transactions: Sequence[Transaction],
) -> Body:
    """A body as consensus validation expects it: the fees target collects every fee, the
    aggregated signature is the aggregate of the transactions' signatures in order (None
    without transactions), the cost is their serialized size."""
    aggregated = (
        G2Element(AugSchemeMPL.aggregate([tx.aggregated_signature.point for tx in transactions]))
        if transactions
        else None
    )
    return Body(
        coinbase=coinbase,
        coinbase_signature=coinbase_signature,
        fees_target=FeesTarget(
            fees_puzzle_hash, uint64(sum(transaction_fee(tx) for tx in transactions))
        ),
        transactions=list(transactions),
        aggregated_signature=aggregated,
        cost=uint64(body_cost(transactions)),
    )
