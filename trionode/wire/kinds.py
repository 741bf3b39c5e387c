"""Kinds of containers (List, Optional, Tuple) and records, the BLS point walkers, and
:func:`kind_of`, which builds (once) and caches the kind of any field type.

A point walker forces every BLS point in a value (``.point``) and raises DecodeError naming the
field path of the first invalid one. ``points_decode`` walks what ``from_bytes`` checks (nothing
inside a record that sets ``POINTS_CHECKED_BY_VALIDATION``), ``points_all`` every point.
"""

from __future__ import annotations

import struct
import types
import typing
from collections.abc import Callable
from functools import partial
from itertools import starmap
from typing import Any

from trionode.wire.bls import BLSElement
from trionode.wire.errors import DecodeError
from trionode.wire.frozen_list import FrozenList
from trionode.wire.ints import STRUCT_FORMATS, StructInt, uint32
from trionode.wire.kind import EMPTY_LIST, Decoder, Encoder, FromJson, Kind, PointWalker, need
from trionode.wire.program import Program
from trionode.wire.scalars import (
    bls_kind,
    bool_kind,
    bytes_kind,
    int_kind,
    program_kind,
    sized_bytes_kind,
    str_kind,
)
from trionode.wire.sized_bytes import SizedBytes

_UINT32 = STRUCT_FORMATS[uint32]
_KIND_CACHE: dict[Any, Kind] = {}


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


def _list_kind(item: Kind) -> Kind:
    if item.min_size == 0:
        # A list of zero-byte items could claim 2**32-1 of them in 4 bytes; refuse to define one.
        raise TypeError(f"List[{item.name}]: items of zero encoded size are not allowed")
    pack, unpack_from = _UINT32.pack, _UINT32.unpack_from
    icheck, ienc, idec, imin = item.check, item.encode, item.decode, item.min_size
    name = f"List[{item.name}]"
    frozen = FrozenList
    rows_to_items, iter_unpack = _fixed_items(item)

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
        if rows_to_items is not None:  # fixed-size items: the check above bounds them all
            end = pos + n * imin
            return frozen(rows_to_items(iter_unpack(buf[pos:end]))), end
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


def _fixed_items(item: Kind) -> tuple[Callable[[Any], Any] | None, Any]:
    """For a list of fixed-size items without points (hashes, integers, coins): a function
    turning ``struct.iter_unpack`` rows into the items, and that iter_unpack; else (None, None).
    One struct pass and no per-item decoder call."""
    if item.fuse is None or item.points_decode is not None or item.points_all is not None:
        return None, None
    layout = struct.Struct(">" + item.fuse)
    tp, build = item.tp, item.build
    if build is not None:
        return partial(starmap, build), layout.iter_unpack
    make: Any = bytes.__new__ if item.fuse.endswith("s") else int.__new__
    return (lambda rows: [make(tp, r) for (r,) in rows]), layout.iter_unpack


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
    fixed: tuple[str, Callable[..., Any], list[tuple[str, int, str]]] | None = None,
) -> Kind:
    """The kind of a Streamable class (made by ``@streamable`` and cached here); ``fixed`` is
    (struct codes, builder, leaves) for a record of fixed-size fields only (``Kind.fuse``)."""
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
        fuse=None if fixed is None else fixed[0],
        build=None if fixed is None else fixed[1],
        leaves=None if fixed is None else fixed[2],
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
            return bool_kind()
        if issubclass(tp, StructInt) and tp.BITS:
            return int_kind(tp)
        if issubclass(tp, SizedBytes) and tp.SIZE:
            return sized_bytes_kind(tp)
        if tp is bytes:
            return bytes_kind()
        if tp is str:
            return str_kind()
        if issubclass(tp, BLSElement) and tp.SIZE:
            return bls_kind(tp)
        if issubclass(tp, Program):
            return program_kind()
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
