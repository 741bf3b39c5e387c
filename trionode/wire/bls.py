"""BLS12-381 points as Streamable values, decoded lazily.

blspy's elements are not hashable, cannot be pickled and re-serialize on every ``bytes()``. These
wrappers keep the canonical bytes they were made from (re-encoding is a copy) and the checked
blspy point (``.point``) for signing and verifying. They compare and hash by bytes.

Decompressing a point and checking its subgroup costs 55-100 us, about 98% of decoding a block,
and most decoded points are never used as points (a stored block read to be served, a relayed
message). So decoding checks only the encoding (:func:`encoding_error`: flag bits, canonical
infinity, coordinates below the field modulus; no curve arithmetic) and keeps the bytes; the
curve and subgroup check runs once, on the first ``.point``, and the point is kept. A point that
fails it raises :class:`DecodeError` there, with the decoder's words. Where that first use must
happen for each message is the wire layer's rule ``points_checked_at`` (docs/protocol.md,
"Where an invalid point is rejected").
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import blspy

from trionode.wire.errors import DecodeError

#: The BLS12-381 base field modulus: a compressed coordinate at or above it is not canonical.
FIELD_MODULUS = int(
    "1a0111ea397fe69a4b1ba7b6434bacd764774b84f38512bf6730d2a0f6b0f6241eabfffeb153ffffb9feffffffffaaab",
    16,
)
_COMPRESSED, _INFINITY = 0x80, 0x40
_X_MASK = (1 << 381) - 1  # a 48-byte coordinate without its three flag bits
_from_bytes = int.from_bytes


def encoding_error(raw: bytes, size: int) -> str | None:
    """Why ``raw`` (exactly ``size`` bytes, 48 or 96) is not a canonical compressed point
    encoding, or None when it may be one. Pure byte checks (under a microsecond): never refuses
    bytes blspy's ``from_bytes`` accepts; what it lets through still needs the curve check."""
    flags = raw[0]
    if not flags & _COMPRESSED:
        return "compression flag not set"
    if flags & _INFINITY:
        if flags != _COMPRESSED | _INFINITY or any(raw[1:]):
            return "non-canonical infinity"
        return None
    if _from_bytes(raw if size == 48 else raw[:48], "big") & _X_MASK >= FIELD_MODULUS:
        return "x coordinate not below the field modulus"
    if size == 96 and _from_bytes(raw[48:], "big") >= FIELD_MODULUS:
        return "x coordinate not below the field modulus"
    return None


class BLSElement:
    __slots__ = ("_point", "_raw")

    _raw: bytes
    _point: Any  # the blspy point, None until checked
    SIZE: ClassVar[int] = 0
    _BLSPY: ClassVar[Any] = None

    def __init__(self, value: Any = None) -> None:
        point: Any
        if value is None:
            point = self._BLSPY()
            raw = bytes(point)
        elif isinstance(value, type(self)):
            raw, point = value._raw, value._point  # a lazy point stays lazy
        elif isinstance(value, self._BLSPY):
            raw, point = bytes(value), value
        elif isinstance(value, (bytes, bytearray, memoryview)):
            # Constructing from bytes (keys, RPC, JSON) checks at once, as it always did.
            raw = bytes(value)
            if len(raw) != self.SIZE:
                raise ValueError(f"{type(self).__name__} needs {self.SIZE} bytes, got {len(raw)}")
            try:
                point = self._BLSPY.from_bytes(raw)
            except (ValueError, RuntimeError) as exc:
                raise ValueError(f"invalid {type(self).__name__}: {exc}") from None
        else:
            raise TypeError(
                f"{type(self).__name__} needs a point or bytes, got {type(value).__name__}"
            )
        self._raw = raw
        self._point = point

    @classmethod
    def from_bytes(cls, data: Any) -> Self:
        """Decode exactly ``SIZE`` bytes holding a valid point (checked now, this is the one
        point of a message); else :class:`DecodeError`."""
        name = cls.__name__
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise DecodeError(f"needs bytes, got {type(data).__name__}", name)
            data = bytes(data)
        if len(data) != cls.SIZE:
            raise DecodeError(f"needs exactly {cls.SIZE} bytes, got {len(data)}", name)
        try:
            point = cls._BLSPY.from_bytes(data)
        except (ValueError, RuntimeError) as exc:
            raise DecodeError(f"invalid point: {exc}", name) from None
        obj = object.__new__(cls)
        obj._raw = bytes(data)
        obj._point = point
        return obj

    @classmethod
    def lazy(cls, raw: bytes) -> Self:
        """Wrap ``raw`` (exactly ``SIZE`` bytes that passed :func:`encoding_error`) without
        touching the curve; ``.point`` checks it on first use."""
        obj = object.__new__(cls)
        obj._raw = raw
        obj._point = None
        return obj

    @classmethod
    def from_hexstr(cls, text: str) -> Any:
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        return cls(bytes.fromhex(text))

    @property
    def point(self) -> Any:
        """The blspy element, for AugSchemeMPL calls: decompressed and subgroup-checked on the
        first call, then kept. Raises :class:`DecodeError` ("invalid G1Element: ...") for bytes
        that are not a point of the group. Threads may race here; both compute the same point."""
        point = self._point
        if point is None:
            try:
                point = self._BLSPY.from_bytes(self._raw)
            except (ValueError, RuntimeError) as exc:
                raise DecodeError(f"invalid {type(self).__name__}: {exc}") from None
            self._point = point
        return point

    @property
    def checked(self) -> bool:
        """Whether the point has been decompressed and checked already (tests, benchmarks)."""
        return self._point is not None

    def __bytes__(self) -> bytes:
        return self._raw

    def hex(self) -> str:
        return self._raw.hex()

    def __eq__(self, other: object) -> bool:
        if isinstance(other, BLSElement):
            return type(self) is type(other) and self._raw == other._raw
        if isinstance(other, self._BLSPY):
            return self._raw == bytes(other)
        return NotImplemented

    def __hash__(self) -> int:
        return hash(self._raw)

    def __add__(self, other: Any) -> Any:
        other_point = other.point if isinstance(other, BLSElement) else other
        return type(self)(self.point + other_point)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._raw.hex()}>"

    def __str__(self) -> str:
        return self._raw.hex()

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (blspy points are not): worker processes receive the bytes, still lazy.
        return (_unpickle, (type(self), self._raw))


def _unpickle(cls: type[BLSElement], raw: bytes) -> BLSElement:
    if len(raw) != cls.SIZE or encoding_error(raw, cls.SIZE) is not None:
        raise ValueError(f"invalid {cls.__name__}")
    return cls.lazy(raw)


class G1Element(BLSElement):
    """A public key (48 bytes)."""

    __slots__ = ()
    SIZE = 48
    _BLSPY = blspy.G1Element


class G2Element(BLSElement):
    """A signature (96 bytes)."""

    __slots__ = ()
    SIZE = 96
    _BLSPY = blspy.G2Element
