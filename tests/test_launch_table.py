"""The launcher builds every role from one table (role -> builder) and one shared settings shell;
each role runs its own loops and operator surface under a supervisor it owns."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest
import trio

from trionode.cli import build_parser
from trionode.cli.launch import ROLE_BUILDERS, build_service, build_settings
from trionode.config import SECTIONS, Settings
from trionode.init_root import DEFAULT_CONFIG
from trionode.keys.keychain import Keychain
from trionode.nursery import ChildState
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.service import ServiceSettings

# The keys each role cannot start without, as flags.
REQUIRED = {
    "farmer": ["--full-node", "127.0.0.1:1"],
    "harvester": ["--farmer", "127.0.0.1:2", "--plots", "plots"],
    "timelord": ["--full-node", "127.0.0.1:3"],
    "pool": ["--full-node", "127.0.0.1:4"],
}


def cli_args(*argv: str) -> argparse.Namespace:
    args = build_parser().parse_args(list(argv))
    args.network = getattr(args, "network", None)
    return args


def test_every_role_section_has_a_builder() -> None:
    assert set(ROLE_BUILDERS) == set(SECTIONS) - {"peers"}


@pytest.mark.parametrize("role", sorted(ROLE_BUILDERS))
def test_every_role_gets_the_shell_from_its_section(tmp_path: Path, role: str) -> None:
    args = cli_args(
        "--role",
        role,
        "--port",
        "0",
        "--rpc-port",
        "7",
        "--metrics-port",
        "9",
        *REQUIRED.get(role, []),
    )
    if role in ("farmer", "pool"):
        Keychain(tmp_path).generate()  # they load their keys when built
    settings = build_settings(args, tmp_path, {"TRIONODE_PEERS__LISTEN_HOST": "127.0.0.2"})
    service = build_service(settings, role, tmp_path)
    shell = service.config
    assert isinstance(shell, ServiceSettings)
    assert (shell.root, shell.network, shell.host) == (tmp_path, "devnet", "127.0.0.2")
    assert (shell.port, shell.rpc_port, shell.rpc_tls_port, shell.metrics_port) == (0, 7, 0, 9)
    assert shell.limits == settings.peers.limits()


def test_role_config_defaults_are_the_config_defaults(tmp_path: Path) -> None:
    """A default is written once, in trionode.config; init writes it, the role reads it."""
    fn = Settings().full_node
    cfg = FullNodeConfig(tmp_path, "sim")
    for key in ("validation_workers", "target_outbound", "max_inbound", "mempool_max_bytes"):
        assert (
            getattr(cfg, key)
            == getattr(fn, key)
            == DEFAULT_CONFIG["full_node"].get(key, getattr(fn, key))
        )
    assert DEFAULT_CONFIG["full_node"]["validation_workers"] == fn.validation_workers


async def test_the_full_node_runs_its_loops_under_its_own_supervisor(tmp_path: Path) -> None:
    service = FullNodeService(FullNodeConfig(tmp_path, "sim", rpc_port=0, metrics_port=0))
    async with trio.open_nursery() as nursery:
        with trio.fail_after(60):
            await nursery.start(service.run)
        assert service.loops is not None and service.node is not None
        names = {child.name for child in service.loops.children}
        expected = {"chain-follower", "block-intake", "block-relay", "status", "greeter"}
        assert expected | {"rpc", "metrics", "rpc-chain-events"} <= names
        assert all(c.state is ChildState.RUNNING for c in service.loops.children)
        service.node.stop()
    # The role's supervisor stopped its children when its peer layer stopped.
    assert not service.loops.running
