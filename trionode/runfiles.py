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


# -- one process per root and role ----------------------------------------------------------------


class RootBusy(Exception):
    """Another live process holds the lock of this root and role."""

    def __init__(self, role: str, root: Path, pid: int | None) -> None:
        self.role = role
        self.root = root
        self.pid = pid
        who = f"another {role}" + (f" (pid {pid})" if pid is not None else "")
        super().__init__(f"{who} is using {root}")


def lock_path(root: Path, role: str) -> Path:
    """``ROOT/run/<role>.lock``: the pid of the process that runs ``role`` on ``root``."""
    return run_dir(root) / f"{role}.lock"


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


class RootLock:
    """An OS file lock (``flock``) on ``ROOT/run/<role>.lock``, held while the process lives.

    Two writers on one chain store (or two processes overwriting one ready file) must never
    run; the kernel drops a ``flock`` when its holder dies, however it dies, so a crash leaves
    nothing to clean up by hand. The file holds the holder's pid, for the refusal message, and
    is emptied on a clean release: a pid found in it when the lock is free again was left by a
    process that did not stop cleanly (``stale_pid``).
    """

    def __init__(self, root: Path, role: str) -> None:
        self.root = Path(root)
        self.role = role
        self.path = lock_path(self.root, role)
        self.fd: int | None = None
        self.stale_pid: int | None = None

    def acquire(self, *, write_pid: bool = True) -> RootLock:
        """Take the lock (RootBusy if another live process holds it) and write our pid."""
        import fcntl

        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise RootBusy(self.role, self.root, pid) from None
        except BaseException:
            os.close(fd)
            raise
        stale = _read_pid(fd)
        self.stale_pid = stale if stale != os.getpid() else None
        if not write_pid:  # a probe: leave the file as it is
            os.close(fd)
            return self
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self.fd = fd
        return self

    def release(self) -> None:
        if self.fd is None:
            return
        try:
            os.ftruncate(self.fd, 0)  # a clean stop: nothing stale left behind
        finally:
            os.close(self.fd)  # closing the last descriptor drops the flock
            self.fd = None

    def __enter__(self) -> RootLock:
        return self.acquire()

    def __exit__(self, *exc: object) -> None:
        self.release()


def check_free(root: Path, role: str) -> None:
    """RootBusy if a live process holds ``role``'s lock on ``root`` (the lock is not kept).

    ``devnet`` and ``testnet`` check every root they will use before starting anything; each
    role process then takes its own lock for its life.
    """
    if lock_path(root, role).exists():
        RootLock(root, role).acquire(write_pid=False)


# -- devnet and testnet directories -------------------------------------------------------------


def network_members(base: Path) -> dict[str, Path]:
    """The node roots of a ``devnet`` or ``testnet`` directory, by name, or {} for another root.

    devnet: ``introducer``, ``full_node_0``, ``full_node_1``, ..., ``farm``; testnet: ``n0``,
    ``n1``, ..., ``farm``. A directory is one of them when it is not a root itself (no
    config.yaml of its own) and holds node directories under these names. ``farmer``, ``harvester``
    and ``timelord`` are names of the farm's root too (the three roles share it).
    """
    base = Path(base)
    if (base / "config.yaml").exists() or not base.is_dir():
        return {}
    found: dict[str, Path] = {}
    for prefix in ("full_node_", "n"):
        numbered = sorted(
            int(p.name.removeprefix(prefix))
            for p in base.glob(f"{prefix}*")
            if p.name.removeprefix(prefix).isdigit() and p.is_dir()
        )
        for i in numbered:
            found[f"{prefix}{i}"] = base / f"{prefix}{i}"
    if not found:
        return {}
    for name in ("introducer", "farm"):
        if (base / name).is_dir():
            found[name] = base / name
    return found


def network_kind(members: dict[str, Path]) -> str:
    return "devnet" if any(name.startswith("full_node_") for name in members) else "testnet"


def full_node_names(members: dict[str, Path]) -> list[str]:
    return [n for n in members if n.startswith("full_node_") or (n[:1] == "n" and n[1:].isdigit())]


FARM_ALIASES = ("farmer", "harvester", "timelord")


def pick_member(base: Path, members: dict[str, Path], name: str) -> Path:
    """The root of node ``name`` (ValueError naming the nodes there are)."""
    key = "farm" if name in FARM_ALIASES else name
    if key in members:
        return members[key]
    raise ValueError(
        f"--node {name}: {base} has no node {name!r}; its nodes are {', '.join(members)}"
    )
