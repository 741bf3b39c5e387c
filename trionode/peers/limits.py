"""Resource limits of the peer layer: message sizes, rates, connection counts, deadlines.

The tables are at the top (STYLE.md 5). A message bigger than the cap of its type, or a type
sent faster than its rate, is a protocol violation by the peer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from trionode.peers.errors import MessageTooLarge, RateLimitExceeded
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.size_caps import MESSAGE_SIZE_CAPS

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

# Per-type caps on the envelope size (every type: trionode.protocols.size_caps), below
# max_message_size.
DEFAULT_SIZE_CAPS: Mapping[T, int] = MESSAGE_SIZE_CAPS

# Per-type (messages, window seconds) a peer may send; every type is listed. Replies that answer
# one of our open requests are not counted (their number is bounded by our requests). The rates
# are set so an honest node never trips them: a long sync asks one peer for at most a few
# batches a second, gossip relays each block, proof and transaction once per peer.
_SOME = (100, 60.0)  # messages a node sends a few times a connection
_GOSSIP = (1000, 60.0)  # per block / proof / signage point: a few a second at most
DEFAULT_RATE: tuple[int, float] = (100, 60.0)
DEFAULT_RATE_LIMITS: Mapping[T, tuple[int, float]] = {
    T.handshake: (1, 60.0),
    T.handshake_ack: (1, 60.0),
    T.error: (100, 60.0),
    # harvester protocol
    T.harvester_handshake: (10, 60.0),
    T.new_signage_point_harvester: _GOSSIP,
    T.new_proof_of_space: _GOSSIP,
    T.request_signatures: _GOSSIP,
    T.respond_signatures: _GOSSIP,
    T.request_plots: _SOME,
    T.respond_plots: _SOME,
    T.harvester_handshake_v1: (10, 60.0),
    T.new_challenge: _GOSSIP,
    T.challenge_response: (5000, 60.0),  # one per quality found
    T.request_proof_of_space: _GOSSIP,
    T.respond_proof_of_space: _GOSSIP,
    T.request_header_signature: _GOSSIP,
    T.respond_header_signature: _GOSSIP,
    T.request_partial_proof: _GOSSIP,
    T.respond_partial_proof: _GOSSIP,
    # farmer protocol
    T.proof_of_space_finalized: _GOSSIP,
    T.proof_of_space_arrived: _GOSSIP,
    T.request_header_hash: _GOSSIP,
    T.header_hash: _GOSSIP,
    T.header_signature: _GOSSIP,
    T.proof_of_time_rate: _GOSSIP,
    # timelord protocol
    T.proof_of_time_finished: _GOSSIP,
    T.challenge_start: _GOSSIP,
    T.proof_of_space_info: _GOSSIP,
    # peer protocol
    T.new_proof_of_time: _GOSSIP,
    T.unfinished_block: _GOSSIP,
    T.request_block: (2000, 60.0),  # short sync fetches up to SYNC_THRESHOLD parents a block
    T.block: _GOSSIP,
    T.request_peers: (10, 60.0),
    T.peers: (10, 60.0),
    T.request_all_header_hashes: (20, 60.0),
    T.all_header_hashes: (20, 60.0),
    T.request_header_blocks: (3000, 60.0),  # 32 headers a request: 1,600 headers/s
    T.header_blocks: (3000, 60.0),
    T.request_sync_blocks: (3000, 60.0),
    T.sync_blocks: (3000, 60.0),
    T.transaction_id: (5000, 60.0),
    T.request_transaction: (5000, 60.0),
    T.new_transaction: (2000, 60.0),
    # introducer protocol
    T.request_peers_introducer: (10, 60.0),
    T.respond_peers_introducer: (10, 60.0),
    # wallet protocol: a wallet syncs headers in batches of 64 and coins in batches of 32
    T.request_wallet_peak: (600, 60.0),
    T.wallet_peak: (600, 60.0),
    T.request_wallet_headers: (3000, 60.0),  # 64 headers a request: 3,200 headers/s
    T.wallet_headers: (3000, 60.0),
    T.request_coin_heights: (600, 60.0),
    T.coin_heights: (600, 60.0),
    T.request_block_coins: (3000, 60.0),
    T.respond_block_coins: (3000, 60.0),
    # pool protocol (docs/protocol.md section 5): the pool also limits partials per farmer
    # itself (RATE_LIMITED with a reason); this is the peer layer's outer bound
    T.request_pool_info: (60, 60.0),
    T.pool_info: (60, 60.0),
    T.join_pool: (10, 60.0),
    T.join_pool_response: (10, 60.0),
    T.submit_partial: (6000, 60.0),
    T.respond_partial: (6000, 60.0),
    T.pool_difficulty_changed: (60, 60.0),
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
