"""Where a devnet keeps its parts under ``--root DIR``.

DIR/introducer/       root of the introducer
DIR/full_node_<i>/    root of full node i (its chain store under db/)
DIR/farm/             root shared by the farmer, harvester and timelord (keys, private CA)
DIR/plots/            the farm's plots
DIR/logs/<name>.out   each process's console output (its log file is ROOT/log/<role>.log)
DIR/harvester_<i>/    root of harvester i >= 1 (``--harvesters v1,v2``; harvester 0 uses farm/)
DIR/plots_<i>/        the plots of harvester i >= 1
DIR/pool/             root of the pool (``--pool``: its keys, its store)
DIR/pooled_plots/     the farm's plots pooled to that pool (harvester 0 farms them too)
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

    def harvester(self, i: int) -> Path:
        return self.farm if i == 0 else self.base / f"harvester_{i}"

    def harvester_plots(self, i: int) -> Path:
        return self.plots if i == 0 else self.base / f"plots_{i}"

    @property
    def pool(self) -> Path:
        return self.base / "pool"

    @property
    def pooled_plots(self) -> Path:
        return self.base / "pooled_plots"

    def console_log(self, name: str) -> Path:
        return self.base / "logs" / f"{name}.out"
