"""One simulated run: a whole network in one ``trio.run`` on a virtual clock, every random
choice from the seed.

Determinism: trio's own scheduler shuffles each batch of runnable tasks with a module-level
``random.Random``; it is seeded from the run's seed (and restored afterwards), and trio's
deterministic-scheduling switch is on for the run (batches sorted by task creation first). Blocking work
runs inline (:class:`~trionode.nursery.offload.InlineExecutor`), wall time is the virtual
clock plus each node's skew, every node's random choices come from its own seeded generator,
node ids are derived from the seed. Set iteration over bytes depends on ``PYTHONHASHSEED``:
the ``simulate`` command pins it, so a seed gives one event-log hash on any machine.

Phases (virtual time): the farm makes ``blocks`` blocks while faults come and go; then every
fault heals, crashed nodes restart, the Byzantine lurkers strike at the last blocks, and every
honest node must reach the same heaviest tip within ``settle_seconds``.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import time
from pathlib import Path

import trio
import trio._core._run as trio_run

from trionode.simulation.clock import JumpingClock
from trionode.simulation.config import SimConfig
from trionode.simulation.invariants import EscapedErrors
from trionode.simulation.report import SimReport
from trionode.simulation.world import SimWorld

__all__ = ["run_simulation"]


def run_simulation(config: SimConfig) -> SimReport:
    """Run ``config`` to the end and return its report (``report.ok``: every invariant held)."""
    work = config.work_dir
    temporary = work is None
    if work is None:
        shm = Path("/dev/shm")  # stores on tmpfs: fsyncs cost nothing
        work = Path(tempfile.mkdtemp(prefix="trionode-sim-", dir=shm if shm.is_dir() else None))
    state = trio_run._r.getstate()
    trio_run._r.seed(f"trionode sim scheduling {config.seed}")
    # trio's own switch for replayable runs (pytest-trio sets it under Hypothesis): each batch
    # of runnable tasks is sorted by task creation order before the seeded shuffle, so the
    # order tasks were woken in (sets hashed by object id, different in every process) is
    # forgotten.
    deterministic = trio_run._ALLOW_DETERMINISTIC_SCHEDULING
    trio_run._ALLOW_DETERMINISTIC_SCHEDULING = True  # type: ignore[misc]
    errors = EscapedErrors()
    logging.getLogger("trionode").addHandler(errors)
    started = time.perf_counter()
    try:
        world = SimWorld(config, work, errors)
        trio.run(world.main, clock=JumpingClock())
    finally:
        logging.getLogger("trionode").removeHandler(errors)
        trio_run._r.setstate(state)
        trio_run._ALLOW_DETERMINISTIC_SCHEDULING = deterministic  # type: ignore[misc]
        if temporary:
            shutil.rmtree(work, ignore_errors=True)
    return world.report(time.perf_counter() - started)
