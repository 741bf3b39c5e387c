"""Devnet set-up on a fresh or reused root: certificates, config, keys, plots."""

from __future__ import annotations

import logging
import shutil
from collections.abc import Callable
from typing import Any

import yaml

from trionode.consensus import ConsensusConstants
from trionode.devnet.layout import DevnetLayout
from trionode.init_root import init_root
from trionode.keys.derive import local_master_sk_for_plot
from trionode.keys.keychain import FarmKeys, Keychain
from trionode.plotting.create import create_plot, ensure_plots
from trionode.plotting.manager import PlotManager
from trionode.wire import bytes32

logger = logging.getLogger(__name__)

MAX_EXTRA_PLOTS = 8


def prepare(
    layout: DevnetLayout,
    constants: ConsensusConstants,
    *,
    full_nodes: int,
    plots: int,
    k: int,
    say: Callable[[str], None],
) -> FarmKeys:
    """Create whatever is missing; reuse keys, plots and chains that are there."""
    for root in [layout.introducer, *(layout.full_node(i) for i in range(full_nodes))]:
        init_root(root)
    return prepare_farm(layout, constants, plots=plots, k=k, say=say)


def prepare_farm(
    layout: DevnetLayout,
    constants: ConsensusConstants,
    *,
    plots: int,
    k: int,
    say: Callable[[str], None],
) -> FarmKeys:
    """The farm part of :func:`prepare` (root, keys, plots that answer the genesis challenge),
    for any set of full nodes (``trionode.testnet`` uses it with its own node roots)."""
    init_root(layout.farm)
    keychain = Keychain(layout.farm)
    if keychain.exists():
        say(f"reusing the farm keys in {layout.farm}")
    else:
        keychain.generate()
        say(f"generated farm keys in {layout.farm}")
    keys = keychain.farm_keys()
    if k < constants.MIN_PLOT_SIZE:
        raise ValueError(
            f"k={k} is below the {constants.network_name} minimum plot size {constants.MIN_PLOT_SIZE}"
        )
    count = plots
    _ensure(layout, k, count, keys, say)
    # A challenge that no plot answers stops a lone farm at genesis for good (each k plot has
    # no proof for ~37% of challenges). Add plots until the genesis challenge has a proof.
    while not _genesis_has_proof(layout, constants, keys) and count < plots + MAX_EXTRA_PLOTS:
        count += 1
        say(f"no plot answers the genesis challenge: adding plot {count}")
        _ensure(layout, k, count, keys, say)
    return keys


def _ensure(
    layout: DevnetLayout, k: int, n: int, keys: FarmKeys, say: Callable[[str], None]
) -> None:
    before = len(list(layout.plots.glob("*.plot"))) if layout.plots.exists() else 0
    if before < n:
        say(f"creating {n - before} k={k} plots in {layout.plots} (about 1-2 s each)")
    ensure_plots(layout.plots, k, n, keys.farmer_pk, keys.pool_pk, keys.master_sk)


def _genesis_has_proof(layout: DevnetLayout, constants: ConsensusConstants, keys: FarmKeys) -> bool:
    manager = PlotManager([layout.plots], [keys.farmer_pk], [keys.pool_pk])
    manager.refresh()
    challenge = constants.genesis_challenge
    return bool(manager.lookup_sync(challenge, challenge, constants.PLOT_FILTER_BITS))


def prepare_harvesters(
    layout: DevnetLayout,
    keys: FarmKeys,
    count: int,
    *,
    plots: int,
    k: int,
    say: Callable[[str], None],
) -> None:
    """Harvesters 1..count-1 (``--harvesters``): a root each with the farm's private CA (so
    the farmer admits them) and ``plots`` plots of their own (the farm's plot indices after
    harvester 0's), so every harvester finds proofs the others do not."""
    for i in range(1, count):
        root = layout.harvester(i)
        ca = root / "ssl" / "ca"
        if not ca.exists():
            shutil.copytree(layout.farm / "ssl" / "ca", ca)
        init_root(root)
        directory = layout.harvester_plots(i)
        first = 10_000 * i  # far from harvester 0's indices (0 .. plots + a few)
        have = len(list(directory.glob("*.plot"))) if directory.exists() else 0
        if have < plots:
            say(f"creating {plots - have} k={k} plots for harvester {i} in {directory}")
        for index in range(first, first + plots):
            create_plot(
                directory,
                k,
                keys.farmer_pk,
                keys.pool_pk,
                local_master_sk_for_plot(keys.master_sk, index),
            )


def prepare_pool(
    layout: DevnetLayout,
    keys: FarmKeys,
    *,
    plots: int,
    k: int,
    say: Callable[[str], None],
) -> bytes32:
    """The pool's root and keys (``--pool``), its config (where its full node keeps the chain),
    and ``plots`` plots of the farm pooled to it (``plots create --pool-contract-address``);
    returns the pool's puzzle hash."""
    init_root(layout.pool)
    keychain = Keychain(layout.pool)
    if not keychain.exists():
        keychain.generate()
        say(f"generated pool keys in {layout.pool}")
    pool_ph = keychain.farm_keys().pool_puzzle_hash
    config_path = layout.pool / "config.yaml"
    config = yaml.safe_load(config_path.read_text()) if config_path.exists() else None
    config = config if isinstance(config, dict) else {}
    found = config.get("pool")
    section: dict[str, Any] = found if isinstance(found, dict) else {}
    # The pool finds its coins over the wire (a light wallet of its full node); a node_root
    # written by an earlier build is no longer a key.
    section.pop("node_root", None)
    config["pool"] = section
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    have = len(list(layout.pooled_plots.glob("*.plot"))) if layout.pooled_plots.exists() else 0
    if have < plots:
        say(
            f"creating {plots - have} k={k} plots pooled to {pool_ph.hex()[:16]} in {layout.pooled_plots}"
        )
    ensure_plots(layout.pooled_plots, k, plots, keys.farmer_pk, pool_ph, keys.master_sk)
    return pool_ph
