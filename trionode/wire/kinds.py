"""What ``@streamable`` compiles for each field type: a :class:`Kind` per type.

A kind holds the construction check, encoder, decoder and JSON converters of one type, plus
what the class compiler needs to decode fixed-size fields together (``fuse``) and the walkers
that check BLS points (``points_decode``, ``points_all``; see ``trionode.wire.bls``). Kinds are
built once per type and cached; nothing here runs per value except the closures themselves.

Decoders have the shape ``dec(buf, pos) -> (value, new_pos)``, check every length against what is
left of ``buf`` before slicing or allocating, and raise only :class:`DecodeError`.
"""

from __future__ import annotations

import types
import typing
from collections.abc import Callable
from typing import Any

from trionode.wire.bls import BLSElement, encoding_error
from trionode.wire.errors import DecodeError
from trionode.wire.frozen_list import FrozenList
from trionode.wire.ints import STRUCT_FORMATS, StructInt, uint32
from trionode.wire.program import Program, program_end
from trionode.wire.sized_bytes import SizedBytes

Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[bytes, int], tuple[Any, int]]
Checker = Callable[[Any], Any]
ToJson = Callable[[Any], Any]
FromJson = Callable[[Any], Any]
#: Forces every BLS point in a value (``.point``); raises DecodeError naming the field path.
PointWalker = Callable[[Any], None]

_UINT32 = STRUCT_FORMATS[uint32]


class Kind:
    """Everything compiled for one field type.

    ``fuse`` is the struct code of a fixed-size field the class compiler may decode together
    with its neighbours (``"Q"``, ``"32s"``), with ``tp`` the type it wraps the raw value in;
    None for anything else. ``points_decode`` checks the points ``from_bytes`` must check (None
    when there are none); ``points_all`` checks every point (consensus validation)."""

    __slots__ = (
        "check",
        "decode",
        "encode",
        "from_json",
        "fuse",
        "min_size",
        "name",
        "points_all",
        "points_decode",
        "to_json",
        "tp",
    )

    def __init__(
        self,
        name: str,
        check: Checker,
        encode: Encoder,
        decode: Decoder,
        min_size: int,
        to_json: ToJson,
        from_json: FromJson,
        *,
        tp: Any = None,
        fuse: str | None = None,
        points: PointWalker | None = None,
        points_all: PointWalker | None = None,
    ) -> None:
        self.name = name
        self.check = check
        self.encode = encode
        self.decode = decode
        self.min_size = min_size
        self.to_json = to_json
        self.from_json = from_json
        self.tp = tp
        self.fuse = fuse
        self.points_decode = points
        self.points_all = points if points_all is None else points_all


_KIND_CACHE: dict[Any, Kind] = {}
EMPTY_LIST: FrozenList[Any] = FrozenList()


def need(buf: bytes, pos: int, n: int, what: str) -> None:
    """Raise the error for ``what`` needing ``n`` bytes at ``pos`` where fewer remain."""
    if pos + n > len(buf):
        raise DecodeError(f"{what} needs {n} bytes at offset {pos}, only {len(buf) - pos} remain")


def _hex(b: bytes) -> str:
    return "0x" + b.hex()


def _unhex(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise DecodeError(f"{what} must be a hex string, got {type(value).__name__}")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise DecodeError(f"{what} is not valid hex") from None


def _origin_args(tp: Any) -> tuple[Any, tuple[Any, ...]]:
    origin = typing.get_origin(tp)
    args = typing.get_args(tp)
    if origin is types.UnionType:
        origin = typing.Union
    return origin, args


def _optional_inner(tp: Any) -> Any | None:
    origin, args = _origin_args(tp)
    if origin is typing.Union and len(args) == 2 and type(None) in args:
        return args[0] if args[1] is type(None) else args[1]
    return None


def _json_int(tp: type[StructInt]) -> FromJson:
    def from_json(value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise DecodeError(f"{tp.__name__} must be a JSON integer, got {type(value).__name__}")
        try:
            return tp(value)
        except ValueError as exc:
            raise DecodeError(str(exc)) from None

    return from_json


def _int_kind(tp: type[StructInt]) -> Kind:
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


def _sized_bytes_kind(tp: type[SizedBytes]) -> Kind:
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


def _bytes_kind() -> Kind:
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


def _str_kind() -> Kind:
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


def _bool_kind() -> Kind:
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


def _bls_kind(tp: type[BLSElement]) -> Kind:
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


def _program_kind() -> Kind:
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


def _list_kind(item: Kind) -> Kind:
    if item.min_size == 0:
        # A list of zero-byte items could claim 2**32-1 of them in 4 bytes; refuse to define one.
        raise TypeError(f"List[{item.name}]: items of zero encoded size are not allowed")
    pack, unpack_from = _UINT32.pack, _UINT32.unpack_from
    icheck, ienc, idec, imin = item.check, item.encode, item.decode, item.min_size
    name = f"List[{item.name}]"
    frozen = FrozenList

    def check(v: Any) -> Any:
        if not isinstance(v, (list, tuple)):
            raise TypeError(f"{name} needs a list or tuple, got {type(v).__name__}")
        out = []
        for i, x in enumerate(v):
            try:
                out.append(icheck(x))
            except (TypeError, ValueError) as exc:
                raise type(exc)(f"[{i}]: {exc}") from None
        return FrozenList(out)

    def encode(v: Any, out: bytearray) -> None:
        out += pack(len(v))
        for x in v:
            ienc(x, out)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos + 4 > len(buf):
            need(buf, pos, 4, "list length")
        (n,) = unpack_from(buf, pos)
        pos += 4
        remaining = len(buf) - pos
        if n * imin > remaining:
            raise DecodeError(
                f"list claims {n} items of at least {imin} bytes, only {remaining} bytes remain"
            )
        if not n:
            return EMPTY_LIST, pos
        items: list[Any] = []
        append = items.append
        i = 0
        try:
            for i in range(n):  # noqa: B007 - i names the failing item
                x, pos = idec(buf, pos)
                append(x)
        except DecodeError as exc:
            raise exc.prefixed(f"[{i}]") from None
        return frozen(items), pos

    def to_json(v: Any) -> Any:
        return [item.to_json(x) for x in v]

    def from_json(value: Any) -> Any:
        if not isinstance(value, list):
            raise DecodeError(f"{name} needs a JSON list, got {type(value).__name__}")
        out = []
        for i, x in enumerate(value):
            try:
                out.append(item.from_json(x))
            except DecodeError as exc:
                raise exc.prefixed(f"[{i}]") from None
        return FrozenList(out)

    return Kind(
        name,
        check,
        encode,
        decode,
        4,
        to_json,
        from_json,
        points=_each(item.points_decode),
        points_all=_each(item.points_all),
    )


def _each(walk: PointWalker | None) -> PointWalker | None:
    if walk is None:
        return None

    def each(v: Any) -> None:
        i = 0
        try:
            for i, x in enumerate(v):  # noqa: B007 - i names the failing item
                walk(x)
        except DecodeError as exc:
            raise exc.prefixed(f"[{i}]") from None

    return each


def _unless_none(walk: PointWalker | None) -> PointWalker | None:
    if walk is None:
        return None

    def unless_none(v: Any) -> None:
        if v is not None:
            walk(v)

    return unless_none


def _optional_kind(item: Kind) -> Kind:
    icheck, ienc, idec = item.check, item.encode, item.decode
    name = f"Optional[{item.name}]"

    def check(v: Any) -> Any:
        return None if v is None else icheck(v)

    def encode(v: Any, out: bytearray) -> None:
        if v is None:
            out.append(0)
        else:
            out.append(1)
            ienc(v, out)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos >= len(buf):
            need(buf, pos, 1, "Optional flag")
        flag = buf[pos]
        if flag == 0:
            return None, pos + 1
        if flag != 1:
            raise DecodeError(
                f"Optional flag must be 0x00 or 0x01, got 0x{flag:02x} at offset {pos}"
            )
        return idec(buf, pos + 1)

    def to_json(v: Any) -> Any:
        return None if v is None else item.to_json(v)

    def from_json(value: Any) -> Any:
        return None if value is None else item.from_json(value)

    return Kind(
        name,
        check,
        encode,
        decode,
        1,
        to_json,
        from_json,
        points=_unless_none(item.points_decode),
        points_all=_unless_none(item.points_all),
    )


def _tuple_kind(items: list[Kind]) -> Kind:
    name = "Tuple[" + ", ".join(k.name for k in items) + "]"
    n = len(items)

    def check(v: Any) -> Any:
        if not isinstance(v, (list, tuple)) or len(v) != n:
            raise TypeError(f"{name} needs a tuple of {n} items")
        return tuple(k.check(x) for k, x in zip(items, v, strict=True))

    def encode(v: Any, out: bytearray) -> None:
        for k, x in zip(items, v, strict=True):
            k.encode(x, out)

    decoders = [k.decode for k in items]

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        vals = []
        for i, dec in enumerate(decoders):
            try:
                x, pos = dec(buf, pos)
            except DecodeError as exc:
                raise exc.prefixed(f"[{i}]") from None
            vals.append(x)
        return tuple(vals), pos

    def to_json(v: Any) -> Any:
        return [k.to_json(x) for k, x in zip(items, v, strict=True)]

    def from_json(value: Any) -> Any:
        if not isinstance(value, list) or len(value) != n:
            raise DecodeError(f"{name} needs a JSON list of {n} items")
        return tuple(k.from_json(x) for k, x in zip(items, value, strict=True))

    return Kind(
        name,
        check,
        encode,
        decode,
        sum(k.min_size for k in items),
        to_json,
        from_json,
        points=_fields([(f"[{i}]", k.points_decode) for i, k in enumerate(items)], _item),
        points_all=_fields([(f"[{i}]", k.points_all) for i, k in enumerate(items)], _item),
    )


def _item(v: Any, label: str) -> Any:
    return v[int(label[1:-1])]


def _fields(
    walks: list[tuple[str, PointWalker | None]], get: Callable[[Any, str], Any]
) -> PointWalker | None:
    """A walker over the parts (``label`` -> value via ``get``) that hold points, or None."""
    parts = [(label, walk) for label, walk in walks if walk is not None]
    if not parts:
        return None

    def fields(v: Any) -> None:
        for label, walk in parts:
            try:
                walk(get(v, label))
            except DecodeError as exc:
                raise exc.prefixed(label) from None

    return fields


def record_walkers(
    names: list[str], kinds: list[Kind], checked_by_validation: bool
) -> tuple[PointWalker | None, PointWalker | None]:
    """The point walkers of a Streamable class with these fields: (what ``from_bytes`` checks,
    every point). A class whose points are checked by consensus validation checks none at
    decode, and neither does any record holding it."""
    labelled = ["." + n for n in names]
    walk_all = _fields([(lb, k.points_all) for lb, k in zip(labelled, kinds, strict=True)], _attr)
    if checked_by_validation:
        return None, walk_all
    walk_decode = _fields(
        [(lb, k.points_decode) for lb, k in zip(labelled, kinds, strict=True)], _attr
    )
    return walk_decode, walk_all


def _attr(v: Any, label: str) -> Any:
    return getattr(v, label[1:])


def record_kind(
    tp: type,
    encode: Encoder,
    decode: Decoder,
    min_size: int,
    from_json: FromJson,
    walkers: tuple[PointWalker | None, PointWalker | None],
) -> Kind:
    """The kind of a Streamable class (made by ``@streamable`` and cached here)."""
    name = tp.__name__

    def check(v: Any) -> Any:
        if not isinstance(v, tp):
            raise TypeError(f"{name} needed, got {type(v).__name__}")
        return v

    kind = Kind(
        name,
        check,
        encode,
        decode,
        min_size,
        lambda v: v.to_json_dict(),
        from_json,
        tp=tp,
        points=walkers[0],
        points_all=walkers[1],
    )
    _KIND_CACHE[tp] = kind
    return kind


def kind_of(tp: Any) -> Kind:
    """Compile (once) everything needed to check, encode and decode values of type ``tp``."""
    try:
        return _KIND_CACHE[tp]
    except (KeyError, TypeError):
        pass
    kind = _build_kind(tp)
    try:
        _KIND_CACHE[tp] = kind
    except TypeError:  # pragma: no cover - unhashable annotation
        pass
    return kind


def _build_kind(tp: Any) -> Kind:
    if isinstance(tp, type):
        if issubclass(tp, bool):
            return _bool_kind()
        if issubclass(tp, StructInt) and tp.BITS:
            return _int_kind(tp)
        if issubclass(tp, SizedBytes) and tp.SIZE:
            return _sized_bytes_kind(tp)
        if tp is bytes:
            return _bytes_kind()
        if tp is str:
            return _str_kind()
        if issubclass(tp, BLSElement) and tp.SIZE:
            return _bls_kind(tp)
        if issubclass(tp, Program):
            return _program_kind()
        if hasattr(tp, "__streamable_fields__"):
            # A decorated class put its kind in the cache (record_kind) before anyone could ask.
            raise TypeError(f"{tp.__name__} is not decorated with @streamable")
    inner = _optional_inner(tp)
    if inner is not None:
        return _optional_kind(kind_of(inner))
    origin, args = _origin_args(tp)
    if origin is list and len(args) == 1:
        return _list_kind(kind_of(args[0]))
    if origin is tuple and args and args[-1] is not Ellipsis:
        return _tuple_kind([kind_of(a) for a in args])
    raise TypeError(f"type {tp!r} cannot be used in a Streamable")
