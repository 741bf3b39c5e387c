"""The wire format, sans-io: Streamable types and the message envelope. No trio, no sockets."""

from trionode.wire.bls import BLSElement, G1Element, G2Element
from trionode.wire.errors import DecodeError
from trionode.wire.frozen_list import FrozenList
from trionode.wire.ints import (
    StructInt,
    int8,
    int16,
    int32,
    int64,
    uint8,
    uint16,
    uint32,
    uint64,
    uint128,
)
from trionode.wire.message import Message
from trionode.wire.program import Program
from trionode.wire.sized_bytes import (
    SizedBytes,
    bytes4,
    bytes8,
    bytes32,
    bytes48,
    bytes96,
    bytes100,
)
from trionode.wire.streamable import Streamable, streamable

__all__ = [
    "BLSElement",
    "DecodeError",
    "FrozenList",
    "G1Element",
    "G2Element",
    "Message",
    "Program",
    "SizedBytes",
    "Streamable",
    "StructInt",
    "bytes100",
    "bytes32",
    "bytes4",
    "bytes48",
    "bytes8",
    "bytes96",
    "int16",
    "int32",
    "int64",
    "int8",
    "streamable",
    "uint128",
    "uint16",
    "uint32",
    "uint64",
    "uint8",
]
