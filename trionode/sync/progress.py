"""Sync progress for logs, the status file and the RPC: height / target, blocks/s, ETA."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import attrs


@attrs.define
class SyncProgress:
    target_height: int
    target_hash: str
    start_height: int  # first height this sync downloads
    started_at: float
    clock: Callable[[], float]
    height: int = -1  # our peak height, updated after each committed window
    peers: int = 0

    @property
    def done_blocks(self) -> int:
        return max(0, self.height - self.start_height + 1)

    @property
    def total_blocks(self) -> int:
        return max(0, self.target_height - self.start_height + 1)

    @property
    def fraction(self) -> float:
        return 1.0 if self.total_blocks == 0 else min(1.0, self.done_blocks / self.total_blocks)

    @property
    def blocks_per_second(self) -> float:
        elapsed = self.clock() - self.started_at
        return self.done_blocks / elapsed if elapsed > 0 else 0.0

    @property
    def eta_seconds(self) -> float | None:
        rate = self.blocks_per_second
        if rate <= 0:
            return None
        return max(0, self.target_height - self.height) / rate

    def as_dict(self) -> dict[str, Any]:
        eta = self.eta_seconds
        return {
            "target_height": self.target_height,
            "target": self.target_hash,
            "start_height": self.start_height,
            "height": self.height,
            "progress": round(self.fraction, 4),
            "blocks_per_second": round(self.blocks_per_second, 2),
            "eta_seconds": None if eta is None else round(eta, 1),
            "peers": self.peers,
        }

    def describe(self) -> str:
        eta = self.eta_seconds
        return (
            f"height {self.height} / {self.target_height} ({100 * self.fraction:.1f}%), "
            f"{self.blocks_per_second:.1f} blocks/s, ETA "
            + ("?" if eta is None else f"{eta:.0f} s")
            + f", {self.peers} peers"
        )
