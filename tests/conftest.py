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

Farm fixtures (for tests that run the farmer, harvester and timelord roles, in process or as a
devnet/testnet): ``farm`` is a fresh farm root holding fixed keys (the mnemonic of
``sha256(b"farm")``) and the directory of ``FARM_PLOTS`` k=18 plots of those keys. The plots are
made once per session (kept in the pytest cache like ``plot_dir``) and shared read-only: making
them is the most expensive set-up of the suite, and fixed keys make every run farm with the same
plots (random keys could leave a challenge that no plot answers). ``seed_devnet_farm`` puts the
same farm where a devnet or testnet base directory keeps its farm, so it reuses them.
"""

from __future__ import annotations

import fcntl
import hashlib
import itertools
import os
import shutil
from collections.abc import Callable, Generator, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

import attrs
import pytest
from mnemonic import Mnemonic

from trionode.consensus import SIM, ConsensusConstants, coinbase_coin
from trionode.keys.keychain import FarmKeys, Keychain
from trionode.plotting.create import ensure_plots
from trionode.protocols.chain_types import FullBlock, Transaction
from trionode.testing.block_tools import BlockTools

#: Set by CI (.ci/run): a PostgreSQL case that would skip fails instead.
REQUIRE_POSTGRES_ENV = "TRIONODE_REQUIRE_POSTGRES"

TX_CHAIN_DELAY = 8
TX_CHAIN_FEE = 1_234

#: The shared farm's keys and plots (k=18). At least the four a devnet makes by default, so a
#: devnet seeded with them makes none of its own; six, so two harvesters can have three each.
#: The first four answer the sim and devnet genesis challenges.
FARM_MNEMONIC = Mnemonic("english").to_mnemonic(hashlib.sha256(b"farm").digest())
FARM_PLOTS = 6


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


@contextmanager
def cache_lock(directory: Path) -> Iterator[None]:
    """Holds an exclusive lock on ``directory`` (a pytest cache directory shared by the xdist
    workers of one run, and by runs in parallel): the first worker makes the plots or keys, the
    others wait and then reuse them instead of writing the same files at the same time."""
    with (directory / ".lock").open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


#: Slow test files that cannot carry the mark: the README shows this one verbatim as an example
#: for users' own projects, where the mark would be unknown.
SLOW_FILES = ("test_operator_readme_example.py",)


def _is_slow(item: pytest.Item) -> bool:
    return item.get_closest_marker("slow") is not None or item.path.name in SLOW_FILES


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Tests marked ``slow`` (real node processes, tens of seconds each) start first, spread
    over the workers: one worker that drew several of them late would otherwise keep the run
    going alone after the others had finished.

    xdist's worksteal scheduler hands each of the W workers a contiguous share of the
    collection at the start (sizes as computed below) and later moves tests from the end of
    the longest queue to an idle worker; so each share is made to begin with its own slow
    tests. Every worker collects the same order (the sort is deterministic), as xdist
    requires. If the scheduler ever shares out differently, only the balance suffers."""
    slow = [item for item in items if _is_slow(item)]
    fast = [item for item in items if not _is_slow(item)]
    workers = int(getattr(config, "workerinput", {}).get("workercount", 1))
    if workers <= 1:
        items[:] = slow + fast
        return
    shares, left = [], len(items)
    for i in range(workers):
        shares.append(left // (workers - i))
        left -= shares[-1]
    ordered: list[pytest.Item] = []
    rest = iter(fast)
    for i, size in enumerate(shares):
        own = slow[i::workers]
        ordered += own
        ordered += itertools.islice(rest, max(0, size - len(own)))
    ordered += list(rest)
    assert len(ordered) == len(items)
    items[:] = ordered


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
    with cache_lock(plot_dir):
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


@attrs.frozen
class Farm:
    """A farm root with the fixed farm keys (its own copy) and the shared plot directory."""

    root: Path
    plots: Path
    keys: FarmKeys
    plot_files: tuple[Path, ...]  # in the plots' index order (ensure_plots)


@pytest.fixture(scope="session")
def _farm_template(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Farm:
    cache = getattr(request.config, "cache", None)
    base = (
        Path(cache.mkdir("trionode-k18-farm"))
        if cache is not None
        else tmp_path_factory.mktemp("trionode-k18-farm")
    )
    with cache_lock(base):
        keychain = Keychain(base / "farm")
        if not keychain.exists():
            keychain.add_mnemonic(FARM_MNEMONIC)
        keys = keychain.farm_keys()
        files = ensure_plots(
            base / "plots", 18, FARM_PLOTS, keys.farmer_pk, keys.pool_pk, keys.master_sk
        )
    return Farm(base / "farm", base / "plots", keys, tuple(files))


@pytest.fixture
def farm(_farm_template: Farm, tmp_path: Path) -> Farm:
    """A fresh farm root (the fixed keys only) in this test's directory; the plots are shared
    and must not be changed."""
    root = tmp_path / "farm-root"
    shutil.copytree(_farm_template.root, root)
    return attrs.evolve(_farm_template, root=root)


@pytest.fixture
def seed_devnet_farm(_farm_template: Farm) -> Callable[[Path], Farm]:
    """``seed(base)``: the shared farm (keys, plots hard-linked where possible) where a devnet
    or testnet on ``base`` keeps its farm (``base/farm``, ``base/plots``), so it reuses them
    instead of generating keys and making plots."""

    def seed(base: Path) -> Farm:
        shutil.copytree(_farm_template.root, base / "farm")
        files = link_plots(_farm_template.plot_files, base / "plots")
        return attrs.evolve(
            _farm_template, root=base / "farm", plots=base / "plots", plot_files=files
        )

    return seed


def link_plots(plots: Sequence[Path], directory: Path) -> tuple[Path, ...]:
    """``plots`` in ``directory``, hard-linked where possible (plots are never written to)."""
    directory.mkdir(parents=True, exist_ok=True)
    out = []
    for plot in plots:
        target = directory / plot.name
        try:
            os.link(plot, target)
        except OSError:  # another file system
            shutil.copy2(plot, target)
        out.append(target)
    return tuple(out)


def pytest_xdist_auto_num_workers(config: pytest.Config) -> int:
    """``-n auto``: one worker per core, at least two (the suite mostly waits on processes and
    sockets) and at most four (each worker farms its own session chains)."""
    return max(2, min(4, os.cpu_count() or 2))
