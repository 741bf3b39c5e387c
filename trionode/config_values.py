"""The value types of the configuration (:mod:`trionode.config`): pydantic before-validators with
operator-facing messages (pydantic's own are generic); every message ends in ", got <value>" so
the operator sees what was read.
"""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import BeforeValidator

from trionode.consensus import NETWORKS
from trionode.peers.addresses import parse_host_port


def _int(value: Any, what: str) -> int:
    if isinstance(value, bool):
        raise ValueError(f"must be {what}, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, str) and value.strip().lstrip("+-").isdigit():
        return int(value.strip())
    raise ValueError(f"must be {what}, got {value!r}")


def _port(value: Any) -> int:
    what = "a port number (0-65535)"
    port = _int(value, what)
    if not 0 <= port <= 65535:
        raise ValueError(f"must be {what}, got {value!r}")
    return port


def _optional_port(value: Any) -> int | None:
    return None if value is None else _port(value)


def _at_least(minimum: int) -> Any:
    def check(value: Any) -> int:
        what = f"an integer >= {minimum}"
        number = _int(value, what)
        if number < minimum:
            raise ValueError(f"must be {what}, got {value!r}")
        return number

    return check


def _positive_float(value: Any) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        raise ValueError(f"must be a number > 0, got {value!r}")
    try:
        number = float(value)
    except ValueError:
        raise ValueError(f"must be a number > 0, got {value!r}") from None
    if not number > 0:
        raise ValueError(f"must be a number > 0, got {value!r}")
    return number


def _bool(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false", "yes", "no", "1", "0"):
        return value.lower() in ("true", "yes", "1")
    raise ValueError(f"must be true or false, got {value!r}")


def _host_port(value: Any) -> tuple[str, int]:
    if isinstance(value, list | tuple) and len(value) == 2:
        value = f"{value[0]}:{value[1]}"
    if not isinstance(value, str):
        raise ValueError(f"must be HOST:PORT, got {value!r}")
    try:
        return parse_host_port(value)
    except ValueError as exc:
        raise ValueError(f"must be HOST:PORT ({exc})") from None


def _optional_host_port(value: Any) -> tuple[str, int] | None:
    return None if value is None else _host_port(value)


def _list_of(item: Any) -> Any:
    def check(value: Any) -> tuple[Any, ...]:
        if value is None:
            return ()
        if isinstance(value, str):
            value = [v for v in (part.strip() for part in value.split(",")) if v]
        if not isinstance(value, list | tuple):
            raise ValueError(f"must be a list, got {value!r}")
        out = []
        for i, v in enumerate(value):
            try:
                out.append(item(v))
            except ValueError as exc:
                raise ValueError(f"item {i}: {exc}") from None
        return tuple(out)

    return check


def _path(value: Any) -> Path:
    if not isinstance(value, str | Path) or not str(value):
        raise ValueError(f"must be a directory path, got {value!r}")
    return Path(value).expanduser()


def _optional_text(value: Any) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string or null, got {value!r}")
    return value


def _text(value: Any) -> str:
    if not isinstance(value, str) or not value:
        raise ValueError(f"must be a non-empty string, got {value!r}")
    return value


def _ip_address(value: Any) -> str:
    text = _text(value)
    try:
        ipaddress.ip_address(text)
    except ValueError:
        raise ValueError(
            f"must be an IP address (e.g. 127.0.0.1, 0.0.0.0, ::), got {value!r}"
        ) from None
    return text


def _optional_puzzle_hash(value: Any) -> str | None:
    if value is None:
        return None
    text = str(value).lower().removeprefix("0x")
    if len(text) != 64 or any(c not in "0123456789abcdef" for c in text):
        raise ValueError(f"must be a puzzle hash of 64 hex digits, got {value!r}")
    return text


def _choice(*choices: str, upper: bool = False) -> Any:
    def check(value: Any) -> str:
        text = value.upper() if upper and isinstance(value, str) else value
        if text not in choices:
            raise ValueError(f"must be one of {', '.join(choices)}, got {value!r}")
        return str(text)

    return check


Port = Annotated[int, BeforeValidator(_port)]
OptionalPort = Annotated[int | None, BeforeValidator(_optional_port)]
HostPort = Annotated[tuple[str, int], BeforeValidator(_host_port)]
OptionalHostPort = Annotated[tuple[str, int] | None, BeforeValidator(_optional_host_port)]
Count = Annotated[int, BeforeValidator(_at_least(0))]
PositiveInt = Annotated[int, BeforeValidator(_at_least(1))]
PositiveFloat = Annotated[float, BeforeValidator(_positive_float)]
Flag = Annotated[bool, BeforeValidator(_bool)]
Text = Annotated[str, BeforeValidator(_text)]
IpAddress = Annotated[str, BeforeValidator(_ip_address)]
OptionalText = Annotated[str | None, BeforeValidator(_optional_text)]
HostPorts = Annotated[tuple[tuple[str, int], ...], BeforeValidator(_list_of(_host_port))]
Paths = Annotated[tuple[Path, ...], BeforeValidator(_list_of(_path))]
Network = Annotated[str, BeforeValidator(_choice(*sorted(NETWORKS)))]
LogLevel = Annotated[
    str, BeforeValidator(_choice("DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL", upper=True))
]
LogFormat = Annotated[Literal["console", "json"], BeforeValidator(_choice("console", "json"))]
HarvesterProtocol = Annotated[Literal["v1", "v2"], BeforeValidator(_choice("v1", "v2"))]
OptionalPath = Annotated[Path | None, BeforeValidator(lambda v: None if v is None else _path(v))]
OptionalPuzzleHash = Annotated[str | None, BeforeValidator(_optional_puzzle_hash)]
