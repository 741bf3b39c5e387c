"""The envelope every websocket message carries (seed 002)."""

from __future__ import annotations

from trionode.wire.ints import uint8, uint16
from trionode.wire.streamable import Streamable, streamable


@streamable
class Message(Streamable):
    """``type`` is a ProtocolMessageTypes number; ``id`` pairs a request with its reply
    (None for announcements); ``data`` is the Streamable encoding of the payload."""

    type: uint8
    id: uint16 | None
    data: bytes
