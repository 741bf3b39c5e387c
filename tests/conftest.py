"""Shared fixtures.

Chain fixtures (owned by the consensus developer): real blocks farmed by
``trionode.testing.block_tools.BlockTools`` with real k=18 plots, real VDFs at the ``sim``
discriminant size (16 bits) and real BLS signatures.

- ``plot_dir``: four k=18 plots, made once and kept in the pytest cache directory
  (``.pytest_cache/d/trionode-k18-plots``), so later sessions reuse them; a fresh machine makes
  them in a few seconds.
- ``sim_constants``: the ``sim`` network's constants.
- ``block_tools``: a session-scoped BlockTools for ``sim``.
- ``chain_30`` / ``chain_20``: valid chains of 30 / 20 blocks (heights 0..29 / 0..19, the
  second a prefix of the first); each test gets its own list (the blocks are immutable).
- ``tx_chain``: 16 blocks; from height 8 on each block spends the coinbase coin of the block 8
  below with a fee (rewards of the first 8 blocks go to the pool key).
"""

from __future__ import annotations

import os
from collections.abc import Generator, Sequence
from pathlib import Path

import pytest

from trionode.consensus import SIM, ConsensusConstants, coinbase_coin
from trionode.protocols.chain_types import FullBlock, Transaction
from trionode.testing.block_tools import BlockTools

#: Set by CI (.ci/run): a PostgreSQL case that would skip fails instead.
REQUIRE_POSTGRES_ENV = "TRIONODE_REQUIRE_POSTGRES"

TX_CHAIN_DELAY = 8
TX_CHAIN_FEE = 1_234


@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_makereport(
    item: pytest.Item, call: pytest.CallInfo[None]
) -> Generator[None, pytest.TestReport, None]:
    """With TRIONODE_REQUIRE_POSTGRES=1, a test skipped for want of PostgreSQL fails."""
    outcome = yield
    report: pytest.TestReport = outcome.get_result()  # type: ignore[attr-defined]
    if os.environ.get(REQUIRE_POSTGRES_ENV) != "1" or not report.skipped:
        return
    reason = str(report.longrepr[-1]) if isinstance(report.longrepr, tuple) else ""
    if "PostgreSQL" in reason:
        report.outcome = "failed"
        report.longrepr = f"{REQUIRE_POSTGRES_ENV}=1 but this PostgreSQL case skipped: {reason}"


@pytest.fixture(scope="session")
def plot_dir(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    cache = getattr(request.config, "cache", None)
    if cache is not None:
        return Path(cache.mkdir("trionode-k18-plots"))
    return tmp_path_factory.mktemp("trionode-k18-plots")


@pytest.fixture(scope="session")
def sim_constants() -> ConsensusConstants:
    return SIM


@pytest.fixture(scope="session")
def block_tools(sim_constants: ConsensusConstants, plot_dir: Path) -> BlockTools:
    return BlockTools(sim_constants, plot_dir, num_plots=4, k=18)


@pytest.fixture(scope="session")
def _chain_30(block_tools: BlockTools) -> tuple[FullBlock, ...]:
    return tuple(block_tools.make_chain(30))


@pytest.fixture
def chain_30(_chain_30: tuple[FullBlock, ...]) -> list[FullBlock]:
    return list(_chain_30)


@pytest.fixture
def chain_20(_chain_30: tuple[FullBlock, ...]) -> list[FullBlock]:
    return list(_chain_30[:20])


@pytest.fixture(scope="session")
def _tx_chain(block_tools: BlockTools) -> tuple[FullBlock, ...]:
    def transactions(so_far: Sequence[FullBlock]) -> list[Transaction]:
        height = len(so_far)
        if height < TX_CHAIN_DELAY:
            return []
        old = so_far[height - TX_CHAIN_DELAY].body.coinbase
        coin = coinbase_coin(int(old.height), old.puzzle_hash, int(old.amount))
        return [block_tools.spend_coins([coin], fee=TX_CHAIN_FEE)]

    return tuple(block_tools.make_chain(16, transactions=transactions))


@pytest.fixture
def tx_chain(_tx_chain: tuple[FullBlock, ...]) -> list[FullBlock]:
    return list(_tx_chain)
