"""Peer-layer rates of the farmer <-> harvester and farmer <-> pool links.

The peer layer's default rate (1000 messages of a type per minute) fits gossip between
strangers; on the farm's own links the volume follows the farm's size and the pool difficulty:
a farm answering every challenge with a partial per plot (pool difficulty 1, a fast chain)
passed 1000 ``new_proof_of_space`` a minute within 40 s of start, and its farmer dropped and
banned its own harvester. These types get ``FARM_LINK_RATE`` instead: still a bound, sized for
a large farm. (The harvester link is also authenticated by the farm's private CA.)
"""

from __future__ import annotations

import dataclasses

from trionode.peers.limits import PeerLimits
from trionode.protocols import ProtocolMessageTypes as T

FARM_LINK_RATE = (100_000, 60.0)

FARM_LINK_TYPES = (
    # harvester protocol (seed 001)
    T.new_signage_point_harvester,
    T.new_proof_of_space,
    T.request_signatures,
    T.respond_signatures,
    # legacy harvester protocol (seeds 000/003)
    T.new_challenge,
    T.challenge_response,
    T.request_proof_of_space,
    T.respond_proof_of_space,
    T.request_header_signature,
    T.respond_header_signature,
    T.request_partial_proof,
    T.respond_partial_proof,
    # pool protocol: the farmer's side (the pool limits submit_partial itself)
    T.respond_partial,
    T.pool_difficulty_changed,
)


def farm_link_limits(base: PeerLimits) -> PeerLimits:
    """``base`` with the farm link rates (the other types keep their limits)."""
    return dataclasses.replace(
        base,
        rate_limits={**base.rate_limits, **dict.fromkeys(FARM_LINK_TYPES, FARM_LINK_RATE)},
    )
