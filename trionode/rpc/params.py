"""RPC errors (each with its HTTP status and a stable ``code``) and checked parameter access.

A method reads its parameters through :class:`Params`; anything missing or ill-typed raises
:class:`BadParams` naming the key, which the server answers with 400 and a JSON error.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from trionode.wire import bytes32

__all__ = [
    "BadParams",
    "NotFound",
    "Params",
    "RpcError",
    "Unauthorized",
    "Unavailable",
    "UnknownMethod",
]


class RpcError(Exception):
    """An error answered to the caller as ``{"success": false, "error": message, "code": code}``."""

    status = 400
    code = "bad_request"

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def to_json(self) -> dict[str, Any]:
        return {"success": False, "error": self.message, "code": self.code}


class BadParams(RpcError):
    status = 400
    code = "bad_params"


class NotFound(RpcError):
    """The thing asked for (a block, a connection) does not exist here."""

    status = 404
    code = "not_found"


class UnknownMethod(RpcError):
    status = 404
    code = "unknown_method"


class Unauthorized(RpcError):
    status = 401
    code = "unauthorized"


class Unavailable(RpcError):
    """The method exists but this node cannot serve it now (no mempool, peer unreachable)."""

    status = 503
    code = "unavailable"


_MISSING: Any = object()


class Params:
    """The JSON object of one call; typed getters raise :class:`BadParams` naming the key."""

    def __init__(self, data: Any) -> None:
        if data is None:
            data = {}
        if not isinstance(data, Mapping):
            raise BadParams(f"parameters must be a JSON object, not {type(data).__name__}")
        self.data: Mapping[str, Any] = data

    def _get(self, key: str, default: Any) -> Any:
        if key in self.data and self.data[key] is not None:
            return self.data[key]
        if default is _MISSING:
            raise BadParams(f"missing parameter {key!r}")
        return default

    def has(self, key: str) -> bool:
        return self.data.get(key) is not None

    def get_int(
        self,
        key: str,
        default: Any = _MISSING,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
    ) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, bool) or not isinstance(value, int):
            raise BadParams(f"parameter {key!r} must be an integer, not {value!r}")
        if minimum is not None and value < minimum:
            raise BadParams(f"parameter {key!r} must be at least {minimum}, not {value}")
        if maximum is not None and value > maximum:
            raise BadParams(f"parameter {key!r} must be at most {maximum}, not {value}")
        return value

    def get_str(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if not isinstance(value, str) or not value:
            raise BadParams(f"parameter {key!r} must be a non-empty string, not {value!r}")
        return value

    def get_bool(self, key: str, default: Any = _MISSING) -> Any:
        value = self._get(key, default)
        if not isinstance(value, bool):
            raise BadParams(f"parameter {key!r} must be true or false, not {value!r}")
        return value

    def get_bytes32(self, key: str, default: Any = _MISSING) -> Any:
        """A 32-byte value written as 64 hex digits (``0x`` prefix allowed)."""
        value = self._get(key, default)
        if value is default and default is not _MISSING:
            return value
        if isinstance(value, str):
            try:
                raw = bytes.fromhex(value.removeprefix("0x"))
            except ValueError:
                raw = b""
            if len(raw) == 32:
                return bytes32(raw)
        raise BadParams(f"parameter {key!r} must be 32 bytes as 64 hex digits, not {value!r}")

    def get_object(self, key: str) -> Mapping[str, Any]:
        value = self._get(key, _MISSING)
        if not isinstance(value, Mapping):
            raise BadParams(f"parameter {key!r} must be a JSON object")
        return value

    def get_port(self, key: str) -> Any:
        return self.get_int(key, minimum=1, maximum=65535)
