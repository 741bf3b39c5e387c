"""``python -m trionode --role ROLE``: build the node's one frozen :class:`~trionode.config.Settings`
from ``ROOT/config.yaml``, ``TRIONODE_*`` environment variables and flags (each overriding the one
before), hand the role's section to the role's entry module, run it until SIGINT/SIGTERM, and turn
known failures into clear messages and exit codes (2: a value the operator must fix; 1: the node
could not start or stopped on an error).
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import trio

from trionode import runfiles
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


def _require(value: Any, role: str, key: str, flag: str) -> Any:
    if value is None or value == ():
        raise UsageError(f"--role {role} needs {flag} (or {key} under {role}: in config.yaml)")
    return value


def _shell(settings: Settings, role: str, root: Path) -> dict[str, Any]:
    """The settings every role shares (trionode.service.ServiceSettings), from the role's section
    and the peers: section."""
    section = settings.section(role)
    peers = settings.peers
    return {
        "root": root,
        "network": settings.network,
        "port": section.port,
        "host": peers.listen_host,
        "limits": peers.limits(),
        "rpc_port": section.rpc_port,
        "rpc_tls_port": section.rpc_tls_port,
        "metrics_port": section.metrics_port,
    }


def _check_db_setting(name: str, url: str | None) -> None:
    from trionode.storage.engine import check_db_url

    if url is None:
        return
    try:
        parsed = check_db_url(url)
    except ValueError as exc:
        raise UsageError(f"{name}: {exc}") from None
    if parsed.get_backend_name() == "postgresql":
        try:
            import psycopg  # noqa: F401  (the driver SQLAlchemy loads for postgresql+psycopg)
        except ImportError:
            raise StartError(
                f"{name}: a PostgreSQL URL needs the psycopg driver, which is not installed: "
                "pip install 'trionode[postgres]'"
            ) from None
    elif parsed.database:
        directory = Path(parsed.database).expanduser().absolute().parent
        try:
            directory.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            in_the_way = isinstance(exc, (FileExistsError, NotADirectoryError))
            why = "a file is in the way" if in_the_way else exc.strerror
            raise StartError(
                f"{name}: cannot create the directory {directory} of the SQLite database: "
                f"{why or exc}"
            ) from None


class StartError(Exception):
    """The node cannot start as configured (exit 1); the message names the flag or file."""


def check_root_dir(root: Path, flag: str = "--root") -> None:
    """UsageError unless ``root`` is a directory or can become one (it names ``flag``)."""
    for part in (root, *root.parents):
        if part.exists():
            if not part.is_dir():
                what = "is a file" if part == root else f"is under {part}, which is a file"
                raise UsageError(f"{flag} {root}: {what}, not a directory")
            return


# -- one builder per role: its section's own keys -> the role's config and service object -------


def _full_node(settings: Settings, shell: dict[str, Any]) -> Any:
    from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
    from trionode.storage.engine import default_db_url

    fn = settings.full_node
    _check_db_setting(
        "--db (full_node.db)", fn.db or default_db_url(shell["root"], shell["network"])
    )
    if fn.peer_db is not None and "://" in fn.peer_db:
        _check_db_setting("full_node.peer_db", fn.peer_db)
    return FullNodeService(
        FullNodeConfig(
            **shell,
            peers=fn.peers,
            introducer=fn.introducer,
            db=fn.db,
            peer_db=fn.peer_db,
            target_outbound=fn.target_outbound,
            max_inbound=fn.max_inbound,
            validation_workers=fn.validation_workers,
            intake=fn.intake_limits(),
            mempool_max_bytes=fn.mempool_max_bytes,
            mempool_max_blocks=fn.mempool_max_blocks,
            address_limits=fn.address_limits(),
            exempt_loopback_from_bans=settings.peers.exempt_loopback_from_bans,
        )
    )


def _farmer(settings: Settings, shell: dict[str, Any]) -> Any:
    from trionode.roles.farmer.main import Farmer, FarmerConfig

    fa = settings.farmer
    payout = fa.payout_puzzle_hash
    return Farmer(
        FarmerConfig(
            **shell,
            full_node=_require(fa.full_node, "farmer", "full_node", "--full-node HOST:PORT"),
            pool=fa.pool,
            payout_puzzle_hash=None if payout is None else bytes32.fromhex(payout),
        )
    )


def _harvester(settings: Settings, shell: dict[str, Any]) -> Any:
    from trionode.roles.harvester.main import Harvester, HarvesterConfig

    hv = settings.harvester
    farmer = _require(hv.farmer, "harvester", "farmer", "--farmer HOST:PORT")
    # Relative plot directories in config.yaml are under the root (flags are made absolute).
    dirs = tuple(d if d.is_absolute() else shell["root"] / d for d in hv.plot_dirs)
    _require(dirs, "harvester", "plot_dirs", "--plots DIR")
    return Harvester(
        HarvesterConfig(
            **shell,
            farmer=farmer,
            plot_dirs=dirs,
            refresh_interval=hv.refresh_interval,
            protocol=hv.protocol,
        )
    )


def _timelord(settings: Settings, shell: dict[str, Any]) -> Any:
    from trionode.roles.timelord.main import TimelordConfig, TimelordService

    tl = settings.timelord
    return TimelordService(
        TimelordConfig(
            **shell,
            full_node=_require(tl.full_node, "timelord", "full_node", "--full-node HOST:PORT"),
            workers=tl.workers,
            use_processes=not tl.vdf_threads,
        )
    )


def _introducer(settings: Settings, shell: dict[str, Any]) -> Any:
    from trionode.roles.introducer_main import IntroducerService
    from trionode.service import ServiceSettings

    return IntroducerService(ServiceSettings(**shell))


def _pool(settings: Settings, shell: dict[str, Any]) -> Any:
    from trionode.roles.pool.main import Pool, PoolConfig

    po = settings.pool
    full_node = _require(po.full_node, "pool", "full_node", "--full-node HOST:PORT")
    _check_db_setting("pool.db", po.db)
    return Pool(
        PoolConfig(
            **shell,
            full_node=full_node,
            db=po.db,
            target_partials_per_hour=po.target_partials_per_hour,
            starting_difficulty=po.starting_difficulty,
            partial_max_depth=po.partial_max_depth,
            partial_max_age=po.partial_max_age,
            max_partials_per_minute=po.max_partials_per_minute,
            max_farmers=po.max_farmers,
            payout_interval=po.payout_interval,
            payout_fee=po.payout_fee,
        )
    )


# role (and its config.yaml section) -> the builder of its service.
ROLE_BUILDERS: dict[str, Callable[[Settings, dict[str, Any]], Any]] = {
    "full_node": _full_node,
    "farmer": _farmer,
    "harvester": _harvester,
    "timelord": _timelord,
    "introducer": _introducer,
    "pool": _pool,
}


def build_service(settings: Settings, role: str, root: Path) -> Any:
    """The role's service object (has ``async run(*, task_status)``), wired from ``settings``."""
    builder = ROLE_BUILDERS.get(role)
    if builder is None:
        raise UsageError(f"unknown role {role!r}")
    return builder(settings, _shell(settings, role, root))


def _usage(message: str) -> int:
    for line in message.splitlines():
        print(f"trionode: {line}", file=sys.stderr)
    return EXIT_USAGE


def _fail(message: str) -> int:
    """One ``trionode:`` line on stderr (not a log line next to it), and the log file's copy."""
    record = logger.makeRecord(logger.name, logging.ERROR, __file__, 0, "%s", (message,), None)
    for handler in logging.getLogger().handlers:
        if isinstance(handler, logging.FileHandler):
            handler.handle(record)
    print(f"trionode: {message}", file=sys.stderr)
    return EXIT_FAILURE


def _listen_checks(settings: Settings, role: str) -> list[tuple[str, str, int]]:
    """(what, flag or key, port) of every fixed port ``role`` will listen on."""
    section = getattr(settings, role)
    out = []
    for key, what, flag in (
        ("port", "peer port", "--port"),
        ("rpc_port", "RPC port", "--rpc-port"),
        ("rpc_tls_port", "RPC TLS port", f"{role}.rpc_tls_port"),
        ("metrics_port", "metrics port", "--metrics-port"),
    ):
        port = getattr(section, key)
        if port:  # None: off; 0: the OS's choice, always free
            host = settings.peers.listen_host if key == "port" else "127.0.0.1"
            out.append((f"{what} {host}:{port}", flag, int(port)))
    return out


def check_ports(settings: Settings, role: str) -> None:
    """StartError naming the flag if a fixed port of ``role`` is taken (before anything starts:
    a listener failing half-way through start-up would leave a half-started node)."""
    import socket

    for what, flag, port in _listen_checks(settings, role):
        host = what.split(" ")[-1].rsplit(":", 1)[0].strip("[]")
        family = socket.AF_INET6 if ":" in host else socket.AF_INET
        with socket.socket(family, socket.SOCK_STREAM) as sock:
            # As the listeners bind: SO_REUSEADDR, so a port in TIME_WAIT is not "in use".
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
                sock.listen(1)
            except OSError as exc:
                raise StartError(
                    f"cannot listen on the {what} ({flag}): {exc.strerror or exc}"
                ) from None


def _unknown_env_warning() -> None:
    from trionode.config import unknown_env_names

    for name in unknown_env_names(os.environ):
        logger.warning(
            "environment variable %s is not a configuration key and is ignored "
            "(see 'Configuration' in the README for the TRIONODE_* names)",
            name,
        )


class _Terminated(BaseException):
    """SIGTERM arrived before the node's own signal handling was in place."""


def _terminated(signum: int, frame: object) -> None:
    raise _Terminated


def run_role(args: argparse.Namespace, root: Path) -> int:
    # SIGTERM must stop a node cleanly (exit 0) even while it is still starting: until the
    # node's signal receiver takes over (run_until_signal), it unwinds start-up instead.
    signal.signal(signal.SIGTERM, _terminated)
    try:
        return _run_role(args, root)
    except _Terminated:
        print("trionode: SIGTERM during start-up: stopped", file=sys.stderr)
        return 0
    finally:
        signal.signal(signal.SIGTERM, signal.SIG_DFL)


def _run_role(args: argparse.Namespace, root: Path) -> int:
    role = args.role
    try:
        check_root_dir(root)
        try:
            init_root(root)
        except (FileExistsError, NotADirectoryError):
            raise UsageError(f"--root {root}: a file is in the way of its directories") from None
        except OSError as exc:
            raise UsageError(f"--root {root}: cannot create it: {exc.strerror or exc}") from None
        settings = build_settings(args, root)
        lock = runfiles.RootLock(root, role).acquire()
    except (ConfigError, UsageError) as exc:
        return _usage(str(exc))
    except runfiles.RootBusy as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except KeychainError as exc:
        print(f"trionode: {exc}", file=sys.stderr)
        return EXIT_FAILURE
    except ValueError as exc:  # a role's own check of its config
        return _usage(str(exc))
    try:
        return _run_locked(args, root, settings, lock)
    finally:
        lock.release()


def _run_locked(
    args: argparse.Namespace, root: Path, settings: Settings, lock: runfiles.RootLock
) -> int:
    role = args.role
    try:
        setup_logging(
            settings.log_level,
            root,
            role,
            log_format=settings.log_format,
            max_bytes=settings.log_max_bytes,
            backups=settings.log_backups,
        )
        if lock.stale_pid is not None:
            logger.info(
                "took over the lock %s: its holder (pid %d) is no longer running",
                lock.path,
                lock.stale_pid,
            )
        _unknown_env_warning()
        check_ports(settings, role)
        service = build_service(settings, role, root)
    except (ConfigError, UsageError) as exc:
        return _usage(str(exc))
    except StartError as exc:
        return _fail(str(exc))
    except KeychainError as exc:
        return _fail(str(exc))
    except ValueError as exc:  # a role's own check of its config
        return _usage(str(exc))

    async def main(nursery: trio.Nursery) -> None:
        # Returns when the service ends on its own (the RPC's stop_node); signals cancel it.
        await service.run()

    try:
        with unwrapped_exception_groups():
            code = trio.run(run_until_signal, main)
    except StoreError as exc:
        return _fail(f"cannot open the chain store: {exc}")
    except ChildStartFailed as exc:
        cause = exc.__cause__
        while cause is not None and not isinstance(cause, OSError):
            cause = cause.__cause__ or cause.__context__
        if isinstance(cause, OSError):
            return _fail(f"cannot listen ({exc.child}): {cause.strerror or cause}")
        raise
    logger.info("%s stopped", role)
    return code
