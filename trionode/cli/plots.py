"""``python -m trionode plots create|check``: make plots for the farm's keys, and check them.

``register(subparsers)`` adds the ``plots`` command; each leaf parser sets ``handler``
(``handler(args) -> exit status``). ``--root`` and ``--network`` may also come from the top-level
parser (the leaf parsers leave them unset when not given).

Progress: a rich progress bar with ETA when stdout is a terminal, otherwise one line per 10% of
each plot (for logs and CI).
"""

from __future__ import annotations

import argparse
import functools
import hashlib
import os
import secrets
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from chiapos import Verifier

from trionode.cli.keys import add_root_argument, root_from_args
from trionode.consensus.constants import NETWORKS
from trionode.keys.derive import as_g1, local_master_sk_for_plot
from trionode.keys.keychain import Keychain, KeychainError
from trionode.plotting.create import PlotCreateError, create_plot, planned_plot
from trionode.plotting.manager import PLOT_SUFFIX
from trionode.plotting.plot_info import PlotError, PlotInfo, load_plot
from trionode.wire import bytes32

__all__ = ["CheckResult", "check_plot", "cmd_check", "cmd_create", "register"]

DEFAULT_NETWORK = "devnet"
DEFAULT_CHALLENGES = 30


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"not an integer: {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


def _add_network_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--network",
        choices=sorted(NETWORKS),
        default=argparse.SUPPRESS,
        help=f"network whose minimum plot size applies (default {DEFAULT_NETWORK})",
    )


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``plots create`` and ``plots check`` to ``subparsers`` (from ``add_subparsers``)."""
    plots = subparsers.add_parser(
        "plots",
        help="create or check plots",
        description="Create plots for the farm's keys (ROOT/keys), or check existing plots.",
    )
    commands = plots.add_subparsers(dest="plots_command", metavar="{create,check}", required=True)

    mins = ", ".join(f"{name} {c.MIN_PLOT_SIZE}" for name, c in sorted(NETWORKS.items()))
    create = commands.add_parser(
        "create",
        help="create plots",
        description="Create plots 0..N-1 of the farm's master key in DIR (plots already there "
        f"are reused). Minimum plot size per network: {mins}.",
    )
    create.add_argument(
        "-k", "--size", dest="k", type=int, help="plot size k (default: the network minimum)"
    )
    create.add_argument(
        "-n", "--num", dest="n", type=_positive_int, default=1, help="number of plots (default 1)"
    )
    create.add_argument("--dir", required=True, type=Path, help="directory for the final plots")
    create.add_argument(
        "--tmp-dir", type=Path, help="directory for temporary files (default: inside --dir)"
    )
    owner = create.add_mutually_exclusive_group()
    owner.add_argument(
        "--pool-public-key",
        metavar="HEX",
        help="pool public key (48 bytes hex) the plot's rewards are signed by "
        "(default: the farm's own pool key)",
    )
    owner.add_argument(
        "--pool-contract-address",
        metavar="PUZZLE_HASH",
        help="a pooled plot: its block rewards can only go to this puzzle hash (64 hex "
        "digits; a pool's is shown by its get_pool_state); docs/protocol.md section 5",
    )
    add_root_argument(create)
    _add_network_argument(create)
    create.set_defaults(handler=cmd_create)

    check = commands.add_parser(
        "check",
        help="check that plots prove and verify",
        description="Load every *.plot in each DIR, look up random challenges, and verify the "
        "proofs found with chiapos' Verifier. Exits 1 if any plot is bad or none is found.",
    )
    check.add_argument("dirs", nargs="*", type=Path, metavar="DIR", help="plot directories")
    check.add_argument(
        "--dir",
        action="append",
        type=Path,
        default=[],
        help="plot directory (repeatable; the same as a positional DIR)",
    )
    check.add_argument(
        "-c",
        "--challenges",
        type=_positive_int,
        default=DEFAULT_CHALLENGES,
        help=f"challenges per plot (default {DEFAULT_CHALLENGES}; a good plot answers ~63%% of "
        "them, so one that answers none is reported bad)",
    )
    check.add_argument("--seed", help="derive the challenges from this text (reproducible runs)")
    add_root_argument(check)
    check.set_defaults(handler=cmd_check)
    return plots


# -- create -----------------------------------------------------------------------------------


class _LineProgress:
    """Progress as plain lines: one per 10% of each plot, with an overall ETA."""

    def __init__(self, total: int) -> None:
        self.total = total
        self.start = time.monotonic()
        self.last_step = -1

    def plot_started(self, index: int, name: str) -> None:
        self.last_step = -1
        print(f"plot {index + 1}/{self.total}: {name}", flush=True)

    def update(self, index: int, fraction: float) -> None:
        step = int(fraction * 10)
        if step <= self.last_step:
            return
        self.last_step = step
        done = (index + fraction) / self.total
        elapsed = time.monotonic() - self.start
        eta = f"{elapsed / done * (1 - done):.0f}s" if done > 0 else "?"
        print(
            f"plot {index + 1}/{self.total}: {fraction:4.0%} "
            f"(overall {done:4.0%}, elapsed {elapsed:.0f}s, ETA {eta})",
            flush=True,
        )

    def close(self) -> None:
        pass


class _RichProgress:
    def __init__(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TaskProgressColumn,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.total = total
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TaskProgressColumn(),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
        )
        self.task = self.progress.add_task(f"plot 1/{total}", total=total)
        self.progress.start()

    def plot_started(self, index: int, name: str) -> None:
        self.progress.update(self.task, description=f"plot {index + 1}/{self.total}")

    def update(self, index: int, fraction: float) -> None:
        self.progress.update(self.task, completed=index + fraction)

    def close(self) -> None:
        self.progress.stop()


def _plot_pool(args: argparse.Namespace, own_pool_pk: Any) -> Any:
    """What the plots commit to: a pool public key or a pool contract puzzle hash."""
    if getattr(args, "pool_contract_address", None):
        text = args.pool_contract_address.lower().removeprefix("0x")
        try:
            raw = bytes.fromhex(text)
        except ValueError:
            raw = b""
        if len(raw) != 32:
            raise ValueError("--pool-contract-address must be 64 hex digits (a puzzle hash)")
        return bytes32(raw)
    if getattr(args, "pool_public_key", None):
        try:
            return as_g1(bytes.fromhex(args.pool_public_key.lower().removeprefix("0x")))
        except ValueError as exc:
            raise ValueError(f"--pool-public-key: {exc}") from None
    return own_pool_pk


def cmd_create(args: argparse.Namespace) -> int:
    network = getattr(args, "network", None) or DEFAULT_NETWORK
    constants = NETWORKS.get(network)
    if constants is None:
        print(
            f"trionode plots create: unknown network {network!r}; known: "
            f"{', '.join(sorted(NETWORKS))}",
            file=sys.stderr,
        )
        return 2
    k = constants.MIN_PLOT_SIZE if args.k is None else args.k
    if k < constants.MIN_PLOT_SIZE:
        print(
            f"trionode plots create: k={k} is below the {network} minimum plot size "
            f"k={constants.MIN_PLOT_SIZE}; use -k {constants.MIN_PLOT_SIZE} or more",
            file=sys.stderr,
        )
        return 2
    if k > constants.MAX_PLOT_SIZE:
        print(
            f"trionode plots create: k={k} is above the {network} maximum plot size "
            f"k={constants.MAX_PLOT_SIZE}",
            file=sys.stderr,
        )
        return 2
    root = root_from_args(args)
    try:
        keys = Keychain(root).farm_keys()
    except KeychainError as exc:
        print(f"trionode plots create: {exc}", file=sys.stderr)
        return 1

    try:
        pool = _plot_pool(args, keys.pool_pk)
    except ValueError as exc:
        print(f"trionode plots create: {exc}", file=sys.stderr)
        return 2
    n: int = args.n
    final_dir: Path = args.dir
    reporter: _LineProgress | _RichProgress = (
        _RichProgress(n) if sys.stdout.isatty() else _LineProgress(n)
    )
    start = time.monotonic()
    made: list[Path] = []
    reused = 0
    try:
        for index in range(n):
            local_master = local_master_sk_for_plot(keys.master_sk, index)
            _, filename, _ = planned_plot(k, keys.farmer_pk, pool, local_master)
            if (final_dir / filename).exists():
                reused += 1
            reporter.plot_started(index, filename)
            made.append(
                create_plot(
                    final_dir,
                    k,
                    keys.farmer_pk,
                    pool,
                    local_master,
                    tmp_dir=args.tmp_dir,
                    progress=functools.partial(reporter.update, index),
                )
            )
    except (PlotCreateError, OSError) as exc:
        reporter.close()
        print(f"trionode plots create: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        reporter.close()
        print("trionode plots create: interrupted; no partial plot was left", file=sys.stderr)
        return 130
    reporter.close()
    elapsed = time.monotonic() - start
    print(
        f"{len(made)} plots of k={k} in {final_dir} ({len(made) - reused} created, "
        f"{reused} already there) in {elapsed:.1f}s"
    )
    for path in made:
        print(f"  {path}")
    return 0


# -- check ------------------------------------------------------------------------------------


class CheckResult:
    """The outcome of checking one plot file."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.k: int | None = None
        self.proofs = 0
        self.challenges = 0
        self.problems: list[str] = []

    @property
    def ok(self) -> bool:
        return not self.problems

    def line(self) -> str:
        if self.ok:
            return (
                f"OK   {self.path}  k={self.k}  {self.proofs} proofs verified "
                f"for {self.challenges} challenges"
            )
        return f"BAD  {self.path}  {'; '.join(self.problems)}"


def _challenges(seed: bytes, count: int) -> Iterator[bytes]:
    for i in range(count):
        yield hashlib.sha256(seed + i.to_bytes(4, "big")).digest()


def check_plot(
    path: Path,
    challenges: int,
    seed: bytes,
    *,
    farmer_pk: Any = None,
    pool_pk: Any = None,
) -> CheckResult:
    """Load ``path``, look up ``challenges`` challenges and verify every proof found.

    With ``farmer_pk``/``pool_pk`` the plot must also carry those keys.
    """
    result = CheckResult(path)
    try:
        info: PlotInfo = load_plot(path)
    except PlotError as exc:
        result.problems.append(str(exc).removeprefix(f"{path}: "))
        return result
    result.k = info.k
    if farmer_pk is not None and info.farmer_public_key != farmer_pk:
        result.problems.append("its farmer key is not this root's")
    if pool_pk is not None and info.pool_public_key not in (None, pool_pk):
        result.problems.append("its pool key is not this root's")
    verifier = Verifier()
    bad = 0
    for challenge in _challenges(seed + info.plot_id, challenges):
        result.challenges += 1
        try:
            qualities = info.qualities_for_challenge(challenge)
            for index, quality in enumerate(qualities):
                proof = info.full_proof(challenge, index)
                verified = verifier.validate_proof(info.plot_id, info.k, challenge, proof)
                if verified is None or bytes(verified) != quality:
                    bad += 1
                else:
                    result.proofs += 1
        except PlotError as exc:
            bad += 1
            if bad == 1:
                result.problems.append(str(exc).removeprefix(f"{path}: "))
    if bad:
        result.problems.append(f"{bad} lookups failed or gave proofs that do not verify")
    elif result.proofs == 0:
        result.problems.append(f"no proof found for {challenges} challenges")
    return result


def _plot_files(dirs: list[Path]) -> tuple[list[Path], list[str]]:
    files: list[Path] = []
    errors: list[str] = []
    for directory in dirs:
        try:
            names = sorted(os.listdir(directory))
        except OSError as exc:
            errors.append(f"cannot read {directory}: {exc.strerror or exc}")
            continue
        files.extend(
            directory / name
            for name in names
            if name.endswith(PLOT_SUFFIX) and not name.startswith(".")
        )
    return files, errors


def cmd_check(args: argparse.Namespace) -> int:
    dirs: list[Path] = [*args.dirs, *args.dir]
    if not dirs:
        print("trionode plots check: name the plot directories (DIR or --dir DIR)", file=sys.stderr)
        return 2
    files, errors = _plot_files(dirs)
    for error in errors:
        print(f"trionode plots check: {error}", file=sys.stderr)
    if errors:
        return 1
    if not files:
        print(
            f"trionode plots check: no *.plot files in {', '.join(map(str, dirs))}", file=sys.stderr
        )
        return 1
    farmer_pk = pool_pk = None
    if getattr(args, "root", None):
        try:
            keys = Keychain(root_from_args(args)).farm_keys()
        except KeychainError as exc:
            print(f"trionode plots check: {exc}", file=sys.stderr)
            return 1
        farmer_pk, pool_pk = keys.farmer_pk, keys.pool_pk
    seed = args.seed.encode() if args.seed is not None else secrets.token_bytes(32)
    bad = 0
    for path in files:
        result = check_plot(path, args.challenges, seed, farmer_pk=farmer_pk, pool_pk=pool_pk)
        print(result.line(), flush=True)
        bad += not result.ok
    print(f"{len(files)} plots checked: {len(files) - bad} good, {bad} bad")
    return 1 if bad else 0
