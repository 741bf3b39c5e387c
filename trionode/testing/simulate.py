"""A pytest fixture for users' own simulations.

    from trionode.testing.simulate import simulate  # noqa: F401 (or list this module
                                                           # in pytest_plugins)

    def test_my_network(simulate):
        report = simulate(seed=7, nodes=6, blocks=12, faults="partition,crash", byzantine=1)
        assert report.ok, report.summary()

Each call runs one :class:`~trionode.simulation.SimConfig` under the test's temporary
directory. The block tools' plots and proofs of time are kept under ``TRIONODE_SIM_CACHE``
(default ``~/.cache/trionode/sim``), made once.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from trionode.simulation.config import SimConfig, parse_faults
from trionode.simulation.report import SimReport
from trionode.simulation.run import run_simulation

Simulate = Callable[..., SimReport]


@pytest.fixture
def simulate(tmp_path: Path) -> Simulate:
    runs = 0

    def run(*, seed: int, faults: str | frozenset[str] = "", **options: Any) -> SimReport:
        nonlocal runs
        runs += 1
        names = parse_faults(faults) if isinstance(faults, str) else frozenset(faults)
        work = tmp_path / f"sim-{runs}"
        config = SimConfig(seed=seed, faults=names, work_dir=work, **options)
        return run_simulation(config)

    return run
