"""What every role process does around its main loop: logging, signals, run files."""

from __future__ import annotations

import datetime
import json
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


# Attributes every LogRecord has; anything else on a record came from ``extra=`` and goes into
# the JSON object as a field of its own.
_RECORD_ATTRS = frozenset(vars(logging.makeLogRecord({}))) | {"message", "asctime", "taskName"}

CONSOLE_FORMAT = "%(asctime)s %(levelname)-7s %(name)s: %(message)s"


class JsonFormatter(logging.Formatter):
    """One JSON object per line: ``time`` (ISO 8601, UTC, ms), ``level``, ``logger``,
    ``message``, the record's ``extra=`` fields, and ``exception`` / ``stack`` when present.

    Machine-readable logs for collectors (Loki, Elasticsearch, jq); a value that JSON cannot
    hold is written as its ``repr``.
    """

    def format(self, record: logging.LogRecord) -> str:
        data: dict[str, object] = {
            "time": datetime.datetime.fromtimestamp(record.created, datetime.UTC).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for key, value in vars(record).items():
            if key not in _RECORD_ATTRS and key not in data:
                data[key] = value
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        if record.stack_info:
            data["stack"] = self.formatStack(record.stack_info)
        return json.dumps(data, default=repr, ensure_ascii=False)


def make_formatter(log_format: str) -> logging.Formatter:
    """``console`` (human lines) or ``json`` (one object per line)."""
    if log_format == "json":
        return JsonFormatter()
    if log_format == "console":
        return logging.Formatter(CONSOLE_FORMAT)
    raise ValueError(f"unknown log format {log_format!r}: choose console or json")


def log_path(root: Path, name: str) -> Path:
    return Path(root) / "log" / f"{name}.log"


def setup_logging(
    level: str,
    root: Path | None,
    name: str,
    *,
    log_format: str = "console",
    max_bytes: int = 10 * 2**20,
    backups: int = 3,
) -> None:
    """Log at ``level`` to stderr and, with a root, to the rotating file ``ROOT/log/NAME.log``
    (``max_bytes`` per file, ``backups`` old files kept), both in ``log_format``.

    Replaces the handlers of the root logger, so calling it again (tests) does not duplicate
    lines.
    """
    formatter = make_formatter(log_format)
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if root is not None:
        path = log_path(root, name)
        path.parent.mkdir(parents=True, exist_ok=True)
        handlers.append(
            logging.handlers.RotatingFileHandler(
                path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8"
            )
        )
    top = logging.getLogger()
    for h in list(top.handlers):
        top.removeHandler(h)
        if isinstance(h, logging.FileHandler):  # ours from an earlier call: release the file
            h.close()
    for h in handlers:
        h.setFormatter(formatter)
        top.addHandler(h)
    top.setLevel(level.upper())


def exit_now_on_interrupt(signum: int, frame: object) -> None:
    """SIGINT handler once a shutdown is under way: a second Ctrl-C means "stop waiting"."""
    os.write(2, b"trionode: interrupted again: exiting at once (exit code 130)\n")
    os._exit(130)


async def run_until_signal(main: Callable[[trio.Nursery], Awaitable[None]]) -> int:
    """Run ``main(nursery)``; SIGINT or SIGTERM cancels it cleanly. Returns the exit status.

    After the first signal a second SIGINT exits at once with 130 and one line, not a
    KeyboardInterrupt traceback from wherever the shutdown happened to be.
    """
    interrupted = False
    # The receiver outlives the nursery: a main() that fails before its first checkpoint
    # must surface alone, not next to a watcher that found its receiver closed.
    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:

            async def watch() -> None:
                nonlocal interrupted
                async for signum in signals:
                    logger.info("received %s: shutting down", signal.Signals(signum).name)
                    interrupted = True
                    signal.signal(signal.SIGINT, exit_now_on_interrupt)
                    nursery.cancel_scope.cancel()
                    return

            nursery.start_soon(watch)
            await main(nursery)
            nursery.cancel_scope.cancel()
    if interrupted:  # leaving the receiver put trio's handler back
        signal.signal(signal.SIGINT, exit_now_on_interrupt)
    return 0


def write_ready(root: Path, role: str, port: int, **extra: object) -> None:
    runfiles.write_json_atomic(
        runfiles.ready_path(root, role), {"role": role, "pid": os.getpid(), "port": port, **extra}
    )
    logger.info("%s ready on port %d", role, port)
