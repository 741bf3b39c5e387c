"""The Streamable format (seed 002): deterministic binary encoding of typed records.

``@streamable`` turns an annotated class into a frozen attrs class and compiles, once per class,
straight-line Python for its encoder and decoder from the field kinds (``trionode.wire.kinds``).
Runs of fixed-size fields (integers, sized bytes, BLS points) are read with one ``struct`` call
and one bounds check; values are set through the slot descriptors. Nothing introspects types on
the hot path.

BLS points decode lazily (``trionode.wire.bls``). ``from_bytes`` then checks the points the
protocol wants checked at decode: all of them, except inside a class that sets
``POINTS_CHECKED_BY_VALIDATION`` (a block or header block, whose points consensus validation
checks first, with ``check_points``); docs/protocol.md, "Where an invalid point is rejected".
"""

from __future__ import annotations

import hashlib
import struct
import types
import typing
from collections.abc import Callable
from typing import Any, ClassVar, TypeVar, dataclass_transform

import attrs

from trionode.wire.bls import encoding_error
from trionode.wire.errors import DecodeError
from trionode.wire.kind import Checker, Decoder, Kind, PointWalker
from trionode.wire.kinds import kind_of, record_kind
from trionode.wire.kinds import record_walkers as _record_walkers

T = TypeVar("T", bound="Streamable")


class Streamable:
    """Base of every wire record. Subclasses are made with :func:`streamable`."""

    __slots__ = ()

    #: True on records whose points consensus validation checks (``check_points`` first):
    #: ``from_bytes`` leaves their points, and those of anything inside them, unchecked.
    POINTS_CHECKED_BY_VALIDATION: ClassVar[bool] = False

    # Filled in by @streamable.
    __streamable_fields__: ClassVar[tuple[tuple[str, Any], ...]] = ()
    _stream_into: ClassVar[Callable[[Any, bytearray], None]]
    _parse: ClassVar[Decoder]
    _min_size: ClassVar[int]
    _points_decode: ClassVar[PointWalker | None] = None
    _points_all: ClassVar[PointWalker | None] = None
    #: (struct codes, builder, leaves) of a record of fixed-size fields only, else None.
    _fixed: ClassVar[tuple[str, Callable[..., Any], list[tuple[str, int, str]]] | None] = None

    def __bytes__(self) -> bytes:
        out = bytearray()
        type(self)._stream_into(self, out)
        return bytes(out)

    @classmethod
    def from_bytes(cls: type[T], data: bytes | bytearray | memoryview) -> T:
        """Decode exactly one ``cls`` from ``data``; trailing bytes are an error, and so is an
        invalid point wherever the protocol checks points at decode (module docstring)."""
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise DecodeError(f"need bytes, got {type(data).__name__}", cls.__name__)
            data = bytes(data)
        try:
            obj, pos = cls._parse(data, 0)
            walk = cls._points_decode
            if walk is not None:
                walk(obj)
        except DecodeError as exc:
            raise exc.prefixed(cls.__name__) from None
        except RecursionError:  # pragma: no cover - types are finite; kept as a last guard
            raise DecodeError("nesting too deep", cls.__name__) from None
        if pos != len(data):
            raise DecodeError(f"{len(data) - pos} trailing bytes after offset {pos}", cls.__name__)
        return obj  # type: ignore[no-any-return]

    @classmethod
    def parse(cls: type[T], data: bytes, pos: int = 0) -> tuple[T, int]:
        """Decode one ``cls`` at ``pos`` and return it with the offset just past it (points
        checked as by ``from_bytes``)."""
        try:
            obj, end = cls._parse(data, pos)
            walk = cls._points_decode
            if walk is not None:
                walk(obj)
        except DecodeError as exc:
            raise exc.prefixed(cls.__name__) from None
        return obj, end  # type: ignore[return-value]

    def check_points(self) -> None:
        """Decompress and subgroup-check every BLS point in this record (each is kept for its
        later uses). Raises the :class:`DecodeError` decoding raised before points were lazy,
        naming the first invalid one (``FullBlock.body.transactions[3].spends[0].public_key:
        invalid G1Element: ...``)."""
        walk = type(self)._points_all
        if walk is not None:
            try:
                walk(self)
            except DecodeError as exc:
                raise exc.prefixed(type(self).__name__) from None

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
    field_kinds = [kinds[name] for name in own]
    _compile_codec(new_cls, own, field_kinds)
    _compile_json(new_cls, own, kinds)
    walkers = _record_walkers(own, field_kinds, new_cls.POINTS_CHECKED_BY_VALIDATION)
    new_cls._points_decode, new_cls._points_all = walkers
    record_kind(
        new_cls,
        new_cls._stream_into,
        new_cls._parse,
        new_cls._min_size,
        new_cls._from_json,  # type: ignore[attr-defined]
        walkers,
        new_cls._fixed,
    )
    return new_cls  # type: ignore[no-any-return]


def _is_classvar(tp: Any) -> bool:
    return tp is ClassVar or typing.get_origin(tp) is ClassVar


def _setter(cls: type, name: str) -> Callable[[Any, Any], None]:
    """The slot descriptor's ``__set__`` for ``name`` (a third faster than object.__setattr__
    on a frozen class), or a setattr for a field that is not a slot."""
    for klass in cls.__mro__:
        slot = klass.__dict__.get(name)
        if isinstance(slot, types.MemberDescriptorType):
            return slot.__set__  # type: ignore[no-any-return]
    return lambda obj, value: object.__setattr__(obj, name, value)


def _groups(kinds: list[Kind], fusable: Callable[[Kind], bool]) -> list[list[int]]:
    """Field indexes in order, consecutive ``fusable`` fields in one group."""
    groups: list[list[int]] = []
    for i, kind in enumerate(kinds):
        if fusable(kind) and groups and fusable(kinds[groups[-1][-1]]):
            groups[-1].append(i)
        else:
            groups.append([i])
    return groups


def _short(parts: list[tuple[int, int, int, str, str]]) -> Callable[[bytes, int], Any]:
    """For a fused group: which field ran past the end, and the error a lone decoder gives
    (``parts``: field index, offset in the group, size, type name, path inside the field)."""

    def short(buf: bytes, pos: int) -> tuple[int, DecodeError]:
        for i, off, size, name, sub in parts:
            at = pos + off
            if at + size > len(buf):
                remain = len(buf) - at
                reason = f"{name} needs {size} bytes at offset {at}, only {remain} remain"
                return i, DecodeError(reason, sub)
        raise AssertionError("group fits")  # pragma: no cover - called only when it does not

    return short


def _compile_codec(cls: Any, names: list[str], kinds: list[Kind]) -> None:
    env: dict[str, Any] = {
        "DecodeError": DecodeError,
        "cls": cls,
        "new": object.__new__,
        "intnew": int.__new__,
        "bnew": bytes.__new__,
        "encerr": encoding_error,
        "NAMES": names,
    }
    for i, kind in enumerate(kinds):
        env[f"enc{i}"], env[f"dec{i}"], env[f"T{i}"] = kind.encode, kind.decode, kind.tp
        env[f"build{i}"], env[f"set{i}"] = kind.build, _setter(cls, names[i])
        if _is_bls(kind):
            env[f"lazy{i}"] = kind.tp.lazy
    source = "\n".join(_encoder(names, kinds, env)) + "\n\n" + "\n".join(_decoder(kinds, env))
    fixed = bool(kinds) and all(k.fuse is not None and not _is_bls(k) for k in kinds)
    if fixed:
        source += "\n\n" + "\n".join(_builder(kinds))
    exec(compile(source + "\n", f"<streamable {cls.__qualname__}>", "exec"), env)
    cls._stream_into = staticmethod(env["_stream_into"])
    cls._parse = staticmethod(env["_parse"])
    cls._fixed = None
    if fixed:
        leaves = [
            (f".{n}{sub}", size, tn)
            for n, k in zip(names, kinds, strict=True)
            for sub, size, tn in k.leaves
        ]
        cls._fixed = ("".join(str(k.fuse) for k in kinds), env["_build"], leaves)


def _encoder(names: list[str], kinds: list[Kind], env: dict[str, Any]) -> list[str]:
    """Consecutive scalar fixed-size fields are packed with one struct call."""
    lines = ["def _stream_into(self, out):"]
    for g, group in enumerate(_groups(kinds, lambda k: k.fuse is not None and k.build is None)):
        first = group[0]
        if kinds[first].fuse is None or kinds[first].build is not None:
            lines.append(f"    enc{first}(self.{names[first]}, out)")
            continue
        env[f"P{g}"] = struct.Struct(">" + "".join(str(kinds[i].fuse) for i in group)).pack
        values = ", ".join(
            f"self.{names[i]}" + ("._raw" if _is_bls(kinds[i]) else "") for i in group
        )
        lines.append(f"    out += P{g}({values})")
    if not names:
        lines.append("    pass")
    return lines


def _decoder(kinds: list[Kind], env: dict[str, Any]) -> list[str]:
    """Consecutive fixed-size fields (records of them included) are read with one struct call
    after one bounds check; a record of fixed-size fields is built from its raw values."""
    lines = ["def _parse(buf, pos):", "    f = 0", "    n = len(buf)", "    try:"]
    for g, group in enumerate(_groups(kinds, lambda k: k.fuse is not None)):
        first = group[0]
        if kinds[first].fuse is None:
            lines += [f"        f = {first}", f"        v{first}, pos = dec{first}(buf, pos)"]
            continue
        layout = struct.Struct(">" + "".join(str(kinds[i].fuse) for i in group))
        parts, offsets, off = [], {}, 0
        for i in group:
            offsets[i] = off
            for sub, size, name in kinds[i].leaves:
                parts.append((i, off, size, name, sub))
                off += size
        env[f"U{g}"], env[f"short{g}"] = layout.unpack_from, _short(parts)
        raws = {i: [f"r{i}_{j}" for j in range(kinds[i].arity)] for i in group}
        lines += [
            f"        f = {first}",
            f"        end = pos + {layout.size}",
            "        if end > n:",
            f"            f, err = short{g}(buf, pos)",
            "            raise err",
            f"        {', '.join(r for i in group for r in raws[i])}, = U{g}(buf, pos)",
        ]
        for i in group:
            kind, (r, *_) = kinds[i], raws[i]
            if kind.build is not None:
                lines.append(f"        v{i} = build{i}({', '.join(raws[i])})")
            elif _is_bls(kind):
                lines += [
                    f"        e = encerr({r}, {kind.min_size})",
                    "        if e is not None:",
                    f"            f = {i}",
                    f"            raise DecodeError('invalid {kind.name} at offset %d: %s'"
                    f" % (pos + {offsets[i]}, e))",
                    f"        v{i} = lazy{i}({r})",
                ]
            elif str(kind.fuse).endswith("s"):
                lines.append(f"        v{i} = bnew(T{i}, {r})")
            else:
                lines.append(f"        v{i} = intnew(T{i}, {r})")
        lines.append("        pos = end")
    if not kinds:
        lines.append("        pass")
    lines += [
        "    except DecodeError as exc:",
        "        raise exc.prefixed('.' + NAMES[f]) from None",
        "    obj = new(cls)",
    ]
    lines += [f"    set{i}(obj, v{i})" for i in range(len(kinds))]
    return [*lines, "    return obj, pos"]


def _builder(kinds: list[Kind]) -> list[str]:
    """``_build(*raw values)`` of a record of fixed-size fields (no points): no checks needed,
    struct produced exactly the sizes."""
    args = [f"r{i}_{j}" for i, k in enumerate(kinds) for j in range(k.arity)]
    lines = [f"def _build({', '.join(args)}):", "    obj = new(cls)"]
    for i, kind in enumerate(kinds):
        if kind.build is not None:
            inner = ", ".join(f"r{i}_{j}" for j in range(kind.arity))
            lines.append(f"    set{i}(obj, build{i}({inner}))")
        elif str(kind.fuse).endswith("s"):
            lines.append(f"    set{i}(obj, bnew(T{i}, r{i}_0))")
        else:
            lines.append(f"    set{i}(obj, intnew(T{i}, r{i}_0))")
    return [*lines, "    return obj"]


def _is_bls(kind: Kind) -> bool:
    return kind.points_decode is not None and kind.fuse is not None


def _compile_json(cls: Any, names: list[str], kinds: dict[str, Kind]) -> None:
    cls._to_json_fields = tuple((name, kinds[name].to_json) for name in names)
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
