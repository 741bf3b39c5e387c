"""One process of a testnet and what can be read of it from its root (no process control:
:mod:`trionode.testnet.network` starts and stops it)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import attrs

from trionode import runfiles
from trionode.devnet.processes import ProcessExited

LOCAL = "127.0.0.1"


class TestnetError(Exception):
    """The testnet could not do what was asked; the message says why (with log tails)."""

    __test__ = False  # not a pytest test class


@attrs.define(eq=False)
class TestnetNode:
    """One process of the testnet (full node, or farmer/harvester/timelord of the farm)."""

    __test__ = False

    name: str
    role: str
    root: Path
    console_log: Path
    port: int = 0  # pinned after the first start
    ready: dict[str, Any] = attrs.field(factory=dict)
    running: bool = False
    exited: ProcessExited | None = None

    @property
    def log_file(self) -> Path:
        return self.root / "log" / f"{self.role}.log"

    def status(self) -> dict[str, Any] | None:
        """The node's status file (full nodes): height, peak, tips, peers, ... or None."""
        data = runfiles.read_json(runfiles.status_path(self.root, self.role))
        return data if isinstance(data, dict) else None

    @property
    def height(self) -> int | None:
        st = self.status()
        return None if st is None else st.get("height")

    @property
    def peak(self) -> str | None:
        st = self.status()
        return None if st is None else st.get("peak")

    def full_node_peers(self) -> int:
        st = self.status() or {}
        return int(st.get("peers", {}).get("full_node", 0))

    @property
    def address(self) -> str:
        return f"{LOCAL}:{self.port}"
