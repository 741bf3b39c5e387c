"""Fixed-width integers of the Streamable format: big endian, range-checked on construction."""

from __future__ import annotations

import struct
from typing import Any, ClassVar, Literal, Self

from trionode.wire.errors import DecodeError


class StructInt(int):
    """An ``int`` whose value must fit ``BITS`` bits (signed or not).

    Arithmetic on these returns plain ``int``; wrap the result again where the width matters.
    """

    BITS: ClassVar[int] = 0
    SIGNED: ClassVar[bool] = False
    MIN: ClassVar[int] = 0
    MAX: ClassVar[int] = 0
    SIZE: ClassVar[int] = 0

    def __init_subclass__(cls, bits: int = 0, signed: bool = False, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.BITS = bits
        cls.SIGNED = signed
        cls.SIZE = bits // 8
        if signed:
            cls.MIN, cls.MAX = -(1 << (bits - 1)), (1 << (bits - 1)) - 1
        else:
            cls.MIN, cls.MAX = 0, (1 << bits) - 1

    def __new__(cls, value: int = 0) -> StructInt:  # noqa: PYI034
        # bool is an int subclass but never a protocol integer; floats and strings are refused
        # instead of silently truncated or parsed.
        if not isinstance(value, int) or isinstance(value, bool):
            raise TypeError(f"{cls.__name__} needs an int, got {type(value).__name__}")
        if not cls.MIN <= value <= cls.MAX:
            raise ValueError(f"{value} is out of range for {cls.__name__} [{cls.MIN}, {cls.MAX}]")
        return int.__new__(cls, value)

    def __repr__(self) -> str:
        return f"{type(self).__name__}({int(self)})"

    __str__ = int.__repr__

    def __bytes__(self) -> bytes:
        return int(self).to_bytes(self.SIZE, "big", signed=self.SIGNED)

    @classmethod
    def from_bytes(
        cls,
        data: Any,
        byteorder: Literal["big", "little"] | None = None,
        *,
        signed: bool | None = None,
    ) -> Self:
        """Decode one value in the wire encoding: exactly ``SIZE`` bytes, big endian, two's
        complement for the signed types. Anything else raises :class:`DecodeError` naming the type.

        Called ``int.from_bytes``-style (with ``byteorder`` and/or ``signed``) it keeps that
        meaning, any length, but the value must still fit the type (else DecodeError).
        """
        if byteorder is not None or signed is not None:
            try:
                value = int.from_bytes(data, byteorder or "big", signed=bool(signed))
            except (TypeError, ValueError) as exc:
                raise DecodeError(str(exc), cls.__name__) from None
            if not cls.MIN <= value <= cls.MAX:
                raise DecodeError(f"{value} is out of range [{cls.MIN}, {cls.MAX}]", cls.__name__)
            return int.__new__(cls, value)
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise DecodeError(f"needs bytes, got {type(data).__name__}", cls.__name__)
            data = bytes(data)
        if len(data) != cls.SIZE or not cls.SIZE:
            raise DecodeError(f"needs exactly {cls.SIZE} bytes, got {len(data)}", cls.__name__)
        return int.__new__(cls, int.from_bytes(data, "big", signed=cls.SIGNED))

    @classmethod
    def from_bytes_checked(cls, data: bytes) -> Self:
        """Same as the one-argument :meth:`from_bytes` (kept for older callers)."""
        return cls.from_bytes(data)


class uint8(StructInt, bits=8):
    pass


class uint16(StructInt, bits=16):
    pass


class uint32(StructInt, bits=32):
    pass


class uint64(StructInt, bits=64):
    pass


class uint128(StructInt, bits=128):
    pass


class int8(StructInt, bits=8, signed=True):
    pass


class int16(StructInt, bits=16, signed=True):
    pass


class int32(StructInt, bits=32, signed=True):
    pass


class int64(StructInt, bits=64, signed=True):
    pass


# struct formats for the widths struct can pack natively; uint128 goes through int.to_bytes.
STRUCT_FORMATS: dict[type[StructInt], struct.Struct] = {
    uint8: struct.Struct(">B"),
    uint16: struct.Struct(">H"),
    uint32: struct.Struct(">I"),
    uint64: struct.Struct(">Q"),
    int8: struct.Struct(">b"),
    int16: struct.Struct(">h"),
    int32: struct.Struct(">i"),
    int64: struct.Struct(">q"),
}
