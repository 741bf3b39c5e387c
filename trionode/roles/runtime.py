"""What every role process does around its main loop: logging, signals, run files."""

from __future__ import annotations

import logging
import logging.handlers
import os
import signal
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path

import trio

from trionode import runfiles

logger = logging.getLogger(__name__)


def setup_logging(level: str, root: Path | None, name: str) -> None:
    """Console logging at ``level`` and, with a root, a rotating file ``ROOT/log/NAME.log``."""
    fmt = logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if root is not None:
        log_dir = Path(root) / "log"
        log_dir.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                log_dir / f"{name}.log", maxBytes=10 * 2**20, backupCount=3
            )
        )
    top = logging.getLogger()
    for h in list(top.handlers):
        top.removeHandler(h)
    for h in handlers:
        h.setFormatter(fmt)
        top.addHandler(h)
    top.setLevel(level)


async def run_until_signal(main: Callable[[trio.Nursery], Awaitable[None]]) -> int:
    """Run ``main(nursery)``; SIGINT or SIGTERM cancels it cleanly. Returns the exit status."""
    async with trio.open_nursery() as nursery:
        with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:

            async def watch() -> None:
                async for signum in signals:
                    logger.info("received %s: shutting down", signal.Signals(signum).name)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(watch)
            await main(nursery)
            nursery.cancel_scope.cancel()
    return 0


def write_ready(root: Path, role: str, port: int, **extra: object) -> None:
    runfiles.write_json_atomic(
        runfiles.ready_path(root, role), {"role": role, "pid": os.getpid(), "port": port, **extra}
    )
    logger.info("%s ready on port %d", role, port)
