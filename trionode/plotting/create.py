"""Creating plots with chiapos.

chiapos prints from C++ to stdout, so each plot is made in a child process
(``trionode.plotting._plotter``) whose output is read line by line: ``Progress update: 0.42``
lines become progress callbacks, the rest goes to DEBUG logging. A plot is written under a
hidden work directory inside the final directory and renamed into place only when complete, so
a half-written plot never carries a ``.plot`` name where a harvester would load it.
"""

from __future__ import annotations

import functools
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from blspy import PrivateKey

from trionode.keys.derive import (
    as_g1,
    local_master_sk_for_plot,
    plot_local_sk,
    plot_public_key,
)
from trionode.plotting.memo import make_memo, plot_filename, plot_id_for, pool_bytes
from trionode.wire import bytes32

__all__ = [
    "MIN_K",
    "PlotCreateError",
    "ProgressCallback",
    "create_plot",
    "ensure_plots",
    "planned_plot",
]

logger = logging.getLogger(__name__)

MIN_K = 18  # chiapos' own minimum; networks may demand more (see plotting.cli)
MAX_K = 50
WORK_DIR_PREFIX = ".plotting-"

#: Called with the fraction done (0.0 to 1.0) of the plot being made.
ProgressCallback = Callable[[float], None]

_PROGRESS_RE = re.compile(r"^Progress update:\s*([0-9.]+)")


class PlotCreateError(Exception):
    """chiapos failed to make a plot, or the arguments are unusable."""


def planned_plot(
    k: int, farmer_pk: Any, pool_pk: Any, local_master_sk: PrivateKey
) -> tuple[bytes32, str, bytes]:
    """(plot_id, file name, memo) of the plot these keys make."""
    local_pk = plot_local_sk(local_master_sk).get_g1()
    plot_pk = plot_public_key(local_pk, farmer_pk)
    plot_id = plot_id_for(pool_pk, plot_pk)
    return plot_id, plot_filename(k, plot_id), make_memo(pool_pk, farmer_pk, local_master_sk)


def create_plot(
    final_dir: Path,
    k: int,
    farmer_pk: Any,
    pool_pk: Any,
    local_master_sk: PrivateKey,
    *,
    tmp_dir: Path | None = None,
    progress: ProgressCallback | None = None,
) -> Path:
    """Make one plot in ``final_dir`` and return its path; reuse it if the file already exists.

    Blocking (seconds to hours depending on k): call it from a worker thread under trio.
    ``tmp_dir`` holds chiapos' temporary files (default: a work directory inside ``final_dir``).
    """
    if not MIN_K <= k <= MAX_K:
        raise PlotCreateError(f"plot size k={k} is out of range [{MIN_K}, {MAX_K}]")
    as_g1(farmer_pk), pool_bytes(pool_pk)  # fail early on bad keys
    final_dir = Path(final_dir)
    plot_id, filename, memo = planned_plot(k, farmer_pk, pool_pk, local_master_sk)
    final_path = final_dir / filename
    if final_path.exists():
        logger.info("plot %s already exists, reusing it", final_path)
        if progress is not None:
            progress(1.0)
        return final_path

    final_dir.mkdir(parents=True, exist_ok=True)
    # Same file system as the final path, so the last step is an atomic rename.
    work = Path(tempfile.mkdtemp(prefix=WORK_DIR_PREFIX, dir=final_dir))
    tmp_work = (
        work if tmp_dir is None else Path(tempfile.mkdtemp(prefix=WORK_DIR_PREFIX, dir=tmp_dir))
    )
    try:
        _run_plotter(tmp_work, work, filename, k, memo, plot_id, progress)
        made = work / filename
        if not made.is_file():
            raise PlotCreateError(f"chiapos reported success but wrote no {made}")
        os.replace(made, final_path)
    finally:
        shutil.rmtree(work, ignore_errors=True)
        if tmp_work != work:
            shutil.rmtree(tmp_work, ignore_errors=True)
    logger.info("created plot %s (k=%d)", final_path, k)
    if progress is not None:
        progress(1.0)
    return final_path


def _run_plotter(
    tmp: Path,
    final: Path,
    filename: str,
    k: int,
    memo: bytes,
    plot_id: bytes,
    progress: ProgressCallback | None,
) -> None:
    argv = [
        sys.executable,
        "-m",
        "trionode.plotting._plotter",
        str(tmp),
        str(tmp),
        str(final),
        filename,
        str(k),
        memo.hex(),
        plot_id.hex(),
    ]
    tail: list[str] = []
    proc = subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        errors="replace",
    )
    try:
        assert proc.stdout is not None
        for raw in proc.stdout:
            line = raw.rstrip()
            if not line:
                continue
            tail = [*tail[-19:], line]
            match = _PROGRESS_RE.match(line)
            if match is not None and progress is not None:
                progress(min(float(match.group(1)), 0.99))
            logger.debug("chiapos: %s", line)
        returncode = proc.wait()
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
        if proc.stdout is not None:
            proc.stdout.close()
    if returncode != 0:
        raise PlotCreateError(
            f"chiapos failed making {filename} (exit status {returncode}): " + " | ".join(tail[-5:])
        )


def ensure_plots(
    final_dir: Path,
    k: int,
    n: int,
    farmer_pk: Any,
    pool_pk: Any,
    master_sk: PrivateKey,
    *,
    tmp_dir: Path | None = None,
    progress: Callable[[int, float], None] | None = None,
) -> list[Path]:
    """Plots number 0..n-1 of ``master_sk`` in ``final_dir``, making those that are missing.

    Deterministic: the same keys and k give the same plot ids and files, so re-running reuses
    them. ``progress(index, fraction)`` reports each plot's progress.
    """
    if n < 0:
        raise ValueError(f"number of plots must be >= 0, got {n}")
    paths = []
    for index in range(n):
        per_plot = None if progress is None else functools.partial(progress, index)
        paths.append(
            create_plot(
                final_dir,
                k,
                farmer_pk,
                pool_pk,
                local_master_sk_for_plot(master_sk, index),
                tmp_dir=tmp_dir,
                progress=per_plot,
            )
        )
    return paths
