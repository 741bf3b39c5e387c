"""Kinds of single values: integers, sized bytes, bytes, str, bool, BLS points, programs.

Decoders have the shape ``dec(buf, pos) -> (value, new_pos)``, check every length against what is
left of ``buf`` before slicing or allocating, and raise only :class:`DecodeError`.
"""

from __future__ import annotations

from typing import Any

from trionode.wire.bls import BLSElement, encoding_error
from trionode.wire.errors import DecodeError
from trionode.wire.ints import STRUCT_FORMATS, StructInt, uint32
from trionode.wire.kind import FromJson, Kind, need
from trionode.wire.kind import hex_json as _hex
from trionode.wire.kind import unhex_json as _unhex
from trionode.wire.program import Program, program_end
from trionode.wire.sized_bytes import SizedBytes

_UINT32 = STRUCT_FORMATS[uint32]


def _json_int(tp: type[StructInt]) -> FromJson:
    def from_json(value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise DecodeError(f"{tp.__name__} must be a JSON integer, got {type(value).__name__}")
        try:
            return tp(value)
        except ValueError as exc:
            raise DecodeError(str(exc)) from None

    return from_json


def int_kind(tp: type[StructInt]) -> Kind:
    size = tp.SIZE
    name = tp.__name__
    make = int.__new__
    fmt = STRUCT_FORMATS.get(tp)

    def check(v: Any) -> Any:
        return v if type(v) is tp else tp(v)

    if fmt is not None:
        pack, unpack_from = fmt.pack, fmt.unpack_from

        def encode(v: Any, out: bytearray) -> None:
            out += pack(v)

        def decode(buf: bytes, pos: int) -> tuple[Any, int]:
            if pos + size > len(buf):
                need(buf, pos, size, name)
            return make(tp, unpack_from(buf, pos)[0]), pos + size

    else:
        signed = tp.SIGNED

        def encode(v: Any, out: bytearray) -> None:
            out += int.to_bytes(v, size, "big", signed=signed)

        def decode(buf: bytes, pos: int) -> tuple[Any, int]:
            if pos + size > len(buf):
                need(buf, pos, size, name)
            return make(tp, int.from_bytes(buf[pos : pos + size], "big", signed=signed)), pos + size

    fuse = fmt.format[1:] if fmt is not None else None  # struct code without the byte order
    return Kind(name, check, encode, decode, size, int, _json_int(tp), tp=tp, fuse=fuse)


def sized_bytes_kind(tp: type[SizedBytes]) -> Kind:
    size = tp.SIZE
    name = tp.__name__
    make = bytes.__new__

    def check(v: Any) -> Any:
        return v if type(v) is tp else tp(v)

    def encode(v: Any, out: bytearray) -> None:
        out += v

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        end = pos + size
        if end > len(buf):
            need(buf, pos, size, name)
        return make(tp, buf[pos:end]), end

    def from_json(value: Any) -> Any:
        raw = _unhex(value, name)
        if len(raw) != size:
            raise DecodeError(f"{name} needs {size} bytes, got {len(raw)}")
        return make(tp, raw)

    return Kind(name, check, encode, decode, size, _hex, from_json, tp=tp, fuse=f"{size}s")


def bytes_kind() -> Kind:
    pack, unpack_from = _UINT32.pack, _UINT32.unpack_from

    def check(v: Any) -> Any:
        if type(v) is bytes:
            return v
        if isinstance(v, (bytes, bytearray, memoryview)):
            return bytes(v)
        raise TypeError(f"bytes needed, got {type(v).__name__}")

    def encode(v: Any, out: bytearray) -> None:
        if len(v) > 0xFFFFFFFF:
            raise ValueError("bytes longer than 2**32-1 cannot be encoded")
        out += pack(len(v))
        out += v

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos + 4 > len(buf):
            need(buf, pos, 4, "bytes length")
        (n,) = unpack_from(buf, pos)
        pos += 4
        end = pos + n
        if end > len(buf):
            raise DecodeError(f"bytes of length {n} at offset {pos}, only {len(buf) - pos} remain")
        return buf[pos:end], end

    def from_json(value: Any) -> Any:
        return _unhex(value, "bytes")

    return Kind("bytes", check, encode, decode, 4, _hex, from_json)


def str_kind() -> Kind:
    pack, unpack_from = _UINT32.pack, _UINT32.unpack_from

    def check(v: Any) -> Any:
        if not isinstance(v, str):
            raise TypeError(f"str needed, got {type(v).__name__}")
        return str(v)

    def encode(v: Any, out: bytearray) -> None:
        raw = v.encode("utf-8")
        out += pack(len(raw))
        out += raw

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos + 4 > len(buf):
            need(buf, pos, 4, "str length")
        (n,) = unpack_from(buf, pos)
        pos += 4
        end = pos + n
        if end > len(buf):
            raise DecodeError(f"str of length {n} at offset {pos}, only {len(buf) - pos} remain")
        try:
            return buf[pos:end].decode("utf-8"), end
        except UnicodeDecodeError as exc:
            raise DecodeError(
                f"str is not valid UTF-8 ({exc.reason} at byte {exc.start})"
            ) from None

    def from_json(value: Any) -> Any:
        if not isinstance(value, str):
            raise DecodeError(f"str needed, got {type(value).__name__}")
        return value

    return Kind("str", check, encode, decode, 4, str, from_json)


def bool_kind() -> Kind:
    def check(v: Any) -> Any:
        if not isinstance(v, bool):
            raise TypeError(f"bool needed, got {type(v).__name__}")
        return v

    def encode(v: Any, out: bytearray) -> None:
        out.append(1 if v else 0)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos >= len(buf):
            need(buf, pos, 1, "bool")
        b = buf[pos]
        if b > 1:
            raise DecodeError(f"bool byte must be 0x00 or 0x01, got 0x{b:02x} at offset {pos}")
        return b == 1, pos + 1

    def from_json(value: Any) -> Any:
        if not isinstance(value, bool):
            raise DecodeError(f"bool needed, got {type(value).__name__}")
        return value

    return Kind("bool", check, encode, decode, 1, bool, from_json)


def bls_kind(tp: type[BLSElement]) -> Kind:
    """Decoding checks the encoding only and keeps the bytes (``BLSElement.lazy``); the curve
    and subgroup check is the point walkers' (``force``) or the first ``.point``'s."""
    size = tp.SIZE
    name = tp.__name__
    lazy = tp.lazy

    def check(v: Any) -> Any:
        return v if type(v) is tp else tp(v)

    def encode(v: Any, out: bytearray) -> None:
        out += v._raw

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        end = pos + size
        if end > len(buf):
            need(buf, pos, size, name)
        raw = buf[pos:end]
        bad = encoding_error(raw, size)
        if bad is not None:
            raise DecodeError(f"invalid {name} at offset {pos}: {bad}")
        return lazy(raw), end

    def from_json(value: Any) -> Any:
        raw = _unhex(value, name)
        try:
            return tp(raw)
        except ValueError as exc:
            raise DecodeError(str(exc)) from None

    def force(v: Any) -> None:
        if v._point is None:
            v.point  # noqa: B018 - checks the point (raises DecodeError) and keeps it

    return Kind(
        name,
        check,
        encode,
        decode,
        size,
        lambda v: _hex(v._raw),
        from_json,
        tp=tp,
        fuse=f"{size}s",
        points=force,
    )


def program_kind() -> Kind:
    def check(v: Any) -> Any:
        if not isinstance(v, Program):
            raise TypeError(f"Program needed, got {type(v).__name__}")
        return v

    def encode(v: Any, out: bytearray) -> None:
        out += v._raw

    new = object.__new__

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        end = program_end(buf, pos)
        obj = new(Program)
        obj._raw = buf[pos:end]
        return obj, end

    def from_json(value: Any) -> Any:
        try:
            return Program(_unhex(value, "Program"))
        except ValueError as exc:
            raise DecodeError(str(exc)) from None

    return Kind("Program", check, encode, decode, 1, lambda v: _hex(v._raw), from_json)
