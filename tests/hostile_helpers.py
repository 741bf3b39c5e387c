"""Helper processes for the hostile-peer process tests, so that what the test measures is not
slowed by what it does to the node (building and sending 10 MiB messages, 200 reconnecting
sockets): each runs in its own process until its stdin closes, then prints a JSON result.

    python -m tests.hostile_helpers poll ROOT    # RPC get_blockchain_state back to back
    python -m tests.hostile_helpers hold PORT N  # N plain TCP sockets that never start TLS
"""

from __future__ import annotations

import json
import sys
import threading
import time
from pathlib import Path

import httpx
import trio

from trionode.rpc.auth import read_cookie
from trionode.rpc.client import find_rpc_port


def _until_stdin_closes() -> threading.Event:
    closed = threading.Event()

    def watch() -> None:
        sys.stdin.read()
        closed.set()

    threading.Thread(target=watch, daemon=True).start()
    return closed


def poll(root: Path) -> None:
    port = find_rpc_port(root, "full_node")
    assert port is not None
    url = f"http://127.0.0.1:{port}/get_blockchain_state"
    headers = {"Authorization": f"Bearer {read_cookie(root)}"}
    latencies: list[float] = []
    errors: list[str] = []
    # One kept-alive connection, as a monitoring client would use: the time measured is the
    # node's answer, not a TCP set-up per call.
    with httpx.Client(timeout=60) as http:
        http.post(url, content=b"{}", headers=headers).raise_for_status()  # warm
        stop = _until_stdin_closes()
        print("ready", flush=True)
        while not stop.is_set():
            t = time.perf_counter()
            try:
                http.post(url, content=b"{}", headers=headers).raise_for_status()
            except httpx.HTTPError as exc:
                errors.append(repr(exc))
            latencies.append(time.perf_counter() - t)
            time.sleep(0.01)
    print(json.dumps({"latencies": latencies, "errors": errors}), flush=True)


def hold(port: int, count: int) -> None:
    stop = _until_stdin_closes()
    opened = 0

    async def one() -> None:
        nonlocal opened
        while not stop.is_set():
            try:
                sock = await trio.open_tcp_stream("127.0.0.1", port)
            except OSError:
                await trio.sleep(0.05)
                continue
            opened += 1
            try:
                with trio.move_on_after(60):
                    while not stop.is_set() and await sock.receive_some(1024):
                        pass
            except (trio.BrokenResourceError, OSError):
                pass
            finally:
                await trio.aclose_forcefully(sock)

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(count):
                nursery.start_soon(one)
            print("ready", flush=True)
            await trio.to_thread.run_sync(stop.wait)
            nursery.cancel_scope.cancel()

    trio.run(main)
    print(json.dumps({"opened": opened}), flush=True)


if __name__ == "__main__":
    if sys.argv[1] == "poll":
        poll(Path(sys.argv[2]))
    elif sys.argv[1] == "hold":
        hold(int(sys.argv[2]), int(sys.argv[3]))
    else:
        sys.exit(f"unknown helper {sys.argv[1]!r}")
