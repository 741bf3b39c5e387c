"""The record ``@streamable`` compiles per field type (:class:`Kind`) and helpers its builders
share. The builders are in ``trionode.wire.scalars`` (single values) and ``trionode.wire.kinds``
(containers, records, and ``kind_of``, which picks and caches them)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from trionode.wire.errors import DecodeError
from trionode.wire.frozen_list import FrozenList

Encoder = Callable[[Any, bytearray], None]
Decoder = Callable[[bytes, int], tuple[Any, int]]
Checker = Callable[[Any], Any]
ToJson = Callable[[Any], Any]
FromJson = Callable[[Any], Any]
#: Forces every BLS point in a value (``.point``); raises DecodeError naming the field path.
PointWalker = Callable[[Any], None]


class Kind:
    """Everything compiled for one field type.

    ``fuse`` is the struct code of a fixed-size value the class compiler may decode together
    with its neighbours (``"Q"``, ``"32s"``; ``"32s32sQ"`` for a record of such fields), with
    ``tp`` the type it wraps the raw value in; None for anything else. A fixed-size record also
    has ``build`` (its ``arity`` raw values -> the record) and ``leaves`` ((field path, size,
    type name) per raw value, to name the field a short input cuts). ``points_decode`` checks
    the points ``from_bytes`` must check (None when there are none); ``points_all`` checks every
    point (consensus validation)."""

    __slots__ = (
        "arity",
        "build",
        "check",
        "decode",
        "encode",
        "from_json",
        "fuse",
        "leaves",
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
        build: Callable[..., Any] | None = None,
        leaves: list[tuple[str, int, str]] | None = None,
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
        self.build = build
        self.leaves = [("", min_size, name)] if leaves is None else leaves
        self.arity = len(self.leaves)


EMPTY_LIST: FrozenList[Any] = FrozenList()


def need(buf: bytes, pos: int, n: int, what: str) -> None:
    """Raise the error for ``what`` needing ``n`` bytes at ``pos`` where fewer remain."""
    if pos + n > len(buf):
        raise DecodeError(f"{what} needs {n} bytes at offset {pos}, only {len(buf) - pos} remain")


def hex_json(b: bytes) -> str:
    return "0x" + b.hex()


def unhex_json(value: Any, what: str) -> bytes:
    if not isinstance(value, str):
        raise DecodeError(f"{what} must be a hex string, got {type(value).__name__}")
    text = value[2:] if value[:2] in ("0x", "0X") else value
    try:
        return bytes.fromhex(text)
    except ValueError:
        raise DecodeError(f"{what} is not valid hex") from None
