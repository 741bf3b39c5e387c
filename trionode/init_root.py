"""``trionode init --root DIR``: the private CA, every role's certificates and config.yaml.

Idempotent: files that exist are never overwritten (keys are precious, and an operator may
have edited config.yaml); running it again only fills in what is missing.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from trionode.peers.identity import ROLES, private_ca_paths, role_cert_paths
from trionode.peers.tls import ensure_ca, ensure_node_certificate, public_ca_paths

__all__ = ["CONFIG_FILE", "DEFAULT_CONFIG", "init_command", "init_root", "load_config"]

CONFIG_FILE = "config.yaml"

# What ``init`` writes; every key is described in the README (Configuration) and validated by
# trionode.config.Settings, whose defaults these are (a test keeps the two equal).
DEFAULT_CONFIG: dict[str, Any] = {
    "network": "devnet",
    "log_level": "INFO",
    "log_format": "console",
    "log_max_bytes": 10 * 2**20,
    "log_backups": 3,
    "full_node": {
        "port": 8444,
        "rpc_port": 8555,
        "rpc_tls_port": 0,
        "metrics_port": None,
        "peers": [],
        "introducer": None,
        "db": None,
        "peer_db": None,
        "target_outbound": 8,
        "max_inbound": 80,
        "validation_workers": 2,
    },
    "introducer": {"port": 8445, "rpc_port": 8556, "rpc_tls_port": 0, "metrics_port": None},
    "timelord": {
        "port": 8446,
        "rpc_port": 8557,
        "rpc_tls_port": 0,
        "metrics_port": None,
        "full_node": None,
        "workers": 1,
        "vdf_threads": False,
    },
    "farmer": {
        "port": 8447,
        "rpc_port": 8559,
        "rpc_tls_port": 0,
        "metrics_port": None,
        "full_node": None,
        "pool": None,
        "payout_puzzle_hash": None,
    },
    "harvester": {
        "port": 8448,
        "rpc_port": 8560,
        "rpc_tls_port": 0,
        "metrics_port": None,
        "farmer": None,
        "plot_dirs": [],
        "refresh_interval": 10.0,
        "protocol": "v2",
    },
    "pool": {
        "port": 8449,
        "rpc_port": 8561,
        "rpc_tls_port": 0,
        "metrics_port": None,
        "full_node": None,
        "db": None,
        "target_partials_per_hour": 300,
        "starting_difficulty": 1,
        "partial_max_depth": 4,
        "partial_max_age": 300.0,
        "max_partials_per_minute": 120,
        "max_farmers": 10_000,
        "payout_interval": 600.0,
        "payout_fee": 0,
    },
    "peers": {
        "exempt_loopback_from_bans": False,
        "listen_host": "127.0.0.1",
        "max_message_size": 50 * 2**20,
        "handshake_timeout": 10.0,
        "ping_interval": 30.0,
        "idle_timeout": 90.0,
    },
}


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
