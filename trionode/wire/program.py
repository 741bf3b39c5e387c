"""CLVM-serialized programs, kept as their bytes.

Serialization (PROTOCOL.md section 1): 0xff starts a pair followed by two programs; 0x80 is nil;
a byte below 0x80 is a one-byte atom; 0x81-0xfb are size prefixes of 1 to 5 bytes giving the
atom's length. Only the end of a program is needed to decode it, so that is all this module finds.
"""

from __future__ import annotations

from typing import Any

from trionode.wire.errors import DecodeError

_CONS = 0xFF


def _atom_length(buf: bytes, pos: int, end: int) -> tuple[int, int]:
    """For the size prefix at ``pos``, return (atom length, position of the atom's first byte)."""
    b = buf[pos]
    if b < 0xC0:  # 10xxxxxx: 6-bit length
        return b & 0x3F, pos + 1
    if b < 0xE0:  # 110xxxxx + 1 byte
        width, first = 2, b & 0x1F
    elif b < 0xF0:  # 1110xxxx + 2 bytes
        width, first = 3, b & 0x0F
    elif b < 0xF8:  # 11110xxx + 3 bytes
        width, first = 4, b & 0x07
    elif b < 0xFC:  # 111110xx + 4 bytes
        width, first = 5, b & 0x03
    else:
        raise DecodeError(f"invalid CLVM atom prefix 0x{b:02x} at offset {pos}")
    if pos + width > end:
        raise DecodeError(f"CLVM size prefix at offset {pos} runs past the end of the input")
    length = first
    for i in range(1, width):
        length = (length << 8) | buf[pos + i]
    return length, pos + width


def program_end(buf: bytes, pos: int, end: int | None = None) -> int:
    """Return the offset just past the program that starts at ``pos``.

    Iterative (a counter of programs still to read), so hostile nesting cannot exhaust the stack.
    """
    if end is None:
        end = len(buf)
    pending = 1
    while pending:
        if pos >= end:
            raise DecodeError("CLVM program runs past the end of the input")
        b = buf[pos]
        if b == _CONS:
            pending += 1
            pos += 1
            continue
        pending -= 1
        if b <= 0x80:  # one-byte atom, or nil
            pos += 1
            continue
        length, pos = _atom_length(buf, pos, end)
        if pos + length > end:
            raise DecodeError(f"CLVM atom of {length} bytes at offset {pos} runs past the end")
        pos += length
    return pos


class Program:
    """A CLVM program; equality and hashing are by serialization."""

    __slots__ = ("_raw",)

    def __init__(self, serialized: bytes | bytearray | memoryview) -> None:
        if not isinstance(serialized, (bytes, bytearray, memoryview)):
            raise TypeError(f"Program needs bytes, got {type(serialized).__name__}")
        raw = bytes(serialized)
        try:
            end = program_end(raw, 0)
        except DecodeError as exc:
            raise ValueError(f"invalid Program: {exc}") from None
        if end != len(raw):
            raise ValueError(f"invalid Program: {len(raw) - end} trailing bytes")
        self._raw = raw

    @classmethod
    def from_bytes(cls, data: Any) -> Program:
        """Decode exactly one serialized program; bad or trailing bytes raise :class:`DecodeError`."""
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise DecodeError(f"needs bytes, got {type(data).__name__}", "Program")
            data = bytes(data)
        try:
            end = program_end(data, 0)
        except DecodeError as exc:
            raise exc.prefixed("Program") from None
        if end != len(data):
            raise DecodeError(f"{len(data) - end} trailing bytes after offset {end}", "Program")
        obj = object.__new__(cls)
        obj._raw = bytes(data)
        return obj

    @classmethod
    def nil(cls) -> Program:
        return cls(b"\x80")

    @classmethod
    def from_atom(cls, atom: bytes) -> Program:
        """Serialize a single atom (handy for tests and simple puzzles)."""
        n = len(atom)
        if n == 0:
            return cls(b"\x80")
        if n == 1 and atom[0] < 0x80:
            return cls(atom)
        if n < 0x40:
            prefix = bytes([0x80 | n])
        elif n < 0x2000:
            prefix = bytes([0xC0 | (n >> 8), n & 0xFF])
        elif n < 0x100000:
            prefix = bytes([0xE0 | (n >> 16), (n >> 8) & 0xFF, n & 0xFF])
        elif n < 0x8000000:
            prefix = bytes([0xF0 | (n >> 24), (n >> 16) & 0xFF, (n >> 8) & 0xFF, n & 0xFF])
        else:
            prefix = bytes([0xF8 | (n >> 32)]) + (n & 0xFFFFFFFF).to_bytes(4, "big")
        return cls(prefix + atom)

    @classmethod
    def cons(cls, first: Program, rest: Program) -> Program:
        return cls(b"\xff" + first._raw + rest._raw)

    def __bytes__(self) -> bytes:
        return self._raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Program) and self._raw == other._raw

    def __hash__(self) -> int:
        return hash(self._raw)

    def __repr__(self) -> str:
        return f"Program({self._raw.hex()})"
