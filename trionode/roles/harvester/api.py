"""Harvester message handlers (seed 001): one method per message from the farmer.

Threshold: ``new_signage_point_harvester.sub_slot_iters`` carries the farmer's iteration limit;
the harvester fetches full proofs only for qualities whose required iterations are below it, or,
for a plot pooled to a pool named in ``pool_difficulties``, for qualities that pass that pool's
difficulty (``trionode.consensus.pool.partial_passes``): those are the farmer's partials.
"""

from __future__ import annotations

import logging

import trio

from trionode.consensus import ConsensusConstants, iterations_for_quality
from trionode.consensus.pool import partial_passes
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.plotting.manager import PlotManager, sign_for_plot
from trionode.plotting.plot_info import PlotError
from trionode.protocols.harvester_protocol import (
    HarvesterHandshake,
    NewProofOfSpace,
    NewSignagePointHarvester,
    RequestPlots,
    RequestSignatures,
    RespondPlots,
    RespondSignatures,
)
from trionode.protocols.shared_protocol import Error, ErrorCode
from trionode.wire import G2Element, bytes32, int16

logger = logging.getLogger(__name__)

HANDSHAKE_WAIT = 10.0


class HarvesterAPI:
    def __init__(self, constants: ConsensusConstants, plots: PlotManager) -> None:
        self.constants = constants
        self.plots = plots
        self.handshake_received = trio.Event()
        self.proofs_sent = 0

    async def harvester_handshake(self, msg: HarvesterHandshake, peer: PeerConnection) -> None:
        await run_blocking(self.plots.set_public_keys, msg.farmer_public_keys, msg.pool_public_keys)
        logger.info(
            "farmer handshake: %d farmer keys, %d pool keys; %d plots usable, %d with other keys",
            len(msg.farmer_public_keys),
            len(msg.pool_public_keys),
            len(self.plots.plots),
            len(self.plots.no_key_filenames),
        )
        self.handshake_received.set()
        await peer.send(self.plots.respond_plots())

    async def new_signage_point_harvester(
        self, msg: NewSignagePointHarvester, peer: PeerConnection
    ) -> None:
        # Handlers run concurrently: a signage point sent right after the handshake must not be
        # looked up before the handshake's keys decided which plots are usable.
        with trio.move_on_after(HANDSHAKE_WAIT):
            await self.handshake_received.wait()
        hits = await self.plots.lookup(
            msg.challenge_hash, msg.sp_hash, self.constants.PLOT_FILTER_BITS
        )
        found = 0
        pools = {bytes(pd.pool_contract_puzzle_hash): pd for pd in msg.pool_difficulties}
        for hit in hits:
            iters = iterations_for_quality(
                self.constants, hit.quality, hit.plot.k, int(msg.difficulty)
            )
            contract = hit.plot.pool_contract_puzzle_hash
            pd = None if contract is None else pools.get(bytes(contract))
            partial = pd is not None and partial_passes(
                self.constants,
                hit.quality,
                hit.plot.k,
                int(pd.difficulty),
                int(pd.sub_slot_iters),
            )
            if iters >= msg.sub_slot_iters and not partial:
                continue
            try:
                pos = await self.plots.proof_of_space(hit)
            except PlotError as exc:
                logger.warning("cannot read a proof: %s", exc)
                continue
            identifier = f"{hit.plot.path}:{hit.quality_index}"
            await peer.send(
                NewProofOfSpace(
                    msg.challenge_hash, msg.sp_hash, identifier, pos, msg.signage_point_index
                )
            )
            found += 1
        self.proofs_sent += found
        logger.info(
            "challenge %s: %d plots looked up, %d qualities, %d proofs sent",
            msg.challenge_hash.hex()[:16],
            len(self.plots.plots),
            len(hits),
            found,
        )

    async def request_signatures(
        self, msg: RequestSignatures, peer: PeerConnection
    ) -> RespondSignatures | Error:
        path, _, _index = msg.plot_identifier.rpartition(":")
        plot = self.plots.plot_for_identifier(path or msg.plot_identifier)
        if plot is None:
            return Error(int16(ErrorCode.NOT_FOUND), f"no plot {msg.plot_identifier!r}")
        signatures: list[tuple[bytes32, G2Element]] = []
        local_pk = plot.local_pk
        for m in msg.messages:
            local_pk, sig = sign_for_plot(plot, bytes(m))
            signatures.append((m, sig))
        return RespondSignatures(
            msg.plot_identifier,
            msg.challenge_hash,
            msg.sp_hash,
            local_pk,
            plot.farmer_public_key,
            signatures,
        )

    async def request_plots(self, msg: RequestPlots, peer: PeerConnection) -> RespondPlots:
        return self.plots.respond_plots()
