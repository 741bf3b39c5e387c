"""The node's configuration: ``ROOT/config.yaml``, then ``TRIONODE_*`` environment variables, then
command-line flags (each overrides the one before), validated into one frozen :class:`Settings`.

Every value is checked at start-up; a bad one is a :class:`ConfigError` whose lines name the
source and the key, e.g. ``/srv/node/config.yaml: full_node.port: must be a port number
(0-65535), got 'abc'`` or ``TRIONODE_FULL_NODE__PORT: ...`` or ``--port: ...``. Unknown keys
are errors too (a typo must not be silently ignored).

Environment variables: ``TRIONODE_<KEY>`` for a top-level key (``TRIONODE_NETWORK=sim``,
``TRIONODE_LOG_FORMAT=json``) and ``TRIONODE_<SECTION>__<KEY>`` (two underscores) for a key of a
role section (``TRIONODE_FULL_NODE__PORT=1234``). Names are case-insensitive; values are read as
YAML, like config.yaml (``TRIONODE_FULL_NODE__PEERS='[127.0.0.1:8444]'``, ``null``). A variable
with ``__`` must name a known section and key; other ``TRIONODE_*`` names that are not top-level
keys (``TRIONODE_ROOT``, which picks the root, or test settings) are not configuration and are
left alone.

Why pydantic models and not pydantic-settings' sources: the sources merge before validating, so
an error could not say whether the bad value came from the file, the environment or a flag. Here
the three layers are merged by hand, remembering where each value came from, and one pydantic
validation of the merged mapping reports every error with its origin.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Annotated, Any, Literal

import attrs
import yaml
from pydantic import BaseModel, BeforeValidator, ConfigDict, ValidationError

from trionode.consensus import NETWORKS
from trionode.peers.addresses import parse_host_port
from trionode.peers.limits import PeerLimits
from trionode.roles.full_node.gossip import IntakeLimits

__all__ = [
    "ENV_PREFIX",
    "SECTIONS",
    "ConfigError",
    "FarmerSettings",
    "FullNodeSettings",
    "HarvesterSettings",
    "IntroducerSettings",
    "PeersSettings",
    "PoolSettings",
    "Settings",
    "TimelordSettings",
    "env_overrides",
    "load_settings",
    "unknown_env_names",
]

ENV_PREFIX = "TRIONODE_"


class ConfigError(ValueError):
    """One or more configuration values the operator must fix; ``lines`` names each key."""

    def __init__(self, lines: Iterable[str]) -> None:
        self.lines = list(lines)
        super().__init__("\n".join(self.lines))


# ---------------------------------------------------------------------------- value types
# Before-validators with operator-facing messages (pydantic's own are generic); every message
# ends in ", got <value>" so the operator sees what was read.


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


# ---------------------------------------------------------------------------- the model


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)


class FullNodeSettings(_Frozen):
    port: Port = 8444
    rpc_port: OptionalPort = 8555
    rpc_tls_port: OptionalPort = 0
    metrics_port: OptionalPort = None
    peers: HostPorts = ()
    introducer: OptionalHostPort = None
    db: OptionalText = None
    peer_db: OptionalText = None
    target_outbound: Count = 8
    max_inbound: Count = 80
    validation_workers: PositiveInt = 2
    # Bounds of the pools of peer input (docs/protocol.md section 2); defaults in IntakeLimits.
    seen_cache_size: PositiveInt = IntakeLimits().seen_cache_size
    orphan_max_blocks: Count = IntakeLimits().orphan_max_blocks
    orphan_max_bytes: PositiveInt = IntakeLimits().orphan_max_bytes
    unfinished_per_proof: PositiveInt = IntakeLimits().unfinished_per_proof
    unfinished_max_blocks: PositiveInt = IntakeLimits().unfinished_max_blocks
    unfinished_max_bytes: PositiveInt = IntakeLimits().unfinished_max_bytes
    short_sync_max_bytes: PositiveInt = IntakeLimits().short_sync_max_bytes
    short_sync_max_running: PositiveInt = IntakeLimits().short_sync_max_running

    def intake_limits(self) -> IntakeLimits:
        """The ``IntakeLimits`` these keys set."""
        names = [field.name for field in attrs.fields(IntakeLimits)]
        return IntakeLimits(**{name: getattr(self, name) for name in names})

    # Bounded pools (docs/protocol.md section 3): the mempool, the peer address table.
    mempool_max_bytes: PositiveInt = 32 * 2**20
    mempool_max_blocks: PositiveInt = 10
    max_addresses: PositiveInt = 20_000
    max_addresses_per_source: PositiveInt = 1_000
    max_addresses_per_group: PositiveInt = 256
    max_addresses_per_reply: PositiveInt = 1_000


class IntroducerSettings(_Frozen):
    port: Port = 8445
    rpc_port: OptionalPort = 8556
    rpc_tls_port: OptionalPort = 0
    metrics_port: OptionalPort = None


class TimelordSettings(_Frozen):
    port: Port = 8446
    rpc_port: OptionalPort = 8557
    rpc_tls_port: OptionalPort = 0
    metrics_port: OptionalPort = None
    full_node: OptionalHostPort = None
    workers: PositiveInt = 1
    vdf_threads: Flag = False


class FarmerSettings(_Frozen):
    port: Port = 8447
    rpc_port: OptionalPort = 8559
    rpc_tls_port: OptionalPort = 0
    metrics_port: OptionalPort = None
    full_node: OptionalHostPort = None
    pool: OptionalHostPort = None
    payout_puzzle_hash: OptionalPuzzleHash = None


class HarvesterSettings(_Frozen):
    port: Port = 8448
    rpc_port: OptionalPort = 8560
    rpc_tls_port: OptionalPort = 0
    metrics_port: OptionalPort = None
    farmer: OptionalHostPort = None
    plot_dirs: Paths = ()
    refresh_interval: PositiveFloat = 10.0
    protocol: HarvesterProtocol = "v2"


class PoolSettings(_Frozen):
    """The pool role (docs/protocol.md section 5)."""

    port: Port = 8449
    rpc_port: OptionalPort = 8561
    rpc_tls_port: OptionalPort = 0
    metrics_port: OptionalPort = None
    full_node: OptionalHostPort = None
    db: OptionalText = None
    target_partials_per_hour: PositiveInt = 300
    starting_difficulty: PositiveInt = 1
    partial_max_depth: PositiveInt = 4
    partial_max_age: PositiveFloat = 300.0
    max_partials_per_minute: PositiveInt = 120
    max_farmers: PositiveInt = 10_000
    payout_interval: PositiveFloat = 600.0
    payout_fee: Count = 0


_LIMITS = PeerLimits()  # the peer layer's defaults, written once (trionode.peers.limits)


class PeersSettings(_Frozen):
    """The ``peers:`` section: every role's peer layer (docs/protocol.md section 1)."""

    exempt_loopback_from_bans: Flag = False
    listen_host: IpAddress = "127.0.0.1"
    max_message_size: PositiveInt = _LIMITS.max_message_size
    handshake_timeout: PositiveFloat = _LIMITS.handshake_timeout
    ping_interval: PositiveFloat = _LIMITS.ping_interval
    idle_timeout: PositiveFloat = _LIMITS.idle_timeout
    request_timeout: PositiveFloat = _LIMITS.request_timeout
    max_concurrent_handshakes: PositiveInt = _LIMITS.max_concurrent_handshakes
    max_handshakes_per_address: PositiveInt = _LIMITS.max_handshakes_per_address
    max_handshakes_per_group: PositiveInt = _LIMITS.max_handshakes_per_group
    max_inbound_per_address: PositiveInt = _LIMITS.max_inbound_per_address
    max_inbound_per_group: PositiveInt = _LIMITS.max_inbound_per_group
    refusal_log_interval: PositiveFloat = _LIMITS.refusal_log_interval
    max_concurrent_handlers: PositiveInt = _LIMITS.max_concurrent_handlers
    max_queued_messages: PositiveInt = _LIMITS.max_queued_messages
    max_queued_bytes: PositiveInt = _LIMITS.max_queued_bytes
    max_parked_handlers: Count = _LIMITS.max_parked_handlers
    decode_in_thread_bytes: Count = _LIMITS.decode_in_thread_bytes

    def limits(self) -> PeerLimits:
        """The PeerLimits these settings describe (``max_inbound`` is the full node's)."""
        return PeerLimits(
            **{name: getattr(self, name) for name in PEER_LIMIT_KEYS},  # type: ignore[arg-type]
        )


# The peers: keys that are PeerLimits fields of the same name.
PEER_LIMIT_KEYS = tuple(
    name for name in PeersSettings.model_fields if name in PeerLimits.__dataclass_fields__
)


class Settings(_Frozen):
    """Everything a node process reads at start-up (see the README's configuration table)."""

    network: Network = "devnet"
    log_level: LogLevel = "INFO"
    log_format: LogFormat = "console"
    log_max_bytes: PositiveInt = 10 * 2**20
    log_backups: Count = 3
    full_node: FullNodeSettings = FullNodeSettings()
    introducer: IntroducerSettings = IntroducerSettings()
    timelord: TimelordSettings = TimelordSettings()
    farmer: FarmerSettings = FarmerSettings()
    harvester: HarvesterSettings = HarvesterSettings()
    pool: PoolSettings = PoolSettings()
    peers: PeersSettings = PeersSettings()

    def section(self, role: str) -> Any:
        """The settings section of ``role`` (``full_node``, ``farmer``, ...)."""
        return getattr(self, role)


SECTIONS: dict[str, type[_Frozen]] = {
    name: field.annotation  # type: ignore[misc]
    for name, field in Settings.model_fields.items()
    if isinstance(field.annotation, type) and issubclass(field.annotation, _Frozen)
}
TOP_LEVEL = tuple(k for k in Settings.model_fields if k not in SECTIONS)


# ---------------------------------------------------------------------------- loading

# Where a value came from: (section, key) or (key,) -> label (file name, env var, flag).
Origins = dict[tuple[str, ...], str]


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        text = path.read_text()
    except FileNotFoundError:
        return {}
    except OSError as exc:
        raise ConfigError([f"{path}: cannot read: {exc.strerror or exc}"]) from None
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError([f"{path}: not valid YAML: {exc}"]) from None
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ConfigError([f"{path}: expected a mapping of keys at the top level"])
    return data


# TRIONODE_* names that are not configuration (README, "Configuration"): the root, and test
# settings. Any other name that is no key is reported at start-up: a typo would otherwise be
# ignored without a word.
NON_CONFIG_ENV = frozenset({"TRIONODE_ROOT", "TRIONODE_REQUIRE_POSTGRES"})
NON_CONFIG_ENV_PREFIXES = ("TRIONODE_TEST_",)


def unknown_env_names(environ: Mapping[str, str]) -> list[str]:
    """``TRIONODE_*`` names that are neither a top-level key nor a documented non-configuration
    name (names with ``__`` are checked by :func:`env_overrides`, which refuses unknown ones)."""
    out = []
    for name in sorted(environ):
        upper = name.upper()
        if not upper.startswith(ENV_PREFIX) or "__" in upper:
            continue
        if upper in NON_CONFIG_ENV or upper.startswith(NON_CONFIG_ENV_PREFIXES):
            continue
        if upper[len(ENV_PREFIX) :].lower() not in TOP_LEVEL:
            out.append(name)
    return out


def env_overrides(environ: Mapping[str, str]) -> tuple[dict[str, Any], Origins]:
    """The configuration given by ``TRIONODE_*`` variables (see the module docstring)."""
    values: dict[str, Any] = {}
    origins: Origins = {}
    errors: list[str] = []
    for name in sorted(environ):
        if not name.upper().startswith(ENV_PREFIX):
            continue
        rest = name[len(ENV_PREFIX) :].lower()
        try:
            value = yaml.safe_load(environ[name]) if environ[name] != "" else None
        except yaml.YAMLError:
            value = environ[name]
        if "__" in rest:
            section, _, key = rest.partition("__")
            model = SECTIONS.get(section)
            if model is None:
                errors.append(f"{name}: unknown section {section!r}; known: {', '.join(SECTIONS)}")
                continue
            if key not in model.model_fields:
                errors.append(
                    f"{name}: unknown key {section}.{key}; known: {', '.join(model.model_fields)}"
                )
                continue
            values.setdefault(section, {})[key] = value
            origins[(section, key)] = name
        elif rest in TOP_LEVEL:
            values[rest] = value
            origins[(rest,)] = name
    if errors:
        raise ConfigError(errors)
    return values, origins


def _merge(base: dict[str, Any], over: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in over.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = _merge(dict(out[key]), value)
        else:
            out[key] = value
    return out


def _describe(error: Mapping[str, Any]) -> str:
    kind = error["type"]
    if kind == "extra_forbidden":
        return "unknown key"
    if kind == "value_error":
        # Our validators' messages; pydantic prefixes them with "Value error, ".
        return str(error["msg"]).removeprefix("Value error, ")
    if kind in ("model_type", "model_attributes_type"):
        return f"must be a mapping of keys, got {error.get('input')!r}"
    return f"{error['msg']}, got {error.get('input')!r}"


def load_settings(
    root: Path,
    *,
    environ: Mapping[str, str] | None = None,
    flags: Mapping[str, Any] | None = None,
    flag_names: Mapping[tuple[str, ...], str] | None = None,
) -> Settings:
    """``ROOT/config.yaml`` < ``environ`` (TRIONODE_*) < ``flags``, validated.

    ``flags`` has the shape of config.yaml (``{"full_node": {"port": 0}}``); ``flag_names`` maps
    each flag value's key path to the flag's name for error messages (``("full_node", "port")``
    -> ``--port``). Raises :class:`ConfigError` naming every bad key and where it came from.
    """
    path = Path(root) / "config.yaml"
    file_values = _read_yaml(path)
    for section in SECTIONS:  # "introducer:" with nothing under it is an empty section
        if section in file_values and file_values[section] is None:
            file_values[section] = {}
    env_values, origins = env_overrides(environ if environ is not None else {})
    merged = _merge(_merge(file_values, env_values), flags or {})
    for key_path, flag in (flag_names or {}).items():
        origins[key_path] = flag
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        lines = []
        for error in exc.errors():
            loc = tuple(str(part) for part in error["loc"] if not isinstance(part, int))
            source = origins.get(loc[:2]) or origins.get(loc[:1]) or str(path)
            key = ".".join(loc) or "(top level)"
            lines.append(f"{source}: {key}: {_describe(error)}")
        raise ConfigError(lines) from None
