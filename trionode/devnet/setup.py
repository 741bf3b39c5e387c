"""Devnet set-up on a fresh or reused root: certificates, config, keys, plots."""

from __future__ import annotations

import logging
from collections.abc import Callable

from trionode.consensus import ConsensusConstants
from trionode.devnet.layout import DevnetLayout
from trionode.init_root import init_root
from trionode.keys.keychain import FarmKeys, Keychain
from trionode.plotting.create import ensure_plots
from trionode.plotting.manager import PlotManager

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
