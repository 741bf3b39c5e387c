"""Farmer state: what the full node said about the chain, and the proofs harvesters found."""

from __future__ import annotations

import collections

import attrs

from trionode.consensus import ConsensusConstants
from trionode.keys.keychain import FarmKeys
from trionode.protocols.farmer_protocol import ProofOfSpaceFinalized
from trionode.protocols.harvester_protocol import (
    NewSignagePointHarvester,
    PoolDifficulty,
    RespondPlots,
)
from trionode.wire import bytes32, uint8, uint64

# How many iterations past the expected block time a proof may need and still be propagated.
PROPAGATION_FACTOR = 20
MAX_CHALLENGES = 32
MAX_HARVESTER_COUNTS = 256
# Proofs and qualities remembered across the MAX_CHALLENGES challenges (each ~100 bytes): a
# harvester answering far more than its plots could is ignored beyond this.
MAX_PROOFS_SEEN = 65_536


@attrs.define
class FarmerState:
    constants: ConsensusConstants
    keys: FarmKeys
    ips: int = 0
    challenges: collections.OrderedDict[bytes32, ProofOfSpaceFinalized] = attrs.field(
        factory=collections.OrderedDict
    )
    best_weight: int = 0
    harvester_plots: dict[bytes32, RespondPlots] = attrs.field(factory=dict)
    # (challenge, plot identifier) of proofs already turned into a header request: a harvester
    # may answer the same signage point twice (greeting and announcement can cross).
    proofs_seen: set[tuple[bytes32, str]] = attrs.field(factory=set)
    headers_signed: int = 0
    # Harvester protocol generation (1 = seeds 000/003, 2 = seed 001) of each connected
    # harvester, learnt by the greeting's probe (main.py); dropped when it disconnects.
    harvester_generation: dict[bytes32, int] = attrs.field(factory=dict)
    headers_by_harvester: dict[bytes32, int] = attrs.field(factory=dict)
    proofs_arrived: int = 0  # ProofOfSpaceArrived heard from the full node

    def __attrs_post_init__(self) -> None:
        if not self.ips:
            self.ips = self.constants.IPS_STARTING

    def iteration_threshold(self) -> int:
        """Proofs needing more iterations than this are not worth propagating."""
        return max(
            2 * self.constants.MIN_ITERS,
            self.ips * self.constants.BLOCK_TIME_TARGET * PROPAGATION_FACTOR,
        )

    def new_challenge(self, msg: ProofOfSpaceFinalized) -> bool:
        """Record a finalized challenge; True if it is new. The full node sends the challenges
        of its tips only, and farming each of them is what lets a small farm continue when
        one challenge has no proof in any plot."""
        if msg.challenge_hash in self.challenges:
            return False
        self.challenges[msg.challenge_hash] = msg
        while len(self.challenges) > MAX_CHALLENGES:
            old, _ = self.challenges.popitem(last=False)
            self.proofs_seen = {p for p in self.proofs_seen if p[0] != old}
        self.best_weight = max(self.best_weight, int(msg.weight))
        return True

    def forget_challenges(self) -> None:
        """Farm every challenge again (the full node may have lost what it held)."""
        self.challenges.clear()
        self.proofs_seen.clear()

    def count_header(self, harvester: bytes32) -> None:
        """Count a header signed with a proof from ``harvester`` (get_harvesters, tests)."""
        if harvester in self.headers_by_harvester or (
            len(self.headers_by_harvester) < MAX_HARVESTER_COUNTS
        ):
            self.headers_by_harvester[harvester] = self.headers_by_harvester.get(harvester, 0) + 1

    def first_time(self, challenge: bytes32, plot_identifier: str) -> bool:
        key = (challenge, plot_identifier)
        if key in self.proofs_seen or len(self.proofs_seen) >= MAX_PROOFS_SEEN:
            return False
        self.proofs_seen.add(key)
        return True

    def signage_point(
        self, msg: ProofOfSpaceFinalized, pool_difficulties: list[PoolDifficulty] | None = None
    ) -> NewSignagePointHarvester:
        # This consensus has one signage point per challenge: index 0, sp_hash = challenge.
        return NewSignagePointHarvester(
            challenge_hash=msg.challenge_hash,
            difficulty=msg.difficulty,
            sub_slot_iters=uint64(min(self.iteration_threshold(), 2**64 - 1)),
            signage_point_index=uint8(0),
            sp_hash=msg.challenge_hash,
            pool_difficulties=list(pool_difficulties or []),
        )

    def latest(self) -> ProofOfSpaceFinalized | None:
        best = None
        for msg in self.challenges.values():
            if best is None or msg.weight >= best.weight:
                best = msg
        return best
