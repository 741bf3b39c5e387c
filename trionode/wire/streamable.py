"""The Streamable format (seed 002): deterministic binary encoding of typed records.

``@streamable`` turns an annotated class into a frozen attrs class and compiles, once per class,
four functions per field type: a construction check, an encoder, a decoder and JSON converters.
Nothing introspects types on the hot path; decoders are straight-line code generated per class.

Decoders have the shape ``dec(buf, pos) -> (value, new_pos)``, check every length against what is
left of ``buf`` before slicing or allocating, and raise only :class:`DecodeError`.
"""

from __future__ import annotations

import hashlib
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

import attrs

from trionode.wire.bls import BLSElement
from trionode.wire.errors import DecodeError
from trionode.wire.frozen_list import FrozenList
from trionode.wire.ints import STRUCT_FORMATS, StructInt
from trionode.wire.program import Program, program_end
from trionode.wire.sized_bytes import SizedBytes

T = TypeVar("T", bound="Streamable")

Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[bytes, int], tuple[Any, int]]
Checker = Callable[[Any], Any]
ToJson = Callable[[Any], Any]
FromJson = Callable[[Any], Any]

_UINT32 = STRUCT_FORMATS[next(t for t in STRUCT_FORMATS if t.__name__ == "uint32")]


class Streamable:
    """Base of every wire record. Subclasses are made with :func:`streamable`."""

    __slots__ = ()

    # Filled in by @streamable.
    __streamable_fields__: ClassVar[tuple[tuple[str, Any], ...]] = ()
    _stream_into: ClassVar[Callable[[Any, bytearray], None]]
    _parse: ClassVar[Decoder]
    _min_size: ClassVar[int]

    def __bytes__(self) -> bytes:
        out = bytearray()
        type(self)._stream_into(self, out)
        return bytes(out)

    @classmethod
    def from_bytes(cls: type[T], data: bytes | bytearray | memoryview) -> T:
        """Decode exactly one ``cls`` from ``data``; trailing bytes are an error."""
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise DecodeError(f"need bytes, got {type(data).__name__}", cls.__name__)
            data = bytes(data)
        try:
            obj, pos = cls._parse(data, 0)
        except DecodeError as exc:
            raise exc.prefixed(cls.__name__) from None
        except RecursionError:  # pragma: no cover - types are finite; kept as a last guard
            raise DecodeError("nesting too deep", cls.__name__) from None
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after offset {pos}", cls.__name__)
        return obj  # type: ignore[no-any-return]

    @classmethod
    def parse(cls: type[T], data: bytes, pos: int = 0) -> tuple[T, int]:
        """Decode one ``cls`` at ``pos`` and return it with the offset just past it."""
        try:
            return cls._parse(data, pos)  # type: ignore[return-value]
        except DecodeError as exc:
            raise exc.prefixed(cls.__name__) from None

    def get_hash(self) -> Any:
        """sha256 of the serialization, as a ``bytes32``."""
        from trionode.wire.sized_bytes import bytes32

        return bytes32(hashlib.sha256(bytes(self)).digest())

    def to_json_dict(self) -> dict[str, Any]:
        return {name: conv(getattr(self, name)) for name, conv in self._to_json_fields}  # type: ignore[attr-defined]

    @classmethod
    def from_json_dict(cls: type[T], data: Any) -> T:
        """Build from the JSON form; a missing, extra or ill-typed field raises DecodeError."""
        try:
            return cls._from_json(data)  # type: ignore[attr-defined, no-any-return]
        except DecodeError as exc:
            raise exc.prefixed(cls.__name__) from None

    def replace(self: T, **changes: Any) -> T:
        """A copy with some fields changed (checked like a construction)."""
        return attrs.evolve(self, **changes)  # type: ignore[misc]


# --------------------------------------------------------------------------- type compilation


def _is_streamable(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, Streamable)


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


class _Kind:
    """Everything compiled for one field type."""

    __slots__ = ("check", "decode", "encode", "from_json", "min_size", "name", "to_json")

    def __init__(
        self,
        name: str,
        check: Checker,
        encode: Encoder,
        decode: Decoder,
        min_size: int,
        to_json: ToJson,
        from_json: FromJson,
    ) -> None:
        self.name = name
        self.check = check
        self.encode = encode
        self.decode = decode
        self.min_size = min_size
        self.to_json = to_json
        self.from_json = from_json


_KIND_CACHE: dict[Any, _Kind] = {}
_EMPTY_LIST: FrozenList[Any] = FrozenList()


def _need(buf: bytes, pos: int, n: int, what: str) -> None:
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


def _json_int(tp: type[StructInt]) -> FromJson:
    def from_json(value: Any) -> Any:
        if not isinstance(value, int) or isinstance(value, bool):
            raise DecodeError(f"{tp.__name__} must be a JSON integer, got {type(value).__name__}")
        try:
            return tp(value)
        except ValueError as exc:
            raise DecodeError(str(exc)) from None

    return from_json


def _int_kind(tp: type[StructInt]) -> _Kind:
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
                _need(buf, pos, size, name)
            return make(tp, unpack_from(buf, pos)[0]), pos + size

    else:
        signed = tp.SIGNED

        def encode(v: Any, out: bytearray) -> None:
            out += int.to_bytes(v, size, "big", signed=signed)

        def decode(buf: bytes, pos: int) -> tuple[Any, int]:
            if pos + size > len(buf):
                _need(buf, pos, size, name)
            return make(tp, int.from_bytes(buf[pos : pos + size], "big", signed=signed)), pos + size

    return _Kind(name, check, encode, decode, size, int, _json_int(tp))


def _sized_bytes_kind(tp: type[SizedBytes]) -> _Kind:
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
            _need(buf, pos, size, name)
        return make(tp, buf[pos:end]), end

    def from_json(value: Any) -> Any:
        raw = _unhex(value, name)
        if len(raw) != size:
            raise DecodeError(f"{name} needs {size} bytes, got {len(raw)}")
        return make(tp, raw)

    return _Kind(name, check, encode, decode, size, _hex, from_json)


def _bytes_kind() -> _Kind:
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
            _need(buf, pos, 4, "bytes length")
        (n,) = unpack_from(buf, pos)
        pos += 4
        end = pos + n
        if end > len(buf):
            raise DecodeError(f"bytes of length {n} at offset {pos}, only {len(buf) - pos} remain")
        return buf[pos:end], end

    def from_json(value: Any) -> Any:
        return _unhex(value, "bytes")

    return _Kind("bytes", check, encode, decode, 4, _hex, from_json)


def _str_kind() -> _Kind:
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
            _need(buf, pos, 4, "str length")
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

    return _Kind("str", check, encode, decode, 4, str, from_json)


def _bool_kind() -> _Kind:
    def check(v: Any) -> Any:
        if not isinstance(v, bool):
            raise TypeError(f"bool needed, got {type(v).__name__}")
        return v

    def encode(v: Any, out: bytearray) -> None:
        out.append(1 if v else 0)

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        if pos >= len(buf):
            _need(buf, pos, 1, "bool")
        b = buf[pos]
        if b > 1:
            raise DecodeError(f"bool byte must be 0x00 or 0x01, got 0x{b:02x} at offset {pos}")
        return b == 1, pos + 1

    def from_json(value: Any) -> Any:
        if not isinstance(value, bool):
            raise DecodeError(f"bool needed, got {type(value).__name__}")
        return value

    return _Kind("bool", check, encode, decode, 1, bool, from_json)


def _bls_kind(tp: type[BLSElement]) -> _Kind:
    size = tp.SIZE
    name = tp.__name__
    blspy_from_bytes = tp._BLSPY.from_bytes
    new = object.__new__

    def check(v: Any) -> Any:
        return v if type(v) is tp else tp(v)

    def encode(v: Any, out: bytearray) -> None:
        out += v._raw

    def decode(buf: bytes, pos: int) -> tuple[Any, int]:
        end = pos + size
        if end > len(buf):
            _need(buf, pos, size, name)
        raw = buf[pos:end]
        try:
            point = blspy_from_bytes(raw)
        except (ValueError, RuntimeError) as exc:
            raise DecodeError(f"invalid {name} at offset {pos}: {exc}") from None
        obj = new(tp)
        obj._raw = raw
        obj._point = point
        return obj, end

    def from_json(value: Any) -> Any:
        raw = _unhex(value, name)
        try:
            return tp(raw)
        except ValueError as exc:
            raise DecodeError(str(exc)) from None

    return _Kind(name, check, encode, decode, size, lambda v: _hex(v._raw), from_json)


def _program_kind() -> _Kind:
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

    return _Kind("Program", check, encode, decode, 1, lambda v: _hex(v._raw), from_json)


def _list_kind(item: _Kind) -> _Kind:
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
            _need(buf, pos, 4, "list length")
        (n,) = unpack_from(buf, pos)
        pos += 4
        remaining = len(buf) - pos
        if n * imin > remaining:
            raise DecodeError(
                f"list claims {n} items of at least {imin} bytes, only {remaining} bytes remain"
            )
        if not n:
            return _EMPTY_LIST, pos
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

    return _Kind(name, check, encode, decode, 4, to_json, from_json)


def _optional_kind(item: _Kind) -> _Kind:
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
            _need(buf, pos, 1, "Optional flag")
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

    return _Kind(name, check, encode, decode, 1, to_json, from_json)


def _tuple_kind(items: list[_Kind]) -> _Kind:
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

    return _Kind(name, check, encode, decode, sum(k.min_size for k in items), to_json, from_json)


def _streamable_kind(tp: type[Streamable]) -> _Kind:
    name = tp.__name__

    def check(v: Any) -> Any:
        if not isinstance(v, tp):
            raise TypeError(f"{name} needed, got {type(v).__name__}")
        return v

    def from_json(value: Any) -> Any:
        return tp._from_json(value)  # type: ignore[attr-defined]

    return _Kind(
        name,
        check,
        tp._stream_into,
        tp._parse,
        tp._min_size,
        lambda v: v.to_json_dict(),
        from_json,
    )


def kind_of(tp: Any) -> _Kind:
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


def _build_kind(tp: Any) -> _Kind:
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
        if _is_streamable(tp):
            if not hasattr(tp, "_parse"):
                raise TypeError(f"{tp.__name__} is not decorated with @streamable")
            return _streamable_kind(tp)  # type: ignore[arg-type]
    inner = _optional_inner(tp)
    if inner is not None:
        return _optional_kind(kind_of(inner))
    origin, args = _origin_args(tp)
    if origin is list and len(args) == 1:
        return _list_kind(kind_of(args[0]))
    if origin is tuple and args and args[-1] is not Ellipsis:
        return _tuple_kind([kind_of(a) for a in args])
    raise TypeError(f"type {tp!r} cannot be used in a Streamable")


# --------------------------------------------------------------------------- the decorator


def _make_converter(cls_name: str, field: str, check: Checker) -> Checker:
    def convert(value: Any) -> Any:
        try:
            return check(value)
        except (TypeError, ValueError) as exc:
            raise type(exc)(f"{cls_name}.{field}: {exc}") from None

    return convert


@dataclass_transform(frozen_default=True)
def streamable(cls: type[T]) -> type[T]:
    """Make ``cls`` a frozen, field-checked attrs class with a compiled Streamable codec.

    Fields are the class's own annotations, in order. Lists are stored as :class:`FrozenList`
    (a tuple that also equals a list with the same items) so records stay immutable and hashable.
    """
    if not issubclass(cls, Streamable):
        raise TypeError(f"{cls.__name__} must subclass Streamable")
    hints = typing.get_type_hints(cls)
    own = [n for n in cls.__dict__.get("__annotations__", {}) if not _is_classvar(hints[n])]
    kinds = {name: kind_of(hints[name]) for name in own}

    def transform(_cls: type, fields: list[attrs.Attribute]) -> list[attrs.Attribute]:
        return [
            f.evolve(converter=_make_converter(cls.__name__, f.name, kinds[f.name].check))
            for f in fields
        ]

    new_cls = attrs.frozen(cls, field_transformer=transform)  # type: ignore[call-overload]
    new_cls.__streamable_fields__ = tuple((name, hints[name]) for name in own)
    new_cls._min_size = sum(k.min_size for k in kinds.values())
    _compile_codec(new_cls, own, kinds)
    return new_cls  # type: ignore[no-any-return]


def _is_classvar(tp: Any) -> bool:
    return tp is ClassVar or typing.get_origin(tp) is ClassVar


def _compile_codec(cls: Any, names: list[str], kinds: dict[str, _Kind]) -> None:
    env: dict[str, Any] = {
        "DecodeError": DecodeError,
        "cls": cls,
        "new": object.__new__,
        "setattr_": object.__setattr__,
        "NAMES": names,
    }
    enc_lines = ["def _stream_into(self, out):"]
    dec_lines = ["def _parse(buf, pos):", "    f = 0", "    try:"]
    build_lines = ["    obj = new(cls)"]
    for i, name in enumerate(names):
        env[f"enc{i}"] = kinds[name].encode
        env[f"dec{i}"] = kinds[name].decode
        enc_lines.append(f"    enc{i}(self.{name}, out)")
        dec_lines.append(f"        f = {i}")
        dec_lines.append(f"        v{i}, pos = dec{i}(buf, pos)")
        build_lines.append(f"    setattr_(obj, {name!r}, v{i})")
    if not names:
        enc_lines.append("    pass")
        dec_lines.append("        pass")
    dec_lines += [
        "    except DecodeError as exc:",
        "        raise exc.prefixed('.' + NAMES[f]) from None",
    ]
    dec_lines += build_lines + ["    return obj, pos"]
    source = "\n".join(enc_lines) + "\n\n" + "\n".join(dec_lines) + "\n"
    exec(compile(source, f"<streamable {cls.__qualname__}>", "exec"), env)
    cls._stream_into = staticmethod(env["_stream_into"])
    cls._parse = staticmethod(env["_parse"])

    to_json_fields = tuple((name, kinds[name].to_json) for name in names)
    cls._to_json_fields = to_json_fields
    field_set = frozenset(names)

    def _from_json(data: Any) -> Any:
        if not isinstance(data, dict):
            raise DecodeError(f"needs a JSON object, got {type(data).__name__}")
        extra = set(data) - field_set
        if extra:
            raise DecodeError(f"unknown fields {sorted(extra)}")
        values = {}
        for name in names:
            if name not in data:
                raise DecodeError("missing field", "." + name)
            try:
                values[name] = kinds[name].from_json(data[name])
            except DecodeError as exc:
                raise exc.prefixed("." + name) from None
        try:
            return cls(**values)
        except (TypeError, ValueError) as exc:
            raise DecodeError(str(exc)) from None

    cls._from_json = staticmethod(_from_json)
