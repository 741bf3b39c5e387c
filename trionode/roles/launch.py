"""``python -m trionode --role ROLE``: build one role's frozen config from flags and config.yaml,
run it until SIGINT/SIGTERM, and turn known failures into clear messages and exit codes.

Precedence: flags, then ``ROOT/config.yaml`` (written by ``trionode init``), then defaults.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

import trio

from trionode.consensus import NETWORKS
from trionode.init_root import init_root, load_config
from trionode.keys.keychain import KeychainError
from trionode.nursery import ChildStartFailed, unwrapped_exception_groups
from trionode.roles.runtime import run_until_signal, setup_logging
from trionode.roles.upstream import parse_host_port
from trionode.storage.errors import StoreError

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_FAILURE = 1


class UsageError(ValueError):
    """A flag or config value the operator must fix."""


def _section(config: dict[str, Any], role: str) -> dict[str, Any]:
    section = config.get(role) or {}
    if not isinstance(section, dict):
        raise UsageError(f"config.yaml: section {role!r} must be a mapping")
    return section


def _host_port(text: str, flag: str) -> tuple[str, int]:
    try:
        return parse_host_port(text)
    except ValueError as exc:
        raise UsageError(f"{flag}: {exc}") from None


def _port(value: Any, key: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or not 0 <= value < 65536:
        raise UsageError(f"{key} must be a port number 0-65535, got {value!r}")
    return value


def build_service(args: argparse.Namespace, root: Path) -> Any:
    """The role's service object (has ``async run(*, task_status)``)."""
    config = load_config(root)
    section = _section(config, args.role)
    network = args.network or config.get("network") or "devnet"
    if network not in NETWORKS:
        raise UsageError(
            f"unknown network {network!r}; choose one of {', '.join(sorted(NETWORKS))}"
        )
    port = _port(
        args.port if args.port is not None else section.get("port", 0), f"{args.role}.port"
    )

    if args.role == "full_node":
        from trionode.roles.full_node.main import FullNodeConfig, FullNodeService

        peers = tuple(_host_port(p, "--peer") for p in (args.peer or section.get("peers") or []))
        intro_text = args.introducer or section.get("introducer")
        return FullNodeService(
            FullNodeConfig(
                root=root,
                network=network,
                port=port,
                peers=peers,
                introducer=_host_port(intro_text, "--introducer") if intro_text else None,
                db_url=args.db or section.get("db"),
                target_outbound=int(section.get("target_outbound", 8)),
                max_inbound=int(section.get("max_inbound", 80)),
            )
        )
    if args.role == "farmer":
        from trionode.roles.farmer.main import Farmer, FarmerConfig

        if not args.full_node:
            raise UsageError("--role farmer needs --full-node HOST:PORT")
        return Farmer(
            FarmerConfig(root, network, _host_port(args.full_node, "--full-node"), port=port)
        )
    if args.role == "harvester":
        from trionode.roles.harvester.main import Harvester, HarvesterConfig

        if not args.farmer:
            raise UsageError("--role harvester needs --farmer HOST:PORT")
        if not args.plots:
            raise UsageError("--role harvester needs --plots DIR")
        dirs = tuple(Path(d).expanduser() for d in args.plots)
        return Harvester(
            HarvesterConfig(root, network, _host_port(args.farmer, "--farmer"), dirs, port=port)
        )
    if args.role == "timelord":
        from trionode.roles.timelord.main import TimelordConfig, TimelordService

        if not args.full_node:
            raise UsageError("--role timelord needs --full-node HOST:PORT")
        workers = args.workers if args.workers is not None else int(section.get("workers", 1))
        if workers < 1:
            raise UsageError(f"--workers must be at least 1, got {workers}")
        return TimelordService(
            TimelordConfig(
                root,
                network,
                _host_port(args.full_node, "--full-node"),
                port=port,
                workers=workers,
                use_processes=not args.vdf_threads,
            )
        )
    if args.role == "introducer":
        from trionode.roles.introducer_main import IntroducerService

        return IntroducerService(root, network, port)
    raise UsageError(f"unknown role {args.role!r}")


def run_role(args: argparse.Namespace, root: Path) -> int:
    try:
        init_root(root)
        setup_logging(args.log_level, root, args.role)
        service = build_service(args, root)
    except (UsageError, ValueError) as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return EXIT_USAGE
    except KeychainError as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return EXIT_FAILURE

    async def main(nursery: trio.Nursery) -> None:
        await nursery.start(service.run)
        await trio.sleep_forever()

    try:
        with unwrapped_exception_groups():
            code = trio.run(run_until_signal, main)
    except StoreError as exc:
        logger.error("cannot open the chain store: %s", exc)
        print(f"trionode: cannot open the chain store: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ChildStartFailed as exc:
        cause = exc.__cause__
        if isinstance(cause, OSError):
            print(f"trionode: cannot listen: {cause.strerror or cause}", file=sys.stderr)
            return EXIT_FAILURE
        raise
    logger.info("%s stopped", args.role)
    return code
