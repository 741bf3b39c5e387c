"""Timelord message handlers (seed 000, timelord protocol): from its full node."""

from __future__ import annotations

from trionode.peers.connection import PeerConnection
from trionode.protocols.timelord_protocol import ChallengeStart, ProofOfSpaceInfo
from trionode.roles.timelord.node import Timelord


class TimelordAPI:
    def __init__(self, timelord: Timelord) -> None:
        self.timelord = timelord

    async def challenge_start(self, msg: ChallengeStart, peer: PeerConnection) -> None:
        self.timelord.challenge_start(msg)

    async def proof_of_space_info(self, msg: ProofOfSpaceInfo, peer: PeerConnection) -> None:
        self.timelord.proof_of_space_info(msg)
