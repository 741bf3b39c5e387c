"""The Message envelope read without decoding its payload (PROTOCOL.md Transport): the type
byte, the optional id and the length field are checked on the raw bytes, so a connection can
apply its routing, size and rate rules before any decoding work is spent on a payload."""

from __future__ import annotations

from trionode.peers.errors import RemoteProtocolError
from trionode.protocols import ProtocolMessageTypes as T


def split_envelope(data: bytes) -> tuple[T, int | None, memoryview]:
    """Parse a Message envelope without copying or decoding its payload: (type, id, payload).

    Raises RemoteProtocolError for an unknown type or a malformed envelope.
    """
    if not data:
        raise RemoteProtocolError("empty message")
    try:
        mtype = T(data[0])
    except ValueError:
        raise RemoteProtocolError(f"unknown message type {data[0]}") from None
    pos = 2
    flag = data[1] if len(data) > 1 else None
    if flag == 0:
        msg_id = None
    elif flag == 1 and len(data) >= 4:
        msg_id = int.from_bytes(data[2:4], "big")
        pos = 4
    else:
        raise RemoteProtocolError(f"undecodable {mtype.name} envelope: bad id field")
    if len(data) < pos + 4:
        raise RemoteProtocolError(f"undecodable {mtype.name} envelope: truncated")
    length = int.from_bytes(data[pos : pos + 4], "big")
    payload = memoryview(data)[pos + 4 :]
    if len(payload) != length:
        raise RemoteProtocolError(
            f"undecodable {mtype.name} envelope: payload of {len(payload)} bytes, "
            f"length field says {length}"
        )
    return mtype, msg_id, payload
