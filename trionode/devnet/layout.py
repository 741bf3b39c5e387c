"""Where a devnet keeps its parts under ``--root DIR``.

DIR/introducer/       root of the introducer
DIR/full_node_<i>/    root of full node i (its chain store under db/)
DIR/farm/             root shared by the farmer, harvester and timelord (keys, private CA)
DIR/plots/            the farm's plots
DIR/logs/<name>.out   each process's console output (its log file is ROOT/log/<role>.log)
"""

from __future__ import annotations

from pathlib import Path

import attrs


@attrs.frozen
class DevnetLayout:
    base: Path

    @property
    def introducer(self) -> Path:
        return self.base / "introducer"

    def full_node(self, i: int) -> Path:
        return self.base / f"full_node_{i}"

    @property
    def farm(self) -> Path:
        return self.base / "farm"

    @property
    def plots(self) -> Path:
        return self.base / "plots"

    def console_log(self, name: str) -> Path:
        return self.base / "logs" / f"{name}.out"
