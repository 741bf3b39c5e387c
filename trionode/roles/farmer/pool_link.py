"""The farmer's side of the pool protocol (docs/protocol.md section 5): join, difficulty,
partials.

The link holds what the pool said (its contract puzzle hash, partial bound, this farmer's
difficulty) and sends partials over the current connection. It is fed by the ``keep_connected``
loop (``on_connect``) and by the farmer's proof handlers (``wants`` / ``submit``).
"""

from __future__ import annotations

import collections
import logging
from typing import Any

from blspy import AugSchemeMPL

from trionode.consensus import ConsensusConstants
from trionode.consensus.pool import join_message, partial_passes, partial_target_hash
from trionode.keys.keychain import FarmKeys
from trionode.nursery.clock import wall_time
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError
from trionode.protocols.chain_types import ProofOfSpace
from trionode.protocols.harvester_protocol import PoolDifficulty
from trionode.protocols.pool_protocol import (
    JoinPool,
    JoinPoolResponse,
    PartialResult,
    PoolInfo,
    RequestPoolInfo,
    RespondPartial,
    SubmitPartial,
)
from trionode.wire import G2Element, bytes32, uint64

logger = logging.getLogger(__name__)


class PoolLink:
    def __init__(
        self, constants: ConsensusConstants, keys: FarmKeys, payout_puzzle_hash: bytes32
    ) -> None:
        self.constants = constants
        self.keys = keys
        self.payout_puzzle_hash = payout_puzzle_hash
        self.info: PoolInfo | None = None
        self.conn: PeerConnection | None = None
        self.difficulty = 0
        self.points = 0
        self.partials_sent = 0
        self.partials_accepted = 0
        self.refused: collections.Counter[str] = collections.Counter()

    @property
    def joined(self) -> bool:
        return self.info is not None and self.conn is not None and not self.conn.closed.is_set()

    async def on_connect(self, conn: PeerConnection) -> None:
        """Ask the pool's parameters and join (farmer key over the payout puzzle hash)."""
        try:
            info: PoolInfo = await conn.request(RequestPoolInfo())
            timestamp = int(wall_time())
            message = join_message(
                info.pool_contract_puzzle_hash, self.payout_puzzle_hash, timestamp
            )
            signature = G2Element(AugSchemeMPL.sign(self.keys.farmer_sk, bytes(message)))
            reply: JoinPoolResponse = await conn.request(
                JoinPool(self.keys.farmer_pk, self.payout_puzzle_hash, uint64(timestamp), signature)
            )
        except PeerRequestError as exc:
            logger.warning("could not join the pool: %s", exc)
            return
        self.info = info
        self.conn = conn
        self.difficulty = int(reply.difficulty)
        self.points = int(reply.points)
        logger.info(
            "joined pool %s: difficulty %d, %d points, payouts to %s",
            info.pool_contract_puzzle_hash.hex()[:16],
            self.difficulty,
            self.points,
            self.payout_puzzle_hash.hex()[:16],
        )

    def set_difficulty(self, difficulty: int) -> None:
        if difficulty >= 1 and difficulty != self.difficulty:
            logger.info("pool difficulty %d -> %d", self.difficulty, difficulty)
            self.difficulty = difficulty

    def pool_difficulties(self) -> list[PoolDifficulty]:
        """What v2 harvesters are told (seed 001 ``pool_difficulties``)."""
        if self.info is None or self.difficulty < 1:
            return []
        return [
            PoolDifficulty(
                uint64(self.difficulty),
                self.info.sub_slot_iters,
                self.info.pool_contract_puzzle_hash,
            )
        ]

    def target_hash(self) -> bytes32 | None:
        if self.info is None:
            return None
        return partial_target_hash(self.info.pool_contract_puzzle_hash, self.keys.farmer_pk)

    def quality_passes(self, quality: bytes, k: int) -> bool:
        """Would a proof of this quality be a partial (whatever its plot)?"""
        if not self.joined or self.info is None:
            return False
        return partial_passes(
            self.constants, quality, k, self.difficulty, int(self.info.sub_slot_iters)
        )

    def plot_is_ours(self, pos: ProofOfSpace) -> bool:
        return (
            self.info is not None
            and pos.pool_contract_puzzle_hash is not None
            and pos.pool_contract_puzzle_hash == self.info.pool_contract_puzzle_hash
        )

    async def submit(self, challenge_hash: bytes32, pos: ProofOfSpace, signature: Any) -> None:
        """Send one partial; log and count the pool's verdict."""
        conn = self.conn
        if conn is None or not self.joined:
            return
        self.partials_sent += 1
        try:
            reply: RespondPartial = await conn.request(
                SubmitPartial(self.keys.farmer_pk, challenge_hash, pos, G2Element(signature))
            )
        except PeerRequestError as exc:
            logger.info("partial not delivered: %s", exc)
            self.refused["undelivered"] += 1
            return
        self.set_difficulty(int(reply.difficulty))
        self.points = int(reply.points)
        if reply.result == PartialResult.ACCEPTED:
            self.partials_accepted += 1
            logger.debug("partial accepted: %d points", self.points)
            return
        try:
            name = PartialResult(int(reply.result)).name
        except ValueError:
            name = f"result {int(reply.result)}"
        self.refused[name] += 1
        logger.info("partial refused by the pool: %s (%s)", name, reply.reason)

    def summary(self) -> dict[str, Any]:
        return {
            "joined": self.joined,
            "pool_contract_puzzle_hash": (
                None if self.info is None else self.info.pool_contract_puzzle_hash.hex()
            ),
            "payout_puzzle_hash": self.payout_puzzle_hash.hex(),
            "difficulty": self.difficulty,
            "points": self.points,
            "partials_sent": self.partials_sent,
            "partials_accepted": self.partials_accepted,
            "partials_refused": dict(self.refused),
        }
