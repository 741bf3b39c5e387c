"""What one simulated run is: its seed, size, topology, faults and adversaries."""

from __future__ import annotations

from pathlib import Path

import attrs

FAULTS = ("partition", "loss", "delay", "duplicate", "reorder", "crash", "clock-skew", "slow-disk")
TOPOLOGIES = ("random", "line", "ring", "star", "clusters")


class ConfigError(ValueError):
    """A run description the simulator cannot run (the CLI prints it as one line)."""


@attrs.frozen
class SimConfig:
    """``blocks``: blocks the honest farm makes before the faults heal and the run settles;
    ``until_height`` / ``virtual_seconds`` end the farming earlier. ``settle_seconds`` is the
    bound of virtual time within which every honest node must reach the same heaviest tip after
    the last fault healed (the convergence invariant)."""

    seed: int
    nodes: int = 50
    blocks: int = 1000
    topology: str = "random"
    faults: frozenset[str] = frozenset()
    byzantine: int = 0
    until_height: int | None = None
    virtual_seconds: float | None = None
    report: Path | None = None
    event_log: Path | None = None  # every event, one line each (the hash covers them all)
    work_dir: Path | None = None  # None: a temporary directory, removed afterwards
    plot_dir: Path | None = None  # None: the per-user cache (plots are made once)
    settle_seconds: float = 300.0
    block_interval: float = 8.0  # mean virtual seconds between honest blocks
    degree: int = 3  # outbound connections per node (random topology)

    def __attrs_post_init__(self) -> None:
        if self.nodes < 2:
            raise ConfigError("--nodes must be at least 2")
        if self.blocks < 1:
            raise ConfigError("--blocks must be at least 1")
        if self.byzantine < 0 or self.byzantine >= self.nodes:
            raise ConfigError("--byzantine must be between 0 and nodes - 1")
        if self.topology not in TOPOLOGIES:
            raise ConfigError(
                f"unknown topology {self.topology!r} (one of {', '.join(TOPOLOGIES)})"
            )
        unknown = set(self.faults) - set(FAULTS)
        if unknown:
            raise ConfigError(f"unknown fault {sorted(unknown)[0]!r} (any of {', '.join(FAULTS)})")

    @property
    def honest(self) -> int:
        return self.nodes - self.byzantine

    def replay_command(self) -> str:
        """The command line that runs exactly this simulation again."""
        parts = [
            "python -m trionode simulate",
            f"--seed {self.seed}",
            f"--nodes {self.nodes}",
            f"--blocks {self.blocks}",
            f"--topology {self.topology}",
        ]
        if self.faults:
            parts.append("--faults " + ",".join(f for f in FAULTS if f in self.faults))
        if self.byzantine:
            parts.append(f"--byzantine {self.byzantine}")
        if self.until_height is not None:
            parts.append(f"--until-height {self.until_height}")
        if self.virtual_seconds is not None:
            parts.append(f"--virtual-seconds {self.virtual_seconds:g}")
        return " ".join(parts)


def parse_faults(text: str) -> frozenset[str]:
    names = frozenset(n.strip() for n in text.split(",") if n.strip())
    unknown = names - set(FAULTS)
    if unknown:
        raise ConfigError(f"unknown fault {sorted(unknown)[0]!r} (any of {', '.join(FAULTS)})")
    return names


def parse_seeds(text: str) -> range:
    """``7`` or ``1-1000`` (inclusive)."""
    try:
        if "-" in text:
            first, last = (int(x) for x in text.split("-", 1))
        else:
            first = last = int(text)
    except ValueError:
        raise ConfigError(f"--seeds wants A-B (e.g. 1-1000), got {text!r}") from None
    if first < 0 or last < first:
        raise ConfigError(f"--seeds wants A-B with 0 <= A <= B, got {text!r}")
    return range(first, last + 1)
