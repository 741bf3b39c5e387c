"""Farmer message handlers: from the full node (farmer protocol) and from harvesters (seed 001).

Block making, per proof: harvester ``new_proof_of_space`` -> the farmer checks the proof and its
iterations -> ``request_header_hash`` (with the pool-signed coinbase) to the full node ->
``request_signatures`` for that header hash to the harvester -> the farmer adds its half of the
2-of-2 plot signature -> ``header_signature`` to the full node.

``ProofOfSpaceFinalized.height`` is the height of the block to farm on that challenge (the
finalized block's height + 1, or 0 for the genesis challenge); ``weight`` is the finalized
block's weight.
"""

from __future__ import annotations

import logging

from blspy import AugSchemeMPL

from trionode.consensus import (
    block_reward,
    check_pos_proof,
    expected_pos_challenge,
    required_iterations,
)
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError
from trionode.peers.node import PeerNode
from trionode.protocols.chain_types import CoinbaseInfo
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
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.farmer.node import FarmerState
from trionode.wire import G2Element, uint32, uint64

logger = logging.getLogger(__name__)


class FarmerAPI:
    def __init__(self, state: FarmerState, harvesters: PeerNode, full_nodes: PeerNode) -> None:
        self.state = state
        self.harvesters = harvesters
        self.full_nodes = full_nodes

    # -- from the full node -------------------------------------------------------------

    async def proof_of_space_finalized(
        self, msg: ProofOfSpaceFinalized, peer: PeerConnection
    ) -> None:
        if not self.state.new_challenge(msg):
            return
        logger.info(
            "new challenge %s for height %d (difficulty %d): asking %d harvesters",
            msg.challenge_hash.hex()[:16],
            msg.height,
            msg.difficulty,
            len(self.harvesters.get_connections(NodeType.HARVESTER)),
        )
        sp = self.state.signage_point(msg)
        for conn in self.harvesters.get_connections(NodeType.HARVESTER):
            try:
                await conn.send(sp)
            except PeerRequestError as exc:
                logger.info("could not reach %r: %s", conn, exc)

    async def proof_of_space_arrived(self, msg: ProofOfSpaceArrived, peer: PeerConnection) -> None:
        self.state.proofs_arrived += 1
        logger.debug("a proof of space arrived at weight %d", msg.weight)

    async def proof_of_time_rate(self, msg: ProofOfTimeRate, peer: PeerConnection) -> None:
        if msg.pot_estimate_ips > 0:
            self.state.ips = int(msg.pot_estimate_ips)

    # -- from harvesters ----------------------------------------------------------------

    async def respond_plots(self, msg: RespondPlots, peer: PeerConnection) -> None:
        self.state.harvester_plots[peer.node_id] = msg
        logger.info(
            "harvester %s farms %d plots (%d failed to open, %d with other keys)",
            peer.node_id.hex()[:8],
            len(msg.plots),
            len(msg.failed_to_open_filenames),
            len(msg.no_key_filenames),
        )

    async def new_proof_of_space(self, msg: NewProofOfSpace, peer: PeerConnection) -> None:
        state = self.state
        info = state.challenges.get(msg.challenge_hash)
        if info is None:
            logger.info("proof for unknown challenge %s ignored", msg.challenge_hash.hex()[:16])
            return
        if not state.first_time(msg.challenge_hash, msg.plot_identifier):
            return
        pos = msg.proof
        if pos.pool_public_key != state.keys.pool_pk:
            logger.warning("harvester %r sent a proof for another pool key: ignored", peer)
            return
        if pos.challenge != expected_pos_challenge(pos.get_plot_id(), msg.challenge_hash):
            logger.warning("harvester %r sent a proof for the wrong challenge: ignored", peer)
            return
        quality_string = check_pos_proof(pos)
        if quality_string is None:
            logger.warning("harvester %r sent an invalid proof of space: ignored", peer)
            return
        iters = required_iterations(state.constants, pos, quality_string, int(info.difficulty))
        if iters > state.iteration_threshold():
            logger.debug("proof needs %d iterations: not worth propagating", iters)
            return
        full_nodes = self.full_nodes.get_connections(NodeType.FULL_NODE)
        if not full_nodes:
            logger.warning("found a proof (%d iterations) but no full node is connected", iters)
            return
        height = int(info.height)
        coinbase = CoinbaseInfo(
            uint32(height),
            uint64(block_reward(state.constants, height)),
            state.keys.pool_puzzle_hash,
        )
        coinbase_signature = G2Element(
            AugSchemeMPL.sign(state.keys.pool_sk, bytes(coinbase.get_hash()))
        )
        node = full_nodes[0]
        try:
            header: HeaderHash = await node.request(
                RequestHeaderHash(
                    msg.challenge_hash,
                    coinbase,
                    coinbase_signature,
                    state.keys.farmer_puzzle_hash,
                    pos,
                )
            )
            signed: RespondSignatures = await peer.request(
                RequestSignatures(
                    msg.plot_identifier, msg.challenge_hash, msg.sp_hash, [header.header_hash]
                )
            )
        except PeerRequestError as exc:
            logger.warning("could not make a header for a proof of %d iterations: %s", iters, exc)
            return
        signature = self._complete_signature(signed, header, pos.plot_public_key)
        if signature is None:
            logger.warning("harvester %r gave an unusable plot signature", peer)
            return
        await node.send(HeaderSignature(header.pos_hash, header.header_hash, signature))
        state.headers_signed += 1
        logger.info(
            "signed header %s for height %d (%d iterations)",
            header.header_hash.hex()[:16],
            height,
            iters,
        )

    def _complete_signature(
        self, signed: RespondSignatures, header: HeaderHash, plot_pk: object
    ) -> G2Element | None:
        keys = self.state.keys
        if signed.farmer_pk != keys.farmer_pk:
            return None
        if (signed.local_pk + keys.farmer_pk) != plot_pk:
            return None
        harvester_sig = dict(signed.message_signatures).get(header.header_hash)
        if harvester_sig is None:
            return None
        message = bytes(header.header_hash)
        farmer_sig = AugSchemeMPL.sign(keys.farmer_sk, message, plot_pk.point)  # type: ignore[attr-defined]
        aggregate = AugSchemeMPL.aggregate([harvester_sig.point, farmer_sig])
        if not AugSchemeMPL.verify(plot_pk.point, message, aggregate):  # type: ignore[attr-defined]
            return None
        return G2Element(aggregate)
