"""Unfinished blocks and the proofs of time that finish them: the full node's side of the
timelord protocol and of the ``UnfinishedBlock`` / ``NewProofOfTime`` gossip.

- ``UnfinishedBlock``: held and relayed only when it validates, its parent is one of our tips
  and it is good enough: its proof of time should finish within
  ``PROPAGATION_THRESHOLD_BLOCKS`` block times of the best unfinished block seen for the same
  challenge (iterations compared at the next ProofOfTimeRate); at most a few per proof of
  space. Our timelords are told its iterations, our farmers its weight and quality.
- ``NewProofOfTime`` / ``ProofOfTimeFinished``: a proof that finishes held unfinished blocks is
  verified (worker thread) before anything is taken from the pool; an invalid one bans its
  sender (a peer or a timelord) and leaves the held blocks alone. The blocks it finishes are
  added through block intake like any other by a loop of the node (not by the message's
  handler, which ends with its connection), and are relayed from there (the proof alone to
  peers that hold them: :mod:`trionode.roles.full_node.relay`).
- What a peer sent (an UnfinishedBlock, a NewProofOfTime) is noted in its holdings record
  first: it shows what the peer has, whatever we do with it.
"""

from __future__ import annotations

import collections
import logging

import attrs
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import (
    ConsensusConstants,
    challenge_hash_for_child,
    check_pos_proof,
    make_challenge,
    quality_for,
)
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import BAN_INVALID_BLOCK_SECONDS, RemoteProtocolError
from trionode.peers.holdings import Held, HoldingsBook
from trionode.protocols.chain_types import FullBlock, HeaderBlock, ProofOfTime
from trionode.protocols.farmer_protocol import ProofOfSpaceArrived
from trionode.protocols.shared_protocol import NodeType
from trionode.protocols.timelord_protocol import ProofOfSpaceInfo
from trionode.roles.full_node.farming import FarmingState
from trionode.roles.full_node.gossip import GossipState
from trionode.roles.full_node.outbox import Outbox
from trionode.roles.full_node.relay import BlockRelay
from trionode.sync import BlockIntake, IntakeLimits, InvalidBlockFromPeer
from trionode.sync.intake import serialized_size
from trionode.wire import bytes32, uint64

logger = logging.getLogger(__name__)

MAX_U64 = 2**64 - 1
# An unfinished block is relayed when its proof of time should finish within this many block
# times of the best one seen for its challenge.
PROPAGATION_THRESHOLD_BLOCKS = 1


#: Verified proofs whose blocks wait to be added; a further proof waits (nothing taken yet).
MAX_FINISHING = 16


@attrs.define(eq=False)
class _Finish:
    """The blocks one verified proof took from the pool, for :meth:`UnfinishedBlocks.finish_loop`;
    ``done`` is set when they were added (``added`` of them)."""

    pot: ProofOfTime
    blocks: list[FullBlock]
    own: bool = False
    added: int = 0
    done: trio.Event = attrs.field(factory=trio.Event)


class InvalidProofOfTime(RemoteProtocolError):
    """A proof of time (from a peer or a timelord) that does not verify."""

    ban_seconds = BAN_INVALID_BLOCK_SECONDS


class UnfinishedBlocks:
    """Holds valid unfinished blocks (``farming``) until a verified proof of time finishes
    them; counts the blocks finished by our own timelords or made here (``blocks_made``)."""

    def __init__(
        self,
        constants: ConsensusConstants,
        blockchain: Blockchain,
        intake: BlockIntake,
        outbox: Outbox,
        gossip: GossipState,
        limits: IntakeLimits,
        *,
        relay: BlockRelay,
        holdings: HoldingsBook,
    ) -> None:
        self.constants = constants
        self.blockchain = blockchain
        self.intake = intake
        self.outbox = outbox
        self.gossip = gossip
        self.relay = relay
        self.holdings = holdings
        self.farming = FarmingState(limits=limits)
        self.blocks_made = 0
        # Blocks taken by a verified proof, waiting for finish_loop to add them: at most
        # MAX_FINISHING proofs' worth (each proof takes what the bounded pool held for it).
        self._finishing: collections.deque[_Finish] = collections.deque()
        self._finish_ready = trio.Event()
        self._finish_room = trio.Semaphore(MAX_FINISHING)

    async def unfinished_from_peer(self, block: FullBlock, peer: PeerConnection) -> None:
        """An UnfinishedBlock from a peer: held (and relayed) only if it validates and extends
        a tip. Only a held block counts as seen: an invalid copy must not hide the valid one.
        The peer is noted as holding it (an honest peer sends only what it holds; a liar is
        the relay's fallback's problem)."""
        if not block.is_finished:
            self.holdings.of(peer).note(block.header_hash, Held.UNFINISHED)
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
        size = await run_blocking(serialized_size, block)
        parent_iters = 0 if parent is None else int(parent.header.data.total_iters)
        iterations = int(block.header.data.total_iters) - parent_iters
        await self.hold(block, challenge, iterations, source=peer, size=size)

    async def hold(
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
        info = ProofOfSpaceInfo(challenge_hash, uint64(iterations))
        await self.outbox.send_to_all(NodeType.TIMELORD, info)
        # Seed 000: farmers hear of proofs of space at a weight, to skip much worse ones.
        if self.outbox.peers(NodeType.FARMER):
            arrived = ProofOfSpaceArrived(
                uint64(min(int(block.weight), MAX_U64)), self._quality_of(block)
            )
            await self.outbox.send_to_all(NodeType.FARMER, arrived)
        await self.relay.unfinished(block)

    @staticmethod
    def _quality_of(block: FullBlock) -> bytes32:
        quality_string = check_pos_proof(block.proof_of_space)
        if quality_string is None:  # unreachable for a validated block
            return bytes32(bytes(32))
        return quality_for(block.proof_of_space.challenge, quality_string)

    async def proof_of_time(
        self, pot: ProofOfTime, *, source: PeerConnection | None, from_timelord: bool = False
    ) -> int:
        """Finish the unfinished blocks this proof completes; returns how many were added.

        ``source`` is the connection it came on (None: made here); ``from_timelord`` says it
        is our timelord's (its blocks count as made here). A peer that sends a proof has the
        block it finishes (noted first: the relay answers it with the same proof). The proof
        is verified before any held block is taken: an invalid one raises InvalidProofOfTime
        (its sender is banned) and the held blocks stay for the valid proof. A proof that
        answers nothing we hold is ignored unverified.

        The blocks taken are added by :meth:`finish_loop`, a loop of this node, never by the
        handler that brought the proof: the handler lives as long as its connection, and the
        proof has gone to our peers (who take it as our word that we have the blocks) before
        the blocks are added. A timelord that disconnects (restarted, killed) must not cancel
        the adds of its last proofs half way: that lost blocks our peers then held and would
        never send back to us."""
        pot_hash = pot.get_hash()
        if source is not None and not from_timelord:
            self.holdings.of(source).note(pot_hash, Held.PROOF)
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
        await self._finish_room.acquire()  # waiting here loses nothing: nothing is taken yet
        if pot_hash in self.gossip.proofs_of_time:  # another handler took them meanwhile
            self._finish_room.release()
            return 0
        self.gossip.proofs_of_time.add(pot_hash)
        # From here to the append there is no checkpoint: what is taken is queued.
        job = _Finish(pot, self.farming.take_unfinished(challenge_hash, iterations))
        job.own = source is None or from_timelord
        self._finishing.append(job)
        self._finish_ready.set()
        # The blocks it finishes are valid (BlockRelay.proof says why): holders hear of the
        # proof now, not after our own validation and commit of those blocks.
        await self.relay.proof(pot, [b.header_hash for b in job.blocks])
        await job.done.wait()
        return job.added

    async def finish_loop(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Add the blocks finished by verified proofs of time, in the order the proofs came
        (one of the node's loops; see :meth:`proof_of_time`)."""
        task_status.started()
        while True:
            if not self._finishing:
                self._finish_ready = trio.Event()
                await self._finish_ready.wait()
                continue
            job = self._finishing.popleft()
            try:
                await self._add_finished(job)
            finally:
                self._finish_room.release()
                job.done.set()

    async def _add_finished(self, job: _Finish) -> None:
        pot = job.pot
        for unfinished in job.blocks:
            challenge = make_challenge(
                self.constants,
                answered_challenge=pot.challenge_hash,
                pos=unfinished.proof_of_space,
                pot=pot,
                header_data=unfinished.header.data,
            )
            finished = unfinished.replace(proof_of_time=pot, challenge=challenge)
            result = await self.intake.add_block(finished, source=None)
            if result.added:
                job.added += 1
                if job.own:
                    self.blocks_made += 1
