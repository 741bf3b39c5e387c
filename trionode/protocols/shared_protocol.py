"""Messages every connection uses (seed 002): Handshake, HandshakeAck, Error."""

from __future__ import annotations

import enum

from trionode.wire import Streamable, bytes32, int16, streamable, uint8, uint16

# Major.minor: peers must agree on the major part (PROTOCOL.md, Handshake).
PROTOCOL_VERSION = "1.0"
MAX_SOFTWARE_VERSION_BYTES = 128


class NodeType(enum.IntEnum):
    FULL_NODE = 1
    HARVESTER = 2
    FARMER = 3
    TIMELORD = 4
    INTRODUCER = 5
    WALLET = 6
    POOL = 7  # docs/protocol.md section 5


class ErrorCode(enum.IntEnum):
    """Codes of ``Error`` replies."""

    UNKNOWN = 1
    INVALID_REQUEST = 2
    NOT_FOUND = 3
    TOO_MANY_ITEMS = 4
    UNKNOWN_TIP = 5
    INTERNAL_ERROR = 6
    NOT_SUPPORTED = 7
    RATE_LIMITED = 8


@streamable
class Handshake(Streamable):
    network_id: bytes32
    protocol_version: str
    software_version: str
    server_port: uint16
    node_type: uint8


@streamable
class HandshakeAck(Streamable):
    pass


@streamable
class Error(Streamable):
    code: int16
    message: str
