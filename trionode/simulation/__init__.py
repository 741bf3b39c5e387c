"""Deterministic network simulation: whole networks of real full nodes in one process on
trio's virtual clock, with faults and hostile peers drawn from a seed (see the README)."""

from trionode.simulation.config import ConfigError, SimConfig, parse_faults, parse_seeds
from trionode.simulation.report import SimReport
from trionode.simulation.run import run_simulation

__all__ = ["ConfigError", "SimConfig", "SimReport", "parse_faults", "parse_seeds", "run_simulation"]
