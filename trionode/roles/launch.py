"""``python -m trionode --role ROLE``: build the node's one frozen :class:`~trionode.config.Settings`
from ``ROOT/config.yaml``, ``TRIONODE_*`` environment variables and flags (each overriding the one
before), hand the role's section to the role's entry module, run it until SIGINT/SIGTERM, and turn
known failures into clear messages and exit codes (2: a value the operator must fix; 1: the node
could not start or stopped on an error).
"""

from __future__ import annotations

import argparse
import inspect
import logging
import os
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import attrs
import trio

from trionode.config import ConfigError, Settings, load_settings
from trionode.init_root import init_root
from trionode.keys.keychain import KeychainError
from trionode.nursery import ChildStartFailed, unwrapped_exception_groups
from trionode.roles.runtime import run_until_signal, setup_logging
from trionode.storage.errors import StoreError
from trionode.wire import bytes32

logger = logging.getLogger(__name__)

EXIT_USAGE = 2
EXIT_FAILURE = 1


class UsageError(ValueError):
    """A flag or config value the operator must fix."""


# flag attribute on the argparse namespace -> (the roles it applies to, its key in the role's
# section, the flag as the operator typed it). --port/--rpc-port/--metrics-port apply to every
# role and land in the role's own section.
_ROLE_FLAGS: dict[str, tuple[tuple[str, ...], str, str]] = {
    "peer": (("full_node",), "peers", "--peer"),
    "introducer": (("full_node",), "introducer", "--introducer"),
    "db": (("full_node",), "db", "--db"),
    "full_node": (("farmer", "timelord", "pool"), "full_node", "--full-node"),
    "pool": (("farmer",), "pool", "--pool"),
    "protocol": (("harvester",), "protocol", "--protocol"),
    "farmer": (("harvester",), "farmer", "--farmer"),
    "plots": (("harvester",), "plot_dirs", "--plots"),
    "workers": (("timelord",), "workers", "--workers"),
}
_EVERY_ROLE_FLAGS = {"port": "--port", "rpc_port": "--rpc-port", "metrics_port": "--metrics-port"}
_TOP_LEVEL_FLAGS = {
    "network": "--network",
    "log_level": "--log-level",
    "log_format": "--log-format",
}


def flag_overrides(
    args: argparse.Namespace,
) -> tuple[dict[str, Any], dict[tuple[str, ...], str]]:
    """The flags given on the command line, shaped like config.yaml, and each one's name.

    A flag that does not apply to ``--role`` is a UsageError (it would otherwise be ignored
    without a word).
    """
    role = args.role
    values: dict[str, Any] = {}
    names: dict[tuple[str, ...], str] = {}
    section: dict[str, Any] = {}
    for attr, flag in _TOP_LEVEL_FLAGS.items():
        value = getattr(args, attr, None)
        if value is not None:
            values[attr] = value
            names[(attr,)] = flag
    for attr, flag in _EVERY_ROLE_FLAGS.items():
        value = getattr(args, attr, None)
        if value is not None:
            section[attr] = value
            names[(role, attr)] = flag
    for attr, (roles, key, flag) in _ROLE_FLAGS.items():
        value = getattr(args, attr, None)
        if value is None:
            continue
        if role not in roles:
            raise UsageError(f"{flag} applies to --role {' or '.join(roles)}, not {role}")
        if attr == "plots":  # relative to where the command runs, like any path argument
            value = [str(Path(d).expanduser().absolute()) for d in value]
        section[key] = value
        names[(role, key)] = flag
    if getattr(args, "vdf_threads", False):
        if role != "timelord":
            raise UsageError(f"--vdf-threads applies to --role timelord, not {role}")
        section["vdf_threads"] = True
        names[(role, "vdf_threads")] = "--vdf-threads"
    if section:
        values[role] = section
    return values, names


def build_settings(
    args: argparse.Namespace, root: Path, environ: Mapping[str, str] | None = None
) -> Settings:
    """The node's one frozen configuration (ConfigError/UsageError name the bad key)."""
    flags, names = flag_overrides(args)
    return load_settings(
        root,
        environ=os.environ if environ is None else environ,
        flags=flags,
        flag_names=names,
    )


def _accepts(target: Any, name: str) -> bool:
    """Whether a role's config class (attrs) or service constructor takes ``name``.

    The RPC/metrics fields arrive in the roles one by one; a role without them simply runs
    without that surface.
    """
    if attrs.has(target):
        return name in attrs.fields_dict(target)
    return name in inspect.signature(target).parameters


def _surface(target: Any, section: Any) -> dict[str, Any]:
    return {
        name: getattr(section, name)
        for name in ("rpc_port", "rpc_tls_port", "metrics_port")
        if _accepts(target, name)
    }


def _require(value: Any, role: str, key: str, flag: str) -> Any:
    if value is None or value == ():
        raise UsageError(f"--role {role} needs {flag} (or {key} under {role}: in config.yaml)")
    return value


def _peer_layer(settings: Settings) -> dict[str, Any]:
    """The peers: section as every role takes it: listener address and PeerLimits."""
    from trionode.peers.limits import PeerLimits

    peers = settings.peers
    return {
        "host": peers.listen_host,
        "limits": PeerLimits(
            max_message_size=peers.max_message_size,
            handshake_timeout=peers.handshake_timeout,
            ping_interval=peers.ping_interval,
            idle_timeout=peers.idle_timeout,
        ),
    }


def _check_db_setting(name: str, url: str | None) -> None:
    from trionode.storage.engine import check_db_url

    if url is None:
        return
    try:
        check_db_url(url)
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}") from None


def build_service(settings: Settings, role: str, root: Path) -> Any:
    """The role's service object (has ``async run(*, task_status)``), wired from ``settings``."""
    network = settings.network
    if role == "full_node":
        from trionode.roles.full_node.main import FullNodeConfig, FullNodeService

        fn = settings.full_node
        _check_db_setting("--db (full_node.db)", fn.db)
        if fn.peer_db is not None and "://" in fn.peer_db:
            _check_db_setting("full_node.peer_db", fn.peer_db)
        return FullNodeService(
            FullNodeConfig(
                root=root,
                network=network,
                port=fn.port,
                peers=fn.peers,
                introducer=fn.introducer,
                db_url=fn.db,
                peer_db=fn.peer_db,
                target_outbound=fn.target_outbound,
                max_inbound=fn.max_inbound,
                validation_workers=fn.validation_workers,
                exempt_loopback_from_bans=settings.peers.exempt_loopback_from_bans,
                **_peer_layer(settings),
                **_surface(FullNodeConfig, fn),
            )
        )
    if role == "farmer":
        from trionode.roles.farmer.main import Farmer, FarmerConfig

        fa = settings.farmer
        full_node = _require(fa.full_node, role, "full_node", "--full-node HOST:PORT")
        return Farmer(
            FarmerConfig(
                root,
                network,
                full_node,
                port=fa.port,
                pool=fa.pool,
                payout_puzzle_hash=(
                    None
                    if fa.payout_puzzle_hash is None
                    else bytes32.fromhex(fa.payout_puzzle_hash)
                ),
                **_peer_layer(settings),
                **_surface(FarmerConfig, fa),
            )
        )
    if role == "harvester":
        from trionode.roles.harvester.main import Harvester, HarvesterConfig

        hv = settings.harvester
        farmer = _require(hv.farmer, role, "farmer", "--farmer HOST:PORT")
        # Relative plot directories in config.yaml are under the root (flags are made absolute).
        dirs = tuple(d if d.is_absolute() else root / d for d in hv.plot_dirs)
        _require(dirs, role, "plot_dirs", "--plots DIR")
        return Harvester(
            HarvesterConfig(
                root,
                network,
                farmer,
                dirs,
                port=hv.port,
                refresh_interval=hv.refresh_interval,
                protocol=hv.protocol,
                **_peer_layer(settings),
                **_surface(HarvesterConfig, hv),
            )
        )
    if role == "timelord":
        from trionode.roles.timelord.main import TimelordConfig, TimelordService

        tl = settings.timelord
        full_node = _require(tl.full_node, role, "full_node", "--full-node HOST:PORT")
        return TimelordService(
            TimelordConfig(
                root,
                network,
                full_node,
                port=tl.port,
                workers=tl.workers,
                use_processes=not tl.vdf_threads,
                **_peer_layer(settings),
                **_surface(TimelordConfig, tl),
            )
        )
    if role == "introducer":
        from trionode.roles.introducer_main import IntroducerService

        it = settings.introducer
        return IntroducerService(
            root, network, it.port, **_peer_layer(settings), **_surface(IntroducerService, it)
        )
    if role == "pool":
        from trionode.roles.pool.main import Pool, PoolConfig

        po = settings.pool
        full_node = _require(po.full_node, role, "full_node", "--full-node HOST:PORT")
        _check_db_setting("pool.db", po.db)
        _check_db_setting("pool.node_db", po.node_db)
        return Pool(
            PoolConfig(
                root,
                network,
                full_node,
                port=po.port,
                db_url=po.db,
                node_root=po.node_root,
                node_db=po.node_db,
                target_partials_per_hour=po.target_partials_per_hour,
                starting_difficulty=po.starting_difficulty,
                partial_max_depth=po.partial_max_depth,
                partial_max_age=po.partial_max_age,
                max_partials_per_minute=po.max_partials_per_minute,
                max_farmers=po.max_farmers,
                payout_interval=po.payout_interval,
                payout_fee=po.payout_fee,
                **_peer_layer(settings),
                **_surface(PoolConfig, po),
            )
        )
    raise UsageError(f"unknown role {role!r}")


def _usage(message: str) -> int:
    for line in message.splitlines():
        print(f"trionode: {line}", file=sys.stderr)
    return EXIT_USAGE


def run_role(args: argparse.Namespace, root: Path) -> int:
    try:
        init_root(root)
        settings = build_settings(args, root)
        setup_logging(
            settings.log_level,
            root,
            args.role,
            log_format=settings.log_format,
            max_bytes=settings.log_max_bytes,
            backups=settings.log_backups,
        )
        service = build_service(settings, args.role, root)
    except (ConfigError, UsageError) as exc:
        return _usage(str(exc))
    except KeychainError as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:  # a role's own check of its config
        return _usage(str(exc))

    async def main(nursery: trio.Nursery) -> None:
        # Returns when the service ends on its own (the RPC's stop_node); signals cancel it.
        await service.run()

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
            logger.error("cannot listen: %s", cause.strerror or cause)
            print(f"trionode: cannot listen: {cause.strerror or cause}", file=sys.stderr)
            return EXIT_FAILURE
        raise
    logger.info("%s stopped", args.role)
    return code
