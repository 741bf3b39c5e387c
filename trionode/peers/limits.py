"""Resource limits of the peer layer: message sizes, rates, connection counts, deadlines.

The tables are at the top (STYLE.md 5). A message bigger than the cap of its type, or a type
sent faster than its rate, is a protocol violation by the peer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from trionode.peers.errors import MessageTooLarge, RateLimitExceeded
from trionode.protocols import ProtocolMessageTypes as T

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_SIZE_CAPS",
    "MAX_MESSAGE_SIZE",
    "PeerLimits",
    "RateLimiter",
]

MiB = 1024 * 1024
# One websocket message at most (PROTOCOL.md, Transport). Never the library's 1 MiB default.
MAX_MESSAGE_SIZE = 50 * MiB

# Per-type caps on the envelope size, below MAX_MESSAGE_SIZE. Types not listed may use the
# whole MAX_MESSAGE_SIZE (blocks, header batches, sync batches).
DEFAULT_SIZE_CAPS: Mapping[T, int] = {
    T.handshake: 1024,
    T.handshake_ack: 64,
    T.error: 4096,
    T.request_peers: 64,
    T.peers: 512 * 1024,
    T.request_peers_introducer: 64,
    T.respond_peers_introducer: 64 * 1024,
    T.request_block: 128,
    T.request_all_header_hashes: 128,
    T.request_header_blocks: 4096,
    T.request_sync_blocks: 4096,
    T.transaction_id: 128,
    T.request_transaction: 128,
    T.new_transaction: 1 * MiB,
    T.new_proof_of_time: 64 * 1024,
    T.unfinished_block: 10 * MiB,
    T.block: 10 * MiB,
}

# Per-type (messages, window seconds) a peer may send. Unlisted types: DEFAULT_RATE.
DEFAULT_RATE: tuple[int, float] = (1000, 60.0)
DEFAULT_RATE_LIMITS: Mapping[T, tuple[int, float]] = {
    T.handshake: (1, 60.0),
    T.handshake_ack: (1, 60.0),
    T.request_peers: (10, 60.0),
    T.peers: (10, 60.0),
    T.request_peers_introducer: (10, 60.0),
    T.respond_peers_introducer: (10, 60.0),
    T.error: (100, 60.0),
    T.request_all_header_hashes: (20, 60.0),
    T.request_block: (2000, 60.0),
    T.request_header_blocks: (500, 60.0),
    T.request_sync_blocks: (500, 60.0),
    T.new_transaction: (2000, 60.0),
    T.transaction_id: (5000, 60.0),
}


@dataclass(frozen=True)
class PeerLimits:
    """Every limit and deadline of the peer layer, in one frozen value per node."""

    max_message_size: int = MAX_MESSAGE_SIZE
    size_caps: Mapping[T, int] = field(default_factory=lambda: dict(DEFAULT_SIZE_CAPS))
    rate_limits: Mapping[T, tuple[int, float]] = field(
        default_factory=lambda: dict(DEFAULT_RATE_LIMITS)
    )
    default_rate: tuple[int, float] = DEFAULT_RATE
    max_inbound: int = 80
    max_outbound: int = 16
    max_concurrent_handshakes: int = 32
    # Whole handshake (TLS, websocket upgrade, Handshake/HandshakeAck) must finish in this.
    handshake_timeout: float = 10.0
    request_timeout: float = 30.0
    # We ping every ping_interval; a ping unanswered within ping_interval drops the peer.
    ping_interval: float = 30.0
    # Dropped this long after the peer's last message or last ping of its own (our pings'
    # pongs do not count). Our nodes ping each other, so quiet links between them stay up.
    idle_timeout: float = 90.0
    # Requests from one peer that are handled at the same time; reading pauses beyond this.
    max_concurrent_handlers: int = 16
    close_timeout: float = 2.0

    def size_cap(self, mtype: T) -> int:
        return min(self.size_caps.get(mtype, self.max_message_size), self.max_message_size)

    def check_size(self, mtype: T, size: int) -> None:
        cap = self.size_cap(mtype)
        if size > cap:
            raise MessageTooLarge(f"{mtype.name} of {size} bytes exceeds its cap of {cap} bytes")


class RateLimiter:
    """Per-peer counts of each message type over fixed windows.

    A fixed window (reset when it ends) is enough here: it bounds the work a peer can cause to
    twice the limit per window, costs one dict lookup per message, and needs no timestamps list.
    """

    def __init__(self, limits: PeerLimits) -> None:
        self._limits = limits
        self._windows: dict[T, tuple[float, int]] = {}

    def check(self, mtype: T, now: float) -> None:
        """Count one ``mtype`` message at ``now``; raise RateLimitExceeded above the limit."""
        count_max, window = self._limits.rate_limits.get(mtype, self._limits.default_rate)
        start, count = self._windows.get(mtype, (now, 0))
        if now - start >= window:
            start, count = now, 0
        count += 1
        self._windows[mtype] = (start, count)
        if count > count_max:
            raise RateLimitExceeded(f"more than {count_max} {mtype.name} messages in {window:g} s")
