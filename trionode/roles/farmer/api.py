"""Farmer message handlers: from the full node (farmer protocol), from harvesters of both
generations (seed 001, and the legacy seeds 000/003) and from its pool (docs/protocol.md 5).

Block making, per proof: the farmer checks the proof and its iterations ->
``request_header_hash`` (with the coinbase) to the full node -> the harvester's half of the 2-of-2
plot signature over that header hash (v2: ``request_signatures``; v1:
``request_header_signature``) -> the farmer adds its half -> ``header_signature`` to the full
node.

A v1 harvester answers ``new_challenge`` with qualities only (``challenge_response``); the farmer
asks ``request_proof_of_space`` for those good enough to propagate (the seed's threshold:
expected time to finish = iterations / ProofOfTimeRate below a small multiple of the block time,
``FarmerState.iteration_threshold``) or good enough for its pool (the pool difficulty), then
``request_header_signature`` or ``request_partial_proof``.

Partials: a proof of a plot pooled to the farmer's pool that passes the pool difficulty is signed
over the farmer target (the harvester's half, then the farmer's) and sent to the pool.

Coinbase: a plot with a pool key that is ours gets a coinbase to our pool puzzle hash signed by
our pool key; a pooled plot (contract puzzle hash) gets the coinbase to that puzzle hash, with
the identity signature (rules v2, ``trionode.consensus.check_coinbase_owner``).

``ProofOfSpaceFinalized.height`` is the height of the block to farm on that challenge (the
finalized block's height + 1, or 0 for the genesis challenge); ``weight`` is the finalized
block's weight.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

from blspy import AugSchemeMPL

from trionode.consensus import (
    IDENTITY_G2,
    block_reward,
    check_pos_proof,
    expected_pos_challenge,
    iterations_for_quality,
    quality_for,
)
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError
from trionode.peers.node import PeerNode
from trionode.protocols.chain_types import CoinbaseInfo, ProofOfSpace
from trionode.protocols.farmer_protocol import (
    HeaderHash,
    HeaderSignature,
    ProofOfSpaceArrived,
    ProofOfSpaceFinalized,
    ProofOfTimeRate,
    RequestHeaderHash,
)
from trionode.protocols.harvester_protocol import (
    NewProofOfSpace,
    RequestSignatures,
    RespondPlots,
    RespondSignatures,
)
from trionode.protocols.harvester_protocol_v1 import (
    ChallengeResponse,
    NewChallenge,
    RequestHeaderSignature,
    RequestPartialProof,
    RequestProofOfSpace,
    RespondHeaderSignature,
    RespondPartialProof,
    RespondProofOfSpace,
)
from trionode.protocols.pool_protocol import PoolDifficultyChanged
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.farmer.node import FarmerState
from trionode.roles.farmer.pool_link import PoolLink
from trionode.wire import G2Element, bytes32, uint32, uint64

logger = logging.getLogger(__name__)

# Asks a harvester for its half of the plot signature over a message; None if it cannot.
HarvesterSigner = Callable[[bytes32], Awaitable[G2Element | None]]


class FarmerAPI:
    def __init__(
        self,
        state: FarmerState,
        harvesters: PeerNode,
        full_nodes: PeerNode,
        pool: PoolLink | None = None,
    ) -> None:
        self.state = state
        self.harvesters = harvesters
        self.full_nodes = full_nodes
        self.pool = pool

    # -- from the full node -------------------------------------------------------------

    async def proof_of_space_finalized(
        self, msg: ProofOfSpaceFinalized, peer: PeerConnection
    ) -> None:
        if peer.node_type is not NodeType.FULL_NODE:
            return
        if not self.state.new_challenge(msg):
            return
        conns = self.harvesters.get_connections(NodeType.HARVESTER)
        logger.info(
            "new challenge %s for height %d (difficulty %d): asking %d harvesters",
            msg.challenge_hash.hex()[:16],
            msg.height,
            msg.difficulty,
            len(conns),
        )
        for conn in conns:
            # A harvester whose generation is not known yet gets the latest challenge when its
            # greeting completes.
            await self.send_challenge(conn, msg)

    async def send_challenge(self, conn: PeerConnection, msg: ProofOfSpaceFinalized) -> None:
        generation = self.state.harvester_generation.get(conn.node_id)
        if generation is None:
            return
        payload = (
            NewChallenge(msg.challenge_hash)
            if generation == 1
            else self.state.signage_point(msg, self.pool_difficulties())
        )
        try:
            await conn.send(payload)
        except PeerRequestError as exc:
            logger.info("could not reach %r: %s", conn, exc)

    def pool_difficulties(self) -> list:  # type: ignore[type-arg]
        return [] if self.pool is None else self.pool.pool_difficulties()

    async def proof_of_space_arrived(self, msg: ProofOfSpaceArrived, peer: PeerConnection) -> None:
        self.state.proofs_arrived += 1
        logger.debug("a proof of space arrived at weight %d", msg.weight)

    async def proof_of_time_rate(self, msg: ProofOfTimeRate, peer: PeerConnection) -> None:
        if peer.node_type is NodeType.FULL_NODE and msg.pot_estimate_ips > 0:
            self.state.ips = int(msg.pot_estimate_ips)

    # -- from the pool ------------------------------------------------------------------

    async def pool_difficulty_changed(
        self, msg: PoolDifficultyChanged, peer: PeerConnection
    ) -> None:
        if self.pool is not None and peer.node_type is NodeType.POOL and peer is self.pool.conn:
            self.pool.set_difficulty(int(msg.difficulty))

    # -- from harvesters (seed 001) -----------------------------------------------------

    async def respond_plots(self, msg: RespondPlots, peer: PeerConnection) -> None:
        if peer.node_type is not NodeType.HARVESTER:
            return
        self.state.harvester_plots[peer.node_id] = msg
        logger.info(
            "harvester %s farms %d plots (%d failed to open, %d with other keys)",
            peer.node_id.hex()[:8],
            len(msg.plots),
            len(msg.failed_to_open_filenames),
            len(msg.no_key_filenames),
        )

    async def new_proof_of_space(self, msg: NewProofOfSpace, peer: PeerConnection) -> None:
        if peer.node_type is not NodeType.HARVESTER:
            return
        state = self.state
        info = state.challenges.get(msg.challenge_hash)
        if info is None:
            logger.info("proof for unknown challenge %s ignored", msg.challenge_hash.hex()[:16])
            return
        if not state.first_time(msg.challenge_hash, msg.plot_identifier):
            return
        pos = msg.proof
        quality = await self._checked_quality(pos, msg.challenge_hash, peer)
        if quality is None:
            return

        async def sign(message: bytes32) -> G2Element | None:
            signed: RespondSignatures = await peer.request(
                RequestSignatures(msg.plot_identifier, msg.challenge_hash, msg.sp_hash, [message])
            )
            if signed.farmer_pk != state.keys.farmer_pk:
                return None
            if (signed.local_pk + state.keys.farmer_pk) != pos.plot_public_key:
                return None
            return dict(signed.message_signatures).get(message)

        await self._use_proof(info, pos, quality, sign, peer)

    # -- from harvesters (legacy, seeds 000/003) ----------------------------------------

    async def challenge_response(self, msg: ChallengeResponse, peer: PeerConnection) -> None:
        if peer.node_type is not NodeType.HARVESTER:
            return
        state = self.state
        info = state.challenges.get(msg.challenge_hash)
        if info is None:
            logger.debug("quality for unknown challenge %s ignored", msg.challenge_hash.hex()[:16])
            return
        k = int(msg.plot_size)
        if not state.constants.MIN_PLOT_SIZE <= k <= state.constants.MAX_PLOT_SIZE:
            logger.warning("harvester %r reported a plot of size k=%d: ignored", peer, k)
            return
        if not state.first_time(msg.challenge_hash, "quality:" + msg.quality.hex()):
            return
        iters = iterations_for_quality(state.constants, msg.quality, k, int(info.difficulty))
        wanted_for_block = iters <= state.iteration_threshold()
        wanted_for_pool = self.pool is not None and self.pool.quality_passes(msg.quality, k)
        if not (wanted_for_block or wanted_for_pool):
            return
        try:
            reply: RespondProofOfSpace = await peer.request(RequestProofOfSpace(msg.quality))
        except PeerRequestError as exc:
            logger.info("harvester %r did not give the proof: %s", peer, exc)
            return
        pos = reply.proof
        if reply.quality != msg.quality or int(pos.size) != k:
            logger.warning("harvester %r answered with another proof: ignored", peer)
            return
        quality = await self._checked_quality(pos, msg.challenge_hash, peer)
        if quality != msg.quality:
            if quality is not None:
                logger.warning("harvester %r: the proof's quality is not the one it reported", peer)
            return

        async def sign_header(message: bytes32) -> G2Element | None:
            signed: RespondHeaderSignature = await peer.request(
                RequestHeaderSignature(msg.quality, message)
            )
            return signed.header_hash_signature if signed.quality == msg.quality else None

        async def sign_target(message: bytes32) -> G2Element | None:
            signed: RespondPartialProof = await peer.request(
                RequestPartialProof(msg.quality, message)
            )
            return signed.farmer_target_signature if signed.quality == msg.quality else None

        await self._use_proof(info, pos, quality, sign_header, peer, sign_target)

    # -- shared -------------------------------------------------------------------------

    async def _checked_quality(
        self, pos: ProofOfSpace, challenge_hash: bytes32, peer: PeerConnection
    ) -> bytes32 | None:
        """The quality of a harvester's proof for ``challenge_hash``, or None (logged)."""
        if pos.challenge != expected_pos_challenge(pos.get_plot_id(), challenge_hash):
            logger.warning("harvester %r sent a proof for the wrong challenge: ignored", peer)
            return None
        quality_string = await run_blocking(check_pos_proof, pos)
        if quality_string is None:
            logger.warning("harvester %r sent an invalid proof of space: ignored", peer)
            return None
        return quality_for(pos.challenge, quality_string)

    async def _use_proof(
        self,
        info: ProofOfSpaceFinalized,
        pos: ProofOfSpace,
        quality: bytes32,
        sign_header: HarvesterSigner,
        peer: PeerConnection,
        sign_target: HarvesterSigner | None = None,
    ) -> None:
        """Make a block and/or a partial of a verified proof, whichever it is good for."""
        state = self.state
        iters = iterations_for_quality(
            state.constants, quality, int(pos.size), int(info.difficulty)
        )
        if iters <= state.iteration_threshold():
            await self._make_block(info, pos, iters, sign_header, peer)
        else:
            logger.debug("proof needs %d iterations: not worth propagating", iters)
        pool = self.pool
        if pool is None or not pool.plot_is_ours(pos) or not pool.quality_passes(quality, pos.size):
            return
        target = pool.target_hash()
        assert target is not None
        try:
            half = await (sign_target or sign_header)(target)
        except PeerRequestError as exc:
            logger.info("harvester %r did not sign the partial: %s", peer, exc)
            return
        signature = await self._complete(half, target, pos)
        if signature is None:
            logger.warning("harvester %r gave an unusable partial signature", peer)
            return
        await pool.submit(info.challenge_hash, pos, signature)

    def _coinbase(self, pos: ProofOfSpace, height: int) -> tuple[CoinbaseInfo, G2Element] | None:
        keys = self.state.keys
        amount = uint64(block_reward(self.state.constants, height))
        if pos.pool_contract_puzzle_hash is not None:
            coinbase = CoinbaseInfo(uint32(height), amount, pos.pool_contract_puzzle_hash)
            return coinbase, IDENTITY_G2
        if pos.pool_public_key != keys.pool_pk:
            return None
        coinbase = CoinbaseInfo(uint32(height), amount, keys.pool_puzzle_hash)
        return coinbase, G2Element(AugSchemeMPL.sign(keys.pool_sk, bytes(coinbase.get_hash())))

    async def _make_block(
        self,
        info: ProofOfSpaceFinalized,
        pos: ProofOfSpace,
        iters: int,
        sign_header: HarvesterSigner,
        peer: PeerConnection,
    ) -> None:
        state = self.state
        height = int(info.height)
        made = self._coinbase(pos, height)
        if made is None:
            logger.warning("harvester %r sent a proof for another pool key: ignored", peer)
            return
        coinbase, coinbase_signature = made
        full_nodes = self.full_nodes.get_connections(NodeType.FULL_NODE)
        if not full_nodes:
            logger.warning("found a proof (%d iterations) but no full node is connected", iters)
            return
        node = full_nodes[0]
        try:
            header: HeaderHash = await node.request(
                RequestHeaderHash(
                    info.challenge_hash,
                    coinbase,
                    coinbase_signature,
                    state.keys.farmer_puzzle_hash,
                    pos,
                )
            )
            half = await sign_header(header.header_hash)
        except PeerRequestError as exc:
            logger.warning("could not make a header for a proof of %d iterations: %s", iters, exc)
            return
        signature = await self._complete(half, header.header_hash, pos)
        if signature is None:
            logger.warning("harvester %r gave an unusable plot signature", peer)
            return
        await node.send(HeaderSignature(header.pos_hash, header.header_hash, signature))
        state.headers_signed += 1
        state.count_header(peer.node_id)
        logger.info(
            "signed header %s for height %d (%d iterations)",
            header.header_hash.hex()[:16],
            height,
            iters,
        )

    async def _complete(
        self, harvester_half: G2Element | None, message: bytes32, pos: ProofOfSpace
    ) -> G2Element | None:
        """Add the farmer's half of the plot signature; None unless the aggregate verifies."""
        if harvester_half is None:
            return None
        plot_pk = pos.plot_public_key.point
        farmer_sk = self.state.keys.farmer_sk

        def aggregate() -> G2Element | None:
            farmer_half = AugSchemeMPL.sign(farmer_sk, bytes(message), plot_pk)
            total = AugSchemeMPL.aggregate([harvester_half.point, farmer_half])
            if not AugSchemeMPL.verify(plot_pk, bytes(message), total):
                return None
            return G2Element(total)

        return await run_blocking(aggregate)
