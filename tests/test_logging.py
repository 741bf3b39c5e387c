"""Logging: console or JSON lines, a rotating file under ROOT/log, and a real node process that
logs a peer's disconnect with its reason at WARNING (in JSON, in its log file)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
import trio

from trionode.roles.runtime import JsonFormatter, log_path, make_formatter, setup_logging
from trionode.testnet import Testnet


@pytest.fixture
def restore_logging() -> Iterator[None]:
    top = logging.getLogger()
    handlers, level = list(top.handlers), top.level
    yield
    for h in list(top.handlers):
        top.removeHandler(h)
        h.close()
    for h in handlers:
        top.addHandler(h)
    top.setLevel(level)


def record(msg: str, *args: object, **extra: object) -> logging.LogRecord:
    rec = logging.getLogger("trionode.test").makeRecord(
        "trionode.test", logging.WARNING, __file__, 1, msg, args, None, extra=extra
    )
    return rec


def test_json_line_has_the_fields_and_extras() -> None:
    line = JsonFormatter().format(record("peer %s dropped", "a", peer="1.2.3.4:5", n=3, raw=b"x"))
    assert "\n" not in line
    data = json.loads(line)
    assert data["level"] == "WARNING"
    assert data["logger"] == "trionode.test"
    assert data["message"] == "peer a dropped"
    assert data["peer"] == "1.2.3.4:5" and data["n"] == 3
    assert data["raw"] == "b'x'"  # not JSON: its repr
    assert data["time"].endswith("+00:00") and "T" in data["time"]
    assert set(data) == {"time", "level", "logger", "message", "peer", "n", "raw"}


def test_json_line_carries_the_exception() -> None:
    try:
        raise RuntimeError("boom\nsecond line")
    except RuntimeError:
        rec = logging.getLogger("x").makeRecord(
            "x", logging.ERROR, __file__, 1, "failed", (), sys.exc_info()
        )
    data = json.loads(JsonFormatter().format(rec))
    assert "RuntimeError: boom" in data["exception"]
    assert data["message"] == "failed"


def test_unknown_format_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown log format 'xml'"):
        make_formatter("xml")


@pytest.mark.usefixtures("restore_logging")
def test_file_in_root_follows_the_format_and_rotates(tmp_path: Path) -> None:
    setup_logging("DEBUG", tmp_path, "full_node", log_format="json", max_bytes=2000, backups=2)
    log = logging.getLogger("trionode.some.module")
    for i in range(60):
        log.info("line %d of the rotating file test", i, extra={"i": i})
    path = log_path(tmp_path, "full_node")
    assert path == tmp_path / "log" / "full_node.log"
    rotated = sorted(p.name for p in path.parent.iterdir())
    assert rotated == ["full_node.log", "full_node.log.1", "full_node.log.2"]
    lines = path.read_text().splitlines()
    assert lines
    last = json.loads(lines[-1])
    assert last["message"] == "line 59 of the rotating file test" and last["i"] == 59
    assert all(path.stat().st_size <= 2000 for path in path.parent.iterdir())

    # called again (console), the old file handler is replaced, not duplicated
    setup_logging("INFO", tmp_path, "full_node", log_format="console")
    log.info("plain line")
    log.debug("not at INFO")
    text = path.read_text()
    assert text.count("plain line") == 1 and "not at INFO" not in text
    assert " INFO    trionode.some.module: plain line" in text.splitlines()[-1]


async def test_peer_disconnect_is_a_json_warning_with_its_reason(tmp_path: Path) -> None:
    """Two full node processes with --log-format json; when n1 stops, n0's log file holds a
    WARNING from the peer layer that names the reason."""
    async with Testnet.open(
        tmp_path, nodes=2, topology="line", network="sim", log_format="json"
    ) as net:
        with trio.fail_after(60):
            await net.wait_for(
                lambda: net.node("n0").full_node_peers() == 1,
                timeout=30,
                what="n1 connected to n0",
            )
            await net.stop_node("n1")
            n0_log = net.node("n0").log_file
            while True:
                records = [json.loads(line) for line in n0_log.read_text().splitlines()]
                dropped = [
                    r
                    for r in records
                    if r["logger"] == "trionode.peers.node" and "disconnected" in r["message"]
                ]
                if dropped:
                    break
                await trio.sleep(0.1)
    assert dropped[0]["level"] == "WARNING"
    assert "peer closed" in dropped[0]["message"]  # the reason, as the peer layer words it
    assert all({"time", "level", "logger", "message"} <= set(r) for r in records)
    # the console output of the process is JSON too
    console = net.node("n0").console_log.read_text().splitlines()
    assert console and all(json.loads(line)["logger"] for line in console)
