"""The RPC cookie, the authorization check, parameter parsing and the event hub (no network)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
import trio

from trionode.rpc.auth import CookieError, cookie_path, ensure_cookie, is_authorized, read_cookie
from trionode.rpc.events import EventHub
from trionode.rpc.params import BadParams, Params


def test_cookie_created_private_and_reused(tmp_path: Path) -> None:
    token = ensure_cookie(tmp_path / "root")
    path = cookie_path(tmp_path / "root")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(token) == 64 and read_cookie(tmp_path / "root") == token
    assert ensure_cookie(tmp_path / "root") == token
    assert not list((tmp_path / "root").glob(".*tmp"))


def test_cookie_readable_by_others_is_made_private(tmp_path: Path) -> None:
    token = ensure_cookie(tmp_path)
    os.chmod(cookie_path(tmp_path), 0o644)
    assert ensure_cookie(tmp_path) == token
    assert stat.S_IMODE(cookie_path(tmp_path).stat().st_mode) == 0o600


def test_corrupt_cookie_is_replaced_and_reported_to_clients(tmp_path: Path) -> None:
    cookie_path(tmp_path).write_text("not a token")
    with pytest.raises(CookieError, match="does not hold an RPC token"):
        read_cookie(tmp_path)
    token = ensure_cookie(tmp_path)
    assert read_cookie(tmp_path) == token
    with pytest.raises(CookieError, match="does not exist"):
        read_cookie(tmp_path / "elsewhere")


def test_is_authorized() -> None:
    token = "ab" * 32

    def scope(scheme: str, *headers: tuple[bytes, bytes]) -> dict[str, object]:
        return {"scheme": scheme, "headers": list(headers)}

    assert is_authorized(scope("http", (b"authorization", f"Bearer {token}".encode())), token)
    assert is_authorized(scope("ws", (b"Authorization", f"bearer  {token}".encode())), token)
    assert not is_authorized(scope("http"), token)
    assert not is_authorized(scope("http", (b"authorization", b"Bearer " + b"0" * 64)), token)
    assert not is_authorized(scope("http", (b"authorization", f"Basic {token}".encode())), token)
    assert not is_authorized(scope("http", (b"authorization", b"Bearer \xff")), token)
    # The TLS listener checked a private-CA client certificate in its handshake.
    assert is_authorized(scope("https"), token) and is_authorized(scope("wss"), token)


def test_params() -> None:
    p = Params({"h": "0x" + "00" * 32, "n": 3, "s": "x", "b": True, "o": {"a": 1}, "none": None})
    assert bytes(p.get_bytes32("h")) == bytes(32)
    assert p.get_int("n", minimum=0, maximum=3) == 3
    assert p.get_int("missing", 7) == 7 and p.get_int("none", 8) == 8
    assert p.get_str("s") == "x" and p.get_bool("b") is True and p.get_object("o") == {"a": 1}
    for call, message in [
        (lambda: p.get_int("missing"), "missing parameter 'missing'"),
        (lambda: p.get_int("b"), "must be an integer"),
        (lambda: p.get_int("n", maximum=2), "at most 2"),
        (lambda: p.get_str("n"), "non-empty string"),
        (lambda: p.get_bool("n"), "true or false"),
        (lambda: p.get_bytes32("s"), "64 hex digits"),
        (lambda: p.get_object("n"), "JSON object"),
        (lambda: p.get_port("n") and p.get_port("o"), "must be an integer"),
    ]:
        with pytest.raises(BadParams, match=message):
            call()
    for bad in ([], "x", 3):
        with pytest.raises(BadParams, match="must be a JSON object"):
            Params(bad)
    assert Params(None).data == {}


async def test_event_hub_drops_for_slow_subscribers_only() -> None:
    hub = EventHub(buffer=2)
    hub.publish("nobody", {})
    with hub.subscribe() as slow, hub.subscribe() as fast:
        assert hub.subscribers == 2
        received = []
        for i in range(4):
            hub.publish("tick", {"i": i})
            received.append((await fast.receive())["data"]["i"])
        assert received == [0, 1, 2, 3]
        assert [(await slow.receive())["data"]["i"] for _ in range(2)] == [0, 1]
        with pytest.raises(trio.WouldBlock):
            slow.receive_nowait()
        assert hub.dropped == 2
    assert hub.subscribers == 0
