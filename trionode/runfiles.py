"""Small JSON files a running node keeps under ``<root>/run/``: where it listens, how it is doing.

They let a local operator tool (``devnet``, ``show``) find ports chosen at bind time (port 0) and
read a node's status without a network round trip. Writes are atomic (write, fsync, rename), so
a reader never sees half a file.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any


def run_dir(root: Path) -> Path:
    return Path(root) / "run"


def ready_path(root: Path, role: str) -> Path:
    """Written once the role listens: {"role", "pid", "port", ...}. Several roles may share a
    root (their certificates live apart under ``ssl/<role>/``), so the file is per role."""
    return run_dir(root) / f"{role}.ready.json"


def status_path(root: Path, role: str) -> Path:
    """Rewritten by a running role as its state changes (a full node: height, tips, peers)."""
    return run_dir(root) / f"{role}.status.json"


def write_json_atomic(path: Path, data: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(data, f, sort_keys=True)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def read_json(path: Path) -> Any | None:
    """The file's JSON, or None when it does not exist (yet) or is unreadable."""
    try:
        with open(path, encoding="utf-8") as f:
            return json.load(f)
    except (OSError, ValueError):
        return None


def clear(root: Path, role: str) -> None:
    """Remove stale run files of a previous process (called at start-up)."""
    for p in (ready_path(root, role), status_path(root, role)):
        try:
            p.unlink()
        except FileNotFoundError:
            pass
