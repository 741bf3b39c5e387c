"""Hostile peers: real full nodes (they follow the chain like any other) that lie.

Each Byzantine node draws a few moves from the run's seed:

- ``invalid-copy``: relays every new block as a copy with a corrupted proof-of-time witness
  (same header hash) instead of the valid block: an honest node that lets the copy hide the
  valid block (a seen-cache that records before validating) stops following the chain.
- ``withhold``: relays nothing.
- ``lurk``: behaves until the run's last blocks, then sends invalid copies of them (the attack
  at the moment it hurts most: no later block would repair a hidden one).
- ``fake-advert``: Blocks claiming a huge height and weight (header edited, signature stale).
- ``bad-pot``: NewProofOfTime with a corrupted witness.
- ``oversized``: a message above the receiver's maximum size.
- ``unhandled``: a message of a type a full node does not take (farmer protocol).
- ``address-flood``: unsolicited Peers with a thousand made-up addresses.
- ``inconsistent-hashes``: answers hash-list requests with a shuffled list and block requests
  with another block than asked for.

Equivocating farmers (two blocks from one proof of space) live in the farm.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError, TransportClosed
from trionode.peers.limits import PeerLimits
from trionode.protocols import Encoded, ProtocolMessageTypes, make_message
from trionode.protocols.chain_types import FullBlock, Header
from trionode.protocols.farmer_protocol import ProofOfTimeRate
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    Block,
    NewProofOfTime,
    PeerInfo,
    Peers,
    RequestAllHeaderHashes,
    RequestBlock,
)
from trionode.protocols.shared_protocol import Error, NodeType
from trionode.roles.full_node.api import FullNodeAPI
from trionode.simulation.eventlog import EventLog
from trionode.simulation.nodes import SimNode
from trionode.wire import Streamable, uint16, uint32, uint64, uint128

MOVES = (
    "invalid-copy",
    "withhold",
    "lurk",
    "fake-advert",
    "bad-pot",
    "oversized",
    "unhandled",
    "address-flood",
    "inconsistent-hashes",
)
NOISE = ("fake-advert", "bad-pot", "oversized", "unhandled", "address-flood")
NOISE_INTERVAL = 30.0  # mean virtual seconds between two noise moves of one node


def corrupted_copy(block: FullBlock) -> FullBlock:
    """``block`` with one witness byte flipped: same header hash, invalid proof of time."""
    pot = block.proof_of_time
    assert pot is not None
    witness = bytearray(pot.witness)
    witness[len(witness) // 2] ^= 0xFF
    return block.replace(proof_of_time=pot.replace(witness=bytes(witness)))


def fake_advert(block: FullBlock, i: int) -> FullBlock:
    data = block.header.data.replace(
        height=uint32(10_000 + i),
        weight=uint128(10**15 + i),
        total_iters=uint128(10**12 + i),
    )
    return block.replace(header=Header(data, block.header.plot_signature))


class LyingAPI(FullNodeAPI):
    """Serves shuffled hash lists and the wrong blocks."""

    async def request_all_header_hashes(
        self, msg: RequestAllHeaderHashes, peer: PeerConnection
    ) -> AllHeaderHashes | Error:
        reply = await super().request_all_header_hashes(msg, peer)
        if isinstance(reply, AllHeaderHashes) and len(reply.header_hashes) > 2:
            hashes = list(reply.header_hashes)
            hashes[1], hashes[-1] = hashes[-1], hashes[1]
            return AllHeaderHashes(hashes)
        return reply

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Encoded | Error:
        peak = self.full_node.blockchain.get_peak()
        if peak is not None and peak.header_hash != msg.header_hash:
            block = await self.full_node.blockchain.get_block(peak.header_hash)
            if block is not None:
                return Encoded(ProtocolMessageTypes.block, bytes(Block(block)))
        return await super().request_block(msg, peer)


class Adversary:
    def __init__(self, node: SimNode, rand: random.Random, log: EventLog) -> None:
        self.node = node
        self.rand = rand
        self.log = log
        count = rand.randint(2, 4)
        self.moves = frozenset(rand.sample(MOVES, min(count, len(MOVES))))
        self.final_phase = False
        self.sent: dict[str, int] = {}
        if "inconsistent-hashes" in self.moves:
            node.api_class = LyingAPI

    def install(self) -> None:
        """Replace the node's relay (call after each start)."""
        full_node = self.node.full_node
        honest_broadcast = full_node.outbox.broadcast

        async def broadcast(
            payload: Streamable,
            *,
            exclude: PeerConnection | None = None,
            to: Sequence[PeerConnection] | None = None,
        ) -> None:
            if isinstance(payload, Block):
                copies = "invalid-copy" in self.moves or ("lurk" in self.moves and self.final_phase)
                if copies:
                    await self._to_all("invalid-copy", Block(corrupted_copy(payload.block)))
                    return
                if "withhold" in self.moves or "lurk" in self.moves:
                    return
            await honest_broadcast(payload, exclude=exclude, to=to)

        full_node.outbox.broadcast = broadcast  # type: ignore[method-assign]

    def _peers(self) -> list[PeerConnection]:
        if not self.node.running:
            return []
        return self.node.peer_node.get_connections(NodeType.FULL_NODE)

    async def _raw(self, conn: PeerConnection, what: str, data: bytes) -> None:
        try:
            await conn.stream.send(data)
        except (TransportClosed, PeerRequestError):
            return
        self.sent[what] = self.sent.get(what, 0) + 1
        self.log.write("attack", self.node.name, what, conn.host)

    async def _to_all(self, what: str, payload: Streamable) -> None:
        data = bytes(make_message(payload))
        for conn in self._peers():
            await self._raw(conn, what, data)

    async def run(self) -> None:
        """Noise moves at random times, for as long as the run lasts."""
        noise = [m for m in NOISE if m in self.moves]
        if not noise:
            return
        i = 0
        while True:
            await trio.sleep(self.rand.expovariate(1 / NOISE_INTERVAL))
            move = self.rand.choice(noise)
            peak = None
            if self.node.running:
                tip = self.node.blockchain.get_peak()
                if tip is not None:
                    peak = await self.node.blockchain.get_block(tip.header_hash)
            maker = self._noise(move, peak, i)
            if maker is not None:
                await self._to_all_raw(move, maker)
            i += 1

    async def _to_all_raw(self, move: str, maker: Callable[[], bytes]) -> None:
        data = maker()
        for conn in self._peers():
            await self._raw(conn, move, data)

    def _noise(self, move: str, peak: FullBlock | None, i: int) -> Callable[[], bytes] | None:
        if move == "oversized":
            size = PeerLimits().max_message_size + 1
            return lambda: bytes(size)
        if move == "unhandled":
            return lambda: bytes(make_message(ProofOfTimeRate(uint64(1))))
        if move == "address-flood":
            base = self.rand.randrange(1 << 16)

            def flood() -> bytes:
                peers = [
                    PeerInfo(
                        f"11.{(base + k) >> 16 & 255}.{(base + k) >> 8 & 255}.{k & 255}",
                        uint16(8444),
                    )
                    for k in range(1000)
                ]
                return bytes(make_message(Peers(peers)))

            return flood
        if peak is None or peak.proof_of_time is None:
            return None
        if move == "fake-advert":
            return lambda: bytes(make_message(Block(fake_advert(peak, i))))
        if move == "bad-pot":
            bad = corrupted_copy(peak).proof_of_time
            assert bad is not None
            return lambda: bytes(make_message(NewProofOfTime(bad)))
        return None
