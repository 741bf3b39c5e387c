"""The end-of-run report: what happened, what was checked, and the event-log hash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import attrs

from trionode.simulation.links import percentile


@attrs.define
class SimReport:
    seed: int
    replay: str
    event_log_sha256: str
    events: int
    wall_seconds: float
    virtual_seconds: float
    blocks_made: int
    final_height: int | None
    forks: int  # blocks made that are not on the final heaviest chain
    reorgs: int
    deepest_reorg: int
    equivocations: int
    latencies: list[float] = attrs.field(repr=False)
    bytes_sent: dict[str, int] = attrs.field(repr=False)
    bans: dict[str, int]
    faults: dict[str, int]
    attacks: dict[str, int]
    transactions: dict[str, int]
    invariants_checked: dict[str, int]
    violations: list[str]
    converged_after: float | None
    vdfs_run: int
    log_tail: list[str] = attrs.field(repr=False)

    @property
    def ok(self) -> bool:
        return not self.violations

    @property
    def blocks_per_second(self) -> float:
        return self.blocks_made / self.wall_seconds if self.wall_seconds else 0.0

    def as_json(self) -> dict[str, Any]:
        out = attrs.asdict(self)
        out["ok"] = self.ok
        out["blocks_per_second"] = round(self.blocks_per_second, 2)
        out["propagation_seconds"] = {
            f"p{q}": percentile(self.latencies, q) for q in (50, 90, 99, 100)
        }
        del out["latencies"]
        return out

    def write(self, path: Path) -> None:
        path.write_text(json.dumps(self.as_json(), indent=2, sort_keys=True) + "\n")

    def summary(self) -> str:
        lat = {q: percentile(self.latencies, q) for q in (50, 90, 99)}
        sent = sorted(self.bytes_sent.values()) or [0]
        lines = [
            f"seed {self.seed}: {'ok' if self.ok else 'FAILED'}",
            f"  blocks made {self.blocks_made}, final height {self.final_height}, "
            f"forks {self.forks}, reorgs {self.reorgs} (deepest {self.deepest_reorg}), "
            f"equivocations {self.equivocations}",
            "  propagation (virtual s) "
            + ", ".join(f"p{q} {'-' if v is None else f'{v:.2f}'}" for q, v in lat.items()),
            f"  bytes sent per node: min {sent[0]}, median {sent[len(sent) // 2]}, max {sent[-1]}",
            f"  bans by reason: {_fmt(self.bans)}",
            f"  faults injected: {_fmt(self.faults)}",
            f"  attacks sent: {_fmt(self.attacks)}",
            f"  transactions: {_fmt(self.transactions)}",
            f"  invariants checked: {_fmt(self.invariants_checked)}",
            f"  converged {'-' if self.converged_after is None else f'{self.converged_after:.1f}'}"
            " virtual s after the last heal",
            f"  wall {self.wall_seconds:.1f} s, virtual {self.virtual_seconds:.0f} s, "
            f"{self.blocks_per_second:.1f} blocks/s, {self.events} events",
            f"  event log sha256 {self.event_log_sha256}",
        ]
        for v in self.violations[:20]:
            lines.append(f"  VIOLATION {v}")
        return "\n".join(lines)


def _fmt(counts: dict[str, int]) -> str:
    return ", ".join(f"{k} {v}" for k, v in sorted(counts.items())) or "none"
