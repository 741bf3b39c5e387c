"""``trionode init --root DIR``: the private CA, every role's certificates and config.yaml.

Idempotent: files that exist are never overwritten (keys are precious, and an operator may
have edited config.yaml); running it again only fills in what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trionode.config import Settings
from trionode.peers.identity import ROLES, private_ca_paths, role_cert_paths
from trionode.peers.tls import ensure_ca, ensure_node_certificate, public_ca_paths

__all__ = ["CONFIG_FILE", "DEFAULT_CONFIG", "init_command", "init_root", "load_config"]

CONFIG_FILE = "config.yaml"

# What ``init`` writes: these keys of config.yaml (the ones an operator sets most; the README's
# configuration table lists every key), with the defaults of trionode.config.Settings, the one
# place they are written.
INIT_KEYS: dict[str, tuple[str, ...]] = {
    "": (  # top-level keys
        "network",
        "log_level",
        "log_format",
        "log_max_bytes",
        "log_backups",
    ),
    "full_node": (
        "port",
        "rpc_port",
        "rpc_tls_port",
        "metrics_port",
        "peers",
        "introducer",
        "db",
        "peer_db",
        "target_outbound",
        "max_inbound",
        "validation_workers",
    ),
    "introducer": ("port", "rpc_port", "rpc_tls_port", "metrics_port"),
    "timelord": (
        "port",
        "rpc_port",
        "rpc_tls_port",
        "metrics_port",
        "full_node",
        "workers",
        "vdf_threads",
    ),
    "farmer": (
        "port",
        "rpc_port",
        "rpc_tls_port",
        "metrics_port",
        "full_node",
        "pool",
        "payout_puzzle_hash",
    ),
    "harvester": (
        "port",
        "rpc_port",
        "rpc_tls_port",
        "metrics_port",
        "farmer",
        "plot_dirs",
        "refresh_interval",
        "protocol",
    ),
    "pool": (
        "port",
        "rpc_port",
        "rpc_tls_port",
        "metrics_port",
        "full_node",
        "db",
        "target_partials_per_hour",
        "starting_difficulty",
        "partial_max_depth",
        "partial_max_age",
        "max_partials_per_minute",
        "max_farmers",
        "payout_interval",
        "payout_fee",
    ),
    "peers": (
        "exempt_loopback_from_bans",
        "listen_host",
        "max_message_size",
        "handshake_timeout",
        "ping_interval",
        "idle_timeout",
    ),
}


def _default_config() -> dict[str, Any]:
    defaults = Settings().model_dump(mode="json")
    config: dict[str, Any] = {key: defaults[key] for key in INIT_KEYS[""]}
    for section, keys in INIT_KEYS.items():
        if section:
            config[section] = {key: defaults[section][key] for key in keys}
    return config


DEFAULT_CONFIG: dict[str, Any] = _default_config()


def init_root(root: Path | str) -> list[Path]:
    """Create whatever is missing under ``root``; return the files created (empty: all there)."""
    root = Path(root)
    root.mkdir(parents=True, exist_ok=True)
    created: list[Path] = []
    ca = private_ca_paths(root)
    if ensure_ca(ca, "trionode private CA"):
        created += [ca.crt, ca.key]
    for role in ROLES:
        public = role_cert_paths(root, role, "public")
        if ensure_node_certificate(public, public_ca_paths(), f"trionode {role}"):
            created += [public.crt, public.key]
        private = role_cert_paths(root, role, "private")
        # The private certificate is also the HTTPS RPC's: names for host name checks.
        if ensure_node_certificate(private, ca, f"trionode {role}", local_names=True):
            created += [private.crt, private.key]
    config = root / CONFIG_FILE
    if not config.exists():
        tmp = config.with_name(CONFIG_FILE + ".tmp")
        tmp.write_text(yaml.safe_dump(DEFAULT_CONFIG, sort_keys=False))
        tmp.replace(config)
        created.append(config)
    return created


def load_config(root: Path | str) -> dict[str, Any]:
    """config.yaml under ``root`` (ValueError with the file name if it is not a mapping)."""
    path = Path(root) / CONFIG_FILE
    try:
        data = yaml.safe_load(path.read_text())
    except yaml.YAMLError as exc:
        raise ValueError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def init_command(root: str | Path) -> int:
    """``python -m trionode init --root DIR``: create what is missing, print it, return 0."""
    created = init_root(Path(root))
    if created:
        print(f"trionode init: created {len(created)} files under {root}:")
        for path in created:
            print(f"  {path}")
    else:
        print(f"trionode init: {root} is complete; nothing to do")
    return 0
