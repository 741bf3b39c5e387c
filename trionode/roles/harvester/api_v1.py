"""Harvester message handlers of the legacy protocol (seeds 000 and 003, numbers 20-28).

A v1 harvester answers ``new_challenge`` with one ``challenge_response`` per quality, keeps
those qualities for a while (bounded) and serves, per quality, the full proof
(``request_proof_of_space``), the harvester's half of the 2-of-2 header signature
(``request_header_signature``) and of the partial's signature over the farmer target
(``request_partial_proof``). ``PrependSignature`` is an AugSchemeMPL G2 element signed with the
plot's local key and the plot public key as the augmentation (the farmer adds its half).

It has no handler for the v2 messages: the farmer's ``request_plots`` probe is answered
``Error(NOT_SUPPORTED)`` by the peer layer, which is how the farmer tells the generations apart
(docs/protocol.md section 5.1).
"""

from __future__ import annotations

import collections
import logging

import trio

from trionode.consensus import ConsensusConstants
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import RequestRefused
from trionode.plotting.manager import PlotManager, QualityHit, sign_for_plot
from trionode.plotting.plot_info import PlotError
from trionode.protocols.harvester_protocol_v1 import (
    ChallengeResponse,
    HarvesterHandshake,
    NewChallenge,
    RequestHeaderSignature,
    RequestPartialProof,
    RequestProofOfSpace,
    RespondHeaderSignature,
    RespondPartialProof,
    RespondProofOfSpace,
)
from trionode.protocols.shared_protocol import ErrorCode
from trionode.wire import bytes32, uint8

logger = logging.getLogger(__name__)

HANDSHAKE_WAIT = 10.0
# Qualities kept for the farmer's follow-up requests: a few challenges' worth of a big farm.
# Each entry holds a reference to a loaded plot and ~100 bytes.
MAX_QUALITIES = 8192


class HarvesterV1API:
    def __init__(self, constants: ConsensusConstants, plots: PlotManager) -> None:
        self.constants = constants
        self.plots = plots
        self.handshake_received = trio.Event()
        self.qualities: collections.OrderedDict[bytes32, QualityHit] = collections.OrderedDict()
        self.responses_sent = 0
        self.proofs_sent = 0

    async def harvester_handshake_v1(self, msg: HarvesterHandshake, peer: PeerConnection) -> None:
        # Seed 000's handshake names pool keys only: plots of any farmer key are looked up.
        await run_blocking(self.plots.set_public_keys, None, msg.pool_pubkeys)
        logger.info(
            "farmer handshake (v1): %d pool keys; %d plots usable, %d with other keys",
            len(msg.pool_pubkeys),
            len(self.plots.plots),
            len(self.plots.no_key_filenames),
        )
        self.handshake_received.set()

    async def new_challenge(self, msg: NewChallenge, peer: PeerConnection) -> None:
        with trio.move_on_after(HANDSHAKE_WAIT):
            await self.handshake_received.wait()
        challenge = msg.challenge_hash
        hits = await self.plots.lookup(challenge, challenge, self.constants.PLOT_FILTER_BITS)
        for hit in hits:
            self._remember(hit)
            await peer.send(ChallengeResponse(challenge, hit.quality, uint8(hit.plot.k)))
        self.responses_sent += len(hits)
        logger.info(
            "challenge %s (v1): %d plots looked up, %d qualities sent",
            challenge.hex()[:16],
            len(self.plots.plots),
            len(hits),
        )

    def _remember(self, hit: QualityHit) -> None:
        self.qualities[hit.quality] = hit
        self.qualities.move_to_end(hit.quality)
        while len(self.qualities) > MAX_QUALITIES:
            self.qualities.popitem(last=False)

    def _hit(self, quality: bytes32) -> QualityHit:
        hit = self.qualities.get(quality)
        if hit is None:
            raise RequestRefused(ErrorCode.NOT_FOUND, f"no quality {quality.hex()[:16]} held")
        return hit

    async def request_proof_of_space(
        self, msg: RequestProofOfSpace, peer: PeerConnection
    ) -> RespondProofOfSpace:
        hit = self._hit(msg.quality)
        try:
            pos = await self.plots.proof_of_space(hit)
        except PlotError as exc:
            logger.warning("cannot read a proof: %s", exc)
            raise RequestRefused(ErrorCode.INTERNAL_ERROR, "the plot could not be read") from None
        self.proofs_sent += 1
        return RespondProofOfSpace(msg.quality, pos)

    async def request_header_signature(
        self, msg: RequestHeaderSignature, peer: PeerConnection
    ) -> RespondHeaderSignature:
        hit = self._hit(msg.quality)
        _, signature = sign_for_plot(hit.plot, bytes(msg.header_hash))
        return RespondHeaderSignature(msg.quality, signature)

    async def request_partial_proof(
        self, msg: RequestPartialProof, peer: PeerConnection
    ) -> RespondPartialProof:
        hit = self._hit(msg.quality)
        _, signature = sign_for_plot(hit.plot, bytes(msg.farmer_target_hash))
        return RespondPartialProof(msg.quality, signature)
