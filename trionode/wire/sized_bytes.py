"""Fixed-length byte strings of the Streamable format (written raw, no length prefix)."""

from __future__ import annotations

from typing import Any, ClassVar, Self

from trionode.wire.errors import DecodeError


class SizedBytes(bytes):
    """``bytes`` of exactly ``SIZE`` bytes; ``str()`` gives hex, as operators expect of hashes."""

    SIZE: ClassVar[int] = 0

    def __init_subclass__(cls, size: int = 0, **kwargs: object) -> None:
        super().__init_subclass__(**kwargs)
        cls.SIZE = size

    def __new__(cls, value: bytes | bytearray | memoryview) -> SizedBytes:  # noqa: PYI034
        if not isinstance(value, (bytes, bytearray, memoryview)):
            raise TypeError(f"{cls.__name__} needs bytes, got {type(value).__name__}")
        obj = bytes.__new__(cls, value)
        if len(obj) != cls.SIZE:
            raise ValueError(f"{cls.__name__} needs exactly {cls.SIZE} bytes, got {len(obj)}")
        return obj

    @classmethod
    def from_bytes(cls, data: Any) -> Self:
        """Decode the wire encoding: exactly ``SIZE`` raw bytes; else :class:`DecodeError`."""
        if not isinstance(data, bytes):
            if not isinstance(data, (bytearray, memoryview)):
                raise DecodeError(f"needs bytes, got {type(data).__name__}", cls.__name__)
            data = bytes(data)
        if len(data) != cls.SIZE or not cls.SIZE:
            raise DecodeError(f"needs exactly {cls.SIZE} bytes, got {len(data)}", cls.__name__)
        return bytes.__new__(cls, data)

    @classmethod
    def from_hexstr(cls, text: str) -> SizedBytes:
        """Parse hex with or without a ``0x`` prefix."""
        if text[:2] in ("0x", "0X"):
            text = text[2:]
        return cls(bytes.fromhex(text))

    def __str__(self) -> str:
        return self.hex()

    def __repr__(self) -> str:
        return f"<{type(self).__name__}: {self.hex()}>"


class bytes4(SizedBytes, size=4):
    pass


class bytes8(SizedBytes, size=8):
    pass


class bytes32(SizedBytes, size=32):
    pass


class bytes48(SizedBytes, size=48):
    pass


class bytes96(SizedBytes, size=96):
    pass


class bytes100(SizedBytes, size=100):
    pass
