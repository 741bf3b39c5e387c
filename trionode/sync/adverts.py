"""What peers advertise: the heaviest block each peer has sent us, checked detached
(:mod:`trionode.blockchain.detached`) before it is noted. Long sync takes its targets and its
peers from here; a peer whose advert is lighter than a target is never asked about it.
"""

from __future__ import annotations

import attrs
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.peers.connection import PeerConnection
from trionode.protocols.chain_types import FullBlock
from trionode.wire import bytes32


@attrs.define
class Advert:
    """The heaviest block a peer has sent us."""

    conn: PeerConnection
    block: FullBlock

    @property
    def header_hash(self) -> bytes32:
        return self.block.header_hash


class AdvertBook:
    """One advert per peer (by node id). ``threshold``: heights above our peak that make a
    tip a long sync's target (SYNC_THRESHOLD)."""

    def __init__(self, blockchain: Blockchain, threshold: int) -> None:
        self.blockchain = blockchain
        self.threshold = threshold
        self._adverts: dict[bytes32, Advert] = {}  # node_id -> best advert
        # Tips close in height whose fork point is too deep for a short sync: long-synced too.
        self._deep: set[bytes32] = set()
        self._wake = trio.Event()  # set by a far (or deep) advert: wakes the sync loop
        self._noted = trio.Event()  # set by every advert: wakes a sync gathering its peers

    def is_far(self, height: int) -> bool:
        """A block at ``height`` is for a long sync, not a short one."""
        peak = self.blockchain.peak_height
        return height > (-1 if peak is None else peak) + self.threshold

    def note(self, conn: PeerConnection, block: FullBlock, *, deep: bool = False) -> None:
        """Remember the heaviest block ``conn`` has sent; wake the loop if it is far ahead, or
        if ``deep``: its fork from our chain is below what a short sync fetches (two chains of
        similar height that split long ago), so only the binary search can join them."""
        old = self._adverts.get(conn.node_id)
        if old is None or old.conn is not conn or block.weight > old.block.weight:
            self._adverts[conn.node_id] = Advert(conn, block)
        if deep:
            self._deep.add(block.header_hash)
        if deep or self.is_far(int(block.height)):
            self._wake.set()
        self._noted.set()

    def advertised(self, conn: PeerConnection, block: FullBlock) -> bool:
        """``conn``'s advert is this very block (it passed the checks when first sent)."""
        advert = self._adverts.get(conn.node_id)
        return (
            advert is not None
            and advert.conn is conn
            and advert.header_hash == block.header_hash
            and advert.block == block
        )

    def wake(self) -> None:
        """Have the loop look at the adverts again (a near one may have been left waiting)."""
        self._wake.set()

    async def wait_far(self) -> None:
        """Until a far or deep advert was noted since the last wait returned."""
        await self._wake.wait()
        self._wake = trio.Event()

    def next_note(self) -> trio.Event:
        """An event the next advert sets."""
        self._noted = trio.Event()
        return self._noted

    def best(self, *, far_only: bool) -> Advert | None:
        """The heaviest advert heavier than our peak and not stored (``far_only``: only far or
        deep ones); adverts of closed connections are dropped on the way."""
        peak = self.blockchain.get_peak()
        weight = -1 if peak is None else int(peak.weight)
        best: Advert | None = None
        for node_id, advert in list(self._adverts.items()):
            if advert.conn.closed.is_set():
                del self._adverts[node_id]
                continue
            if self.blockchain.contains_block(advert.header_hash) or advert.block.weight <= weight:
                continue
            if far_only and not self._wanted(advert):
                continue
            if best is None or advert.block.weight > best.block.weight:
                best = advert
        self._deep &= {advert.header_hash for advert in self._adverts.values()}
        return best

    def _wanted(self, advert: Advert) -> bool:
        return advert.header_hash in self._deep or self.is_far(int(advert.block.height))

    def claims_at_least(self, conn: PeerConnection, weight: int) -> bool:
        """``conn`` advertised a tip at least ``weight`` heavy (so it likely holds the target);
        a peer that advertised less, or nothing, is not asked about a heavier claim."""
        advert = self._adverts.get(conn.node_id)
        return advert is not None and advert.conn is conn and int(advert.block.weight) >= weight

    def advertisers(self, target: Advert) -> list[PeerConnection]:
        """The peers that advertised ``target``: the one it was taken from (even if it has
        advertised another tip since) and those whose advert it is now."""
        conns = [target.conn] + [
            a.conn
            for a in self._adverts.values()
            if a.header_hash == target.header_hash and a.conn is not target.conn
        ]
        return [c for c in conns if not c.closed.is_set()]

    def forget(self, header_hash: bytes32, only: set[bytes32] | None = None) -> None:
        """Drop the adverts of ``header_hash`` (``only``: of these node ids)."""
        if only is None:
            self._deep.discard(header_hash)
        for node_id, advert in list(self._adverts.items()):
            if advert.header_hash == header_hash and (only is None or node_id in only):
                del self._adverts[node_id]
