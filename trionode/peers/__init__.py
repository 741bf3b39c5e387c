"""trionode.peers: how nodes find, talk to and defend themselves against each other.

PROTOCOL.md section 1. Layers, bottom up: :mod:`tls` (certificates, contexts, node_id),
:mod:`transport` (interface) with :mod:`ws_transport` and :mod:`memory_transport`,
:mod:`handshake` (sans-io), :mod:`connection` (requests by id, limits, heartbeat),
:mod:`admission` (connection slots per address and group), :mod:`lag` (event-loop lag),
:mod:`node` (PeerNode: listen, dial, register, ban, supervise), :mod:`manager` (outbound
target, backoff), :mod:`introducer`, :mod:`full_node` (composition), :mod:`cli` (entry points).
"""

from trionode.peers.connection import PeerConnection
from trionode.peers.errors import (
    ConnectionClosedError,
    DialError,
    HandshakeError,
    PeerErrorReply,
    PeerRequestError,
    RemoteProtocolError,
    RequestRefused,
    RequestTimeout,
    TransportClosed,
)
from trionode.peers.limits import PeerLimits
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.peers.transport import PeerStream, Transport

__all__ = [
    "ConnectionClosedError",
    "DialError",
    "HandshakeError",
    "PeerConnection",
    "PeerErrorReply",
    "PeerLimits",
    "PeerNode",
    "PeerNodeConfig",
    "PeerRequestError",
    "PeerStream",
    "RemoteProtocolError",
    "RequestRefused",
    "RequestTimeout",
    "Transport",
    "TransportClosed",
]
