"""What each connected full node is known to have, for block relay (docs/protocol.md 2.5).

A record per connection of 32-byte keys (header hashes, proof of time hashes) with flags: what
the peer showed us it has, and what we told it. It is evidence the peer gave about itself, so
the relay may trust it only about what to send *that* peer (never to skip another one), and the
relay keeps a fallback for a peer that claimed more than it had. Bounded per peer in entries
(the oldest key is forgotten first) and dropped with the connection.
"""

from __future__ import annotations

import collections
import enum

from trionode.peers.connection import PeerConnection
from trionode.wire import bytes32

#: Keys remembered per peer: a 32-byte key and a small int in an ordered dict, about 200 bytes
#: an entry, so about 100 KB per connected peer at most. A block costs a peer a few entries
#: (its unfinished variants, the block, its proof of time), so this spans many block times.
MAX_ENTRIES = 512


class Held(enum.IntFlag):
    """Flags of one key. By header hash: UNFINISHED (it sent us this UnfinishedBlock),
    UNFINISHED_SENT (we sent it that UnfinishedBlock), BLOCK (it sent us this Block),
    BLOCK_SENT (we sent it this Block or the NewProofOfTime that finishes it). By proof of time
    hash: PROOF (it sent us this NewProofOfTime: it has the block the proof finishes)."""

    UNFINISHED = 1
    UNFINISHED_SENT = 2
    BLOCK = 4
    BLOCK_SENT = 8
    PROOF = 16


class PeerHoldings:
    """One peer's record; see the module docstring."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._flags: collections.OrderedDict[bytes32, int] = collections.OrderedDict()

    def __len__(self) -> int:
        return len(self._flags)

    def knows(self, key: bytes32, flag: Held) -> bool:
        return bool(self._flags.get(key, 0) & flag)

    def note(self, key: bytes32, flag: Held) -> None:
        self._flags[key] = self._flags.get(key, 0) | flag
        self._flags.move_to_end(key)
        while len(self._flags) > self.max_entries:
            self._flags.popitem(last=False)


class HoldingsBook:
    """The records of the connected full nodes, by connection. :meth:`drop` is the peer
    layer's disconnect hook; a closed connection is never given a stored record (a message
    handled after the disconnect must not bring one back)."""

    def __init__(self, max_entries: int = MAX_ENTRIES) -> None:
        self.max_entries = max_entries
        self._peers: dict[PeerConnection, PeerHoldings] = {}

    def __len__(self) -> int:
        return len(self._peers)

    def of(self, conn: PeerConnection) -> PeerHoldings:
        record = self._peers.get(conn)
        if record is None:
            record = PeerHoldings(self.max_entries)
            if not conn.closed.is_set():
                self._peers[conn] = record
        return record

    def drop(self, conn: PeerConnection) -> None:
        self._peers.pop(conn, None)
