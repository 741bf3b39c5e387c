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

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

import attrs
import yaml
from pydantic import BaseModel, ConfigDict, ValidationError

from trionode.blockchain.blockchain import DEFAULT_VALIDATION_WORKERS
from trionode.config_values import (
    Count,
    Flag,
    HarvesterProtocol,
    HostPorts,
    IpAddress,
    LogFormat,
    LogLevel,
    Network,
    OptionalHostPort,
    OptionalPort,
    OptionalPuzzleHash,
    OptionalText,
    Paths,
    Port,
    PositiveFloat,
    PositiveInt,
)
from trionode.mempool.mempool import DEFAULT_MAX_BLOCKS, DEFAULT_MAX_BYTES
from trionode.peers.limits import PeerLimits
from trionode.peers.manager import PeerManagerConfig
from trionode.storage.peer_store import AddressLimits
from trionode.sync import IntakeLimits

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


# ---------------------------------------------------------------------------- the model


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, validate_default=False)


# Defaults that belong to a lower layer are written there once: the intake's bounds, the
# address table's bounds.
_INTAKE = IntakeLimits()
_ADDRESSES = AddressLimits()


class _ServiceSection(_Frozen):
    """The shell every role's section shares (trionode.service.ServiceSettings); each role
    gives its own ``port`` and ``rpc_port`` defaults (PROTOCOL.md, Ports)."""

    port: Port
    rpc_port: OptionalPort
    rpc_tls_port: OptionalPort = 0
    metrics_port: OptionalPort = None


class FullNodeSettings(_ServiceSection):
    port: Port = 8444
    rpc_port: OptionalPort = 8555
    peers: HostPorts = ()
    introducer: OptionalHostPort = None
    db: OptionalText = None
    peer_db: OptionalText = None
    target_outbound: Count = PeerManagerConfig.target_outbound
    max_inbound: Count = PeerLimits().max_inbound
    validation_workers: PositiveInt = DEFAULT_VALIDATION_WORKERS
    # Bounds of the pools of peer input (docs/protocol.md section 2); defaults in IntakeLimits.
    seen_cache_size: PositiveInt = _INTAKE.seen_cache_size
    orphan_max_blocks: Count = _INTAKE.orphan_max_blocks
    orphan_max_bytes: PositiveInt = _INTAKE.orphan_max_bytes
    unfinished_per_proof: PositiveInt = _INTAKE.unfinished_per_proof
    unfinished_max_blocks: PositiveInt = _INTAKE.unfinished_max_blocks
    unfinished_max_bytes: PositiveInt = _INTAKE.unfinished_max_bytes
    short_sync_max_bytes: PositiveInt = _INTAKE.short_sync_max_bytes
    short_sync_max_running: PositiveInt = _INTAKE.short_sync_max_running

    def intake_limits(self) -> IntakeLimits:
        """The ``IntakeLimits`` these keys set."""
        names = [field.name for field in attrs.fields(IntakeLimits)]
        return IntakeLimits(**{name: getattr(self, name) for name in names})

    # Bounded pools (docs/protocol.md section 3): the mempool (defaults in the mempool), the
    # peer address table.
    mempool_max_bytes: PositiveInt = DEFAULT_MAX_BYTES
    mempool_max_blocks: PositiveInt = DEFAULT_MAX_BLOCKS
    max_addresses: PositiveInt = _ADDRESSES.max_addresses
    max_addresses_per_source: PositiveInt = _ADDRESSES.max_per_source
    max_addresses_per_group: PositiveInt = _ADDRESSES.max_per_group
    max_addresses_per_reply: PositiveInt = _ADDRESSES.max_per_reply

    def address_limits(self) -> AddressLimits:
        """The address table's bounds these keys set (docs/protocol.md section 3)."""
        return AddressLimits(
            max_addresses=self.max_addresses,
            max_per_source=self.max_addresses_per_source,
            max_per_group=self.max_addresses_per_group,
            max_per_reply=self.max_addresses_per_reply,
        )


class IntroducerSettings(_ServiceSection):
    port: Port = 8445
    rpc_port: OptionalPort = 8556


class TimelordSettings(_ServiceSection):
    port: Port = 8446
    rpc_port: OptionalPort = 8557
    full_node: OptionalHostPort = None
    workers: PositiveInt = 1
    vdf_threads: Flag = False


class FarmerSettings(_ServiceSection):
    port: Port = 8447
    rpc_port: OptionalPort = 8559
    full_node: OptionalHostPort = None
    pool: OptionalHostPort = None
    payout_puzzle_hash: OptionalPuzzleHash = None


class HarvesterSettings(_ServiceSection):
    port: Port = 8448
    rpc_port: OptionalPort = 8560
    farmer: OptionalHostPort = None
    plot_dirs: Paths = ()
    refresh_interval: PositiveFloat = 10.0
    protocol: HarvesterProtocol = "v2"


class PoolSettings(_ServiceSection):
    """The pool role (docs/protocol.md section 5)."""

    port: Port = 8449
    rpc_port: OptionalPort = 8561
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
