"""BLS12-381 points as Streamable values.

blspy's elements are not hashable, cannot be pickled and re-serialize on every ``bytes()``. These
wrappers keep the canonical bytes they were made from (so re-encoding a decoded block is a copy)
and the checked blspy point (``.point``) for signing and verifying. They compare and hash by bytes.
"""

from __future__ import annotations

from typing import Any, ClassVar, Self

import blspy

from trionode.wire.errors import DecodeError


class BLSElement:
    __slots__ = ("_point", "_raw")

    SIZE: ClassVar[int] = 0
    _BLSPY: ClassVar[Any] = None

    def __init__(self, value: Any = None) -> None:
        point: Any
        if value is None:
            point = self._BLSPY()
            raw = bytes(point)
        elif isinstance(value, type(self)):
            raw, point = value._raw, value.point
        elif isinstance(value, self._BLSPY):
            raw, point = bytes(value), value
        elif isinstance(value, (bytes, bytearray, memoryview)):
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
        self._raw: bytes = raw
        self._point = point

    @classmethod
    def from_bytes(cls, data: Any) -> Self:
        """Decode exactly ``SIZE`` bytes holding a valid point; else :class:`DecodeError`."""
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
    def from_hexstr(cls, text: str) -> Any:
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        return cls(bytes.fromhex(text))

    @property
    def point(self) -> Any:
        """The blspy element, for AugSchemeMPL calls."""
        return self._point

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
        return type(self)(self._point + other_point)

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self._raw.hex()}>"

    def __str__(self) -> str:
        return self._raw.hex()

    def __reduce__(self) -> tuple[Any, ...]:
        # Picklable (blspy points are not): worker processes receive the bytes.
        return (type(self), (self._raw,))


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
