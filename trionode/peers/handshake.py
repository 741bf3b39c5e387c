"""The handshake as a pure state machine (sans-io, STYLE.md 1): messages in, messages out.

Rules (PROTOCOL.md section 1, Handshake):

- As soon as the connection is open, each side sends its ``Handshake`` without waiting.
- A side answers the other's *valid* Handshake with ``HandshakeAck`` (echoing the Handshake's
  id if it carried one).
- The handshake is complete when a side has received a valid Handshake *and* an ack.
- The peer's Handshake must come before its ack: every side sends its Handshake before it can
  have anything to acknowledge, and a websocket keeps order, so an ack first is out of order
  (PROTOCOL.md: "anything undecodable or out of order before it completes closes the
  connection at once").
- Valid: network_id equal to ours; protocol_version with our major part; software_version at
  most 128 bytes of UTF-8; node_type a known NodeType (and, if the caller restricts it, one it
  accepts). A connection to oneself (same node_id) is refused.
- Before completion only handshake and handshake_ack may arrive; anything else, a second
  Handshake or ack, an undecodable message or an ``Error`` fails the handshake.

The deadline and the duplicate-node_id check need time and the node's connection table; they
live in the connection and the node, not here.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable

from trionode.peers.errors import HandshakeError
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols import decode_message, make_message
from trionode.protocols.shared_protocol import (
    MAX_SOFTWARE_VERSION_BYTES,
    PROTOCOL_VERSION,
    Error,
    Handshake,
    HandshakeAck,
    NodeType,
)
from trionode.wire import DecodeError, Message, bytes32, uint8, uint16

__all__ = ["HandshakeMachine", "HandshakeState", "major_version"]


class HandshakeState(enum.Enum):
    SENDING = "sending"  # start() not called yet
    WAITING = "waiting"  # ours sent; waiting for their Handshake and/or their ack
    COMPLETE = "complete"
    FAILED = "failed"


def major_version(version: str) -> str:
    """The major part of a "major.minor" protocol version."""
    return version.split(".", 1)[0]


class HandshakeMachine:
    """One side of one connection's handshake."""

    def __init__(
        self,
        *,
        network_id: bytes32,
        node_type: NodeType,
        server_port: int,
        software_version: str,
        local_node_id: bytes32,
        remote_node_id: bytes32,
        protocol_version: str = PROTOCOL_VERSION,
        accepted_node_types: Iterable[NodeType] | None = None,
    ) -> None:
        self._ours = Handshake(
            network_id=network_id,
            protocol_version=protocol_version,
            software_version=software_version,
            server_port=uint16(server_port),
            node_type=uint8(node_type),
        )
        self._local_node_id = local_node_id
        self._remote_node_id = remote_node_id
        self._accepted = None if accepted_node_types is None else frozenset(accepted_node_types)
        self.state = HandshakeState.SENDING
        self.peer: Handshake | None = None
        self.peer_node_type: NodeType | None = None
        self._acked = False

    @property
    def complete(self) -> bool:
        return self.state is HandshakeState.COMPLETE

    def start(self) -> Message:
        """Our Handshake, to send at once. Fails for a connection to ourselves."""
        if self.state is not HandshakeState.SENDING:
            raise RuntimeError("start() called twice")
        if self._local_node_id == self._remote_node_id:
            self.state = HandshakeState.FAILED
            raise HandshakeError("connection to ourselves (same node_id)", ban_seconds=0)
        self.state = HandshakeState.WAITING
        return make_message(self._ours)

    def receive(self, msg: Message) -> list[Message]:
        """Feed one message from the peer; returns what to send. Raises HandshakeError."""
        if self.state is not HandshakeState.WAITING:
            raise RuntimeError(f"receive() in state {self.state.value}")
        try:
            return self._receive(msg)
        except HandshakeError:
            self.state = HandshakeState.FAILED
            raise

    def _receive(self, msg: Message) -> list[Message]:
        try:
            mtype, payload = decode_message(msg)
        except DecodeError as exc:
            raise HandshakeError(f"undecodable message during handshake: {exc}") from None
        out: list[Message] = []
        if mtype is T.handshake:
            if self.peer is not None:
                raise HandshakeError("second Handshake")
            assert isinstance(payload, Handshake)
            self._validate(payload)
            self.peer = payload
            out.append(make_message(HandshakeAck(), id=msg.id))
        elif mtype is T.handshake_ack:
            # A second ack cannot come here: the first one (after the Handshake) completes the
            # machine, and the connection refuses handshake messages after that.
            if self.peer is None:
                raise HandshakeError("HandshakeAck before the peer's Handshake")
            self._acked = True
        elif mtype is T.error:
            assert isinstance(payload, Error)
            raise HandshakeError(
                f"peer sent Error {int(payload.code)} during handshake: {payload.message}"
            )
        else:
            raise HandshakeError(f"{mtype.name} before the handshake completed")
        if self.peer is not None and self._acked:
            self.state = HandshakeState.COMPLETE
        return out

    def _validate(self, hs: Handshake) -> None:
        if hs.network_id != self._ours.network_id:
            raise HandshakeError(
                f"wrong network_id {hs.network_id.hex()} (ours {self._ours.network_id.hex()})"
            )
        if major_version(hs.protocol_version) != major_version(self._ours.protocol_version):
            raise HandshakeError(
                f"protocol version {hs.protocol_version!r} incompatible with "
                f"{self._ours.protocol_version!r}"
            )
        if len(hs.software_version.encode("utf-8")) > MAX_SOFTWARE_VERSION_BYTES:
            raise HandshakeError(f"software_version longer than {MAX_SOFTWARE_VERSION_BYTES} bytes")
        try:
            node_type = NodeType(hs.node_type)
        except ValueError:
            raise HandshakeError(f"unknown node_type {int(hs.node_type)}") from None
        if self._accepted is not None and node_type not in self._accepted:
            raise HandshakeError(f"node_type {node_type.name} not accepted here")
        self.peer_node_type = node_type
