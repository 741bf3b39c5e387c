"""Pool message handlers (docs/protocol.md section 5): one method per message.

From farmers: ``request_pool_info``, ``join_pool``, ``submit_partial``. From the pool's own full
node (the pool follows the chain through the farmer protocol, as a farmer that never farms):
``proof_of_space_finalized``, which gives the recent challenges partials must answer.

A partial is checked cheapest first: the connection joined with that farmer key, the farmer's
rate, the challenge is known and fresh, the plot is pooled here, then (in worker threads, under
one pool-wide limiter) the proof of space for that challenge, the pool difficulty, the plot-key
signature over the farmer target, and last the duplicate check that credits it in the same
transaction. Every refusal is answered with its reason and counted against the farmer.
"""

from __future__ import annotations

import hashlib
import logging
from typing import TYPE_CHECKING

import trio

from trionode.consensus import pos_quality_string, quality_for
from trionode.consensus.pool import join_message, partial_passes, partial_target_hash
from trionode.consensus.proofs import verify_signature
from trionode.nursery.clock import wall_time
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import RequestRefused
from trionode.protocols.farmer_protocol import ProofOfSpaceFinalized
from trionode.protocols.pool_protocol import (
    JoinPool,
    JoinPoolResponse,
    PartialResult,
    PoolInfo,
    RequestPoolInfo,
    RespondPartial,
    SubmitPartial,
)
from trionode.protocols.shared_protocol import ErrorCode, NodeType
from trionode.roles.pool.node import FarmerWindow
from trionode.wire import bytes32, uint8, uint64

if TYPE_CHECKING:
    from trionode.roles.pool.main import Pool

logger = logging.getLogger(__name__)

#: A join's timestamp may differ from the pool's clock by at most this (replayed old joins).
MAX_JOIN_SKEW = 600


class PoolChainAPI:
    """The pool's link to its own full node, where it presents itself as a farmer (so the
    routing table's FARMER row applies): it only learns the challenges partials may answer."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool

    async def proof_of_space_finalized(
        self, msg: ProofOfSpaceFinalized, peer: PeerConnection
    ) -> None:
        if peer.node_type is not NodeType.FULL_NODE:
            return
        if self.pool.state.add_challenge(msg.challenge_hash, int(msg.height), wall_time()):
            logger.debug("challenge %s at height %d", msg.challenge_hash.hex()[:16], msg.height)


class PoolAPI:
    """What the pool serves its farmers (docs/protocol.md section 5)."""

    def __init__(self, pool: Pool) -> None:
        self.pool = pool
        # Verification threads shared by all farmers: proofs and signatures never run on the
        # event loop, and a flood cannot take more than these threads.
        self.verify_limiter = trio.CapacityLimiter(2)
        self.refusals_logged = 0.0

    # -- from farmers -------------------------------------------------------------------

    def _farmer_only(self, peer: PeerConnection) -> None:
        if peer.node_type is not NodeType.FARMER or peer not in self.pool.farmer_connections():
            raise RequestRefused(ErrorCode.NOT_SUPPORTED, "pool messages are served to farmers")

    async def request_pool_info(self, msg: RequestPoolInfo, peer: PeerConnection) -> PoolInfo:
        self._farmer_only(peer)
        return self.pool.info

    async def join_pool(self, msg: JoinPool, peer: PeerConnection) -> JoinPoolResponse:
        self._farmer_only(peer)
        pool = self.pool
        now = int(wall_time())
        if abs(int(msg.timestamp) - now) > MAX_JOIN_SKEW:
            raise RequestRefused(
                ErrorCode.INVALID_REQUEST,
                f"join timestamp {int(msg.timestamp)} is more than {MAX_JOIN_SKEW} s from ours",
            )
        message = join_message(
            pool.info.pool_contract_puzzle_hash, msg.payout_puzzle_hash, int(msg.timestamp)
        )
        ok = await run_blocking(
            verify_signature,
            bytes(msg.farmer_public_key),
            bytes(message),
            bytes(msg.signature),
            limiter=self.verify_limiter,
        )
        if not ok:
            raise RequestRefused(ErrorCode.INVALID_REQUEST, "join signature does not verify")
        farmer_pk = bytes(msg.farmer_public_key)
        record = await pool.store.join(
            farmer_pk,
            bytes(msg.payout_puzzle_hash),
            int(msg.timestamp),
            pool.config.starting_difficulty,
            pool.config.max_farmers,
        )
        if record is None:
            raise RequestRefused(ErrorCode.TOO_MANY_ITEMS, "the pool is full")
        pool.joined[peer.node_id] = farmer_pk
        now_f = wall_time()
        pool.state.restart_window(pool.state.window(farmer_pk, record.difficulty, now_f), now_f)
        logger.info(
            "farmer %s joined (payouts to %s, difficulty %d)",
            farmer_pk.hex()[:16],
            msg.payout_puzzle_hash.hex()[:16],
            record.difficulty,
        )
        return JoinPoolResponse(uint64(record.difficulty), uint64(max(0, record.points)))

    async def submit_partial(self, msg: SubmitPartial, peer: PeerConnection) -> RespondPartial:
        self._farmer_only(peer)
        pool = self.pool
        farmer_pk = bytes(msg.farmer_public_key)
        if pool.joined.get(peer.node_id) != farmer_pk:
            # Not counted: the key is not proved to be this connection's.
            return RespondPartial(
                uint8(PartialResult.NOT_JOINED),
                "join with this farmer key first",
                uint64(0),
                uint64(0),
            )
        record = await pool.store.get_farmer(farmer_pk)
        assert record is not None  # joined on this connection
        now = wall_time()
        w = pool.state.window(farmer_pk, record.difficulty, now)
        result, reason, points = await self._check(msg, w, now)
        if result is not PartialResult.ACCEPTED:
            return await self._refuse(farmer_pk, w.difficulty, record.points, result, reason)
        pos = msg.proof_of_space
        quality = points[1]
        key = hashlib.sha256(
            bytes(pos.get_plot_id()) + bytes(msg.challenge_hash) + bytes(quality)
        ).digest()
        info = pool.state.challenges.get(msg.challenge_hash)
        height = info.height if info is not None else pool.state.peak_height
        credited = await pool.store.credit_partial(key, farmer_pk, height, points[0], now)
        if credited is None:
            return await self._refuse(
                farmer_pk,
                w.difficulty,
                record.points,
                PartialResult.DUPLICATE,
                "this proof was credited already",
            )
        new = pool.state.on_accepted(w, now)
        if new is not None:
            await pool.difficulty_changed(farmer_pk, new)
        logger.debug("partial from %s: %d points", farmer_pk.hex()[:16], points[0])
        return RespondPartial(
            uint8(PartialResult.ACCEPTED), "", uint64(w.difficulty), uint64(max(0, credited.points))
        )

    async def _check(
        self, msg: SubmitPartial, w: FarmerWindow, now: float
    ) -> tuple[PartialResult, str, tuple[int, bytes32]]:
        """(ACCEPTED, "", (points, quality)) or (refusal, reason, _)."""
        pool = self.pool
        state = pool.state
        none = (0, bytes32(bytes(32)))
        if not state.rate_ok(w, now):
            return (
                PartialResult.RATE_LIMITED,
                f"more than {state.max_partials_per_minute} partials a minute",
                none,
            )
        stale, _info = state.freshness(msg.challenge_hash, now)
        if stale == "unknown":
            return PartialResult.UNKNOWN_CHALLENGE, "the pool's full node never announced it", none
        if stale is not None:
            return (
                PartialResult.STALE,
                f"more than {state.partial_max_depth} heights below the peak "
                f"or {state.partial_max_age:g} s old",
                none,
            )
        pos = msg.proof_of_space
        contract = pool.info.pool_contract_puzzle_hash
        if pos.pool_contract_puzzle_hash != contract or pos.pool_public_key is not None:
            return PartialResult.WRONG_POOL, "the plot is not pooled to this pool", none
        constants = pool.constants
        quality_string = await run_blocking(
            pos_quality_string, constants, pos, msg.challenge_hash, limiter=self.verify_limiter
        )
        if quality_string is None:
            return PartialResult.INVALID_PROOF, "the proof of space does not verify", none
        quality = quality_for(pos.challenge, quality_string)
        passed = [
            d
            for d in state.passing_difficulties(w, now)
            if partial_passes(constants, quality, int(pos.size), d, int(pool.info.sub_slot_iters))
        ]
        if not passed:
            return (
                PartialResult.TOO_LOW_QUALITY,
                f"does not pass difficulty {w.difficulty}",
                none,
            )
        target = partial_target_hash(contract, msg.farmer_public_key)
        ok = await run_blocking(
            verify_signature,
            bytes(pos.plot_public_key),
            bytes(target),
            bytes(msg.target_signature),
            limiter=self.verify_limiter,
        )
        if not ok:
            return (
                PartialResult.INVALID_SIGNATURE,
                "the plot key's signature over the farmer target does not verify",
                none,
            )
        return PartialResult.ACCEPTED, "", (passed[0], quality)

    async def _refuse(
        self, farmer_pk: bytes, difficulty: int, points: int, result: PartialResult, reason: str
    ) -> RespondPartial:
        await self.pool.store.count_refusal(farmer_pk)
        self.pool.refusals[result.name] += 1
        now = trio.current_time()
        if now - self.refusals_logged >= 1.0:  # a flood of bad partials must not flood the log
            self.refusals_logged = now
            logger.warning(
                "partial from farmer %s refused: %s (%s)", farmer_pk.hex()[:16], result.name, reason
            )
        return RespondPartial(uint8(result), reason, uint64(difficulty), uint64(max(0, points)))
