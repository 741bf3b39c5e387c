"""Resource limits of the peer layer: message sizes, rates, connection counts, deadlines.

The per-type caps and rates are columns of the message table (STYLE.md 5,
``trionode.protocols.message_table``); the rest is at the top. A message bigger than the cap of
its type, or a type sent faster than its rate, is a protocol violation by the peer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from trionode.peers.errors import MessageTooLarge, RateLimitExceeded
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.message_table import MESSAGE_RATE_LIMITS, MESSAGE_SIZE_CAPS

__all__ = [
    "DEFAULT_RATE_LIMITS",
    "DEFAULT_SIZE_CAPS",
    "MAX_MESSAGE_SIZE",
    "MiB",
    "PeerLimits",
    "RateLimiter",
]

MiB = 1024 * 1024
# One websocket message at most (PROTOCOL.md, Transport). Never the library's 1 MiB default.
MAX_MESSAGE_SIZE = 50 * MiB

# Per-type caps on the envelope size, below max_message_size, and per-type (messages, window
# seconds) a peer may send: the cap and rate columns of the message table
# (trionode.protocols.message_table), which lists every type and says why each value is what it
# is. Replies that answer one of our open requests are not counted against the rate.
DEFAULT_SIZE_CAPS: Mapping[T, int] = MESSAGE_SIZE_CAPS
DEFAULT_RATE_LIMITS: Mapping[T, tuple[int, float]] = MESSAGE_RATE_LIMITS
# The rate of a type a PeerLimits' own rate_limits leave out.
DEFAULT_RATE: tuple[int, float] = (100, 60.0)


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
    # Connection set-ups (TCP accepted, then TLS, websocket upgrade and Handshake) in progress
    # at once: in total, from one address, from one address group (trionode.peers.admission:
    # IPv4 /24, IPv6 /48, each loopback address its own group). Beyond: the socket is closed
    # before TLS.
    max_concurrent_handshakes: int = 32
    max_handshakes_per_address: int = 4
    max_handshakes_per_group: int = 8
    # Inbound connections (handshake done) from one address and from one group.
    max_inbound_per_address: int = 16
    max_inbound_per_group: int = 32
    # Refused connections are summed up in one log line per interval (not one line each).
    refusal_log_interval: float = 10.0
    # Whole handshake (TLS, websocket upgrade, Handshake/HandshakeAck) must finish in this.
    handshake_timeout: float = 10.0
    request_timeout: float = 30.0
    # We ping every ping_interval; a ping unanswered within ping_interval drops the peer.
    ping_interval: float = 30.0
    # Dropped this long after the peer's last message or last ping of its own (our pings'
    # pongs do not count). Our nodes ping each other, so quiet links between them stay up.
    idle_timeout: float = 90.0
    # Messages from one peer handled at the same time. Reading never waits for a handler:
    # replies are matched as they arrive; other messages wait in a queue of at most
    # max_queued_messages / max_queued_bytes (of wire bytes; one message always fits an empty
    # queue). Beyond it, announcements are dropped and requests answered Error(RATE_LIMITED).
    max_concurrent_handlers: int = 16
    max_queued_messages: int = 256
    max_queued_bytes: int = 8 * MiB
    # A handler waiting for a reply (a request to any peer) gives its slot back meanwhile, for
    # at most this many waiting handlers per connection (beyond, it keeps its slot).
    max_parked_handlers: int = 64
    # Payloads at least this big are decoded in a worker thread, off the event loop.
    decode_in_thread_bytes: int = 64 * 1024
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
