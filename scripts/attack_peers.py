"""Hostile peers against a real full node process (issue 10, attacks 5, 6 and 7): prints figures.

Each attack starts a fresh ``python -m trionode --role full_node --network sim`` process on
127.0.0.1 and plays the attacker from this process:

- ``flood`` (attack 5): a connected peer from 127.0.0.2 sends 10 MiB ``harvester_handshake``
  messages (218,000 G1 points), a type a full node does not handle; when it is dropped it comes
  back from the next loopback address. Meanwhile ``get_blockchain_state`` is called over RPC
  back to back. Prints the RPC latency (median, max), messages sent, disconnects, whether the
  address was banned (a redial refused), and the node's RSS.
- ``slots`` (attack 6): 200 plain TCP sockets from 127.0.0.1 that never start TLS, reopened as
  soon as the node closes one; an honest node dials from 127.0.0.2. Prints how many honest
  handshakes succeeded and how long each took, and how many log lines the refusals cost.
- ``wedge`` (attack 7): a peer sends a burst of 17 ``TransactionId`` s and answers each
  ``RequestTransaction`` 100 ms later; then it sends ``RequestBlock``. Prints the RequestBlock
  round trip (and the same with 16 ids).

    python scripts/attack_peers.py [flood|slots|wedge ...] [--seconds 10]

Measured on a loaded 2-core machine (issue 10), before -> after:

- attack 5: RPC max 23-60 s (the node decoded 218,000 G1 points on its event loop), 1 message
  taken, no disconnect, no ban -> RPC max 96 ms (median 15 ms), every sender disconnected and
  banned on the first message ("harvester_handshake is not handled by a full_node"), the
  node's own loop lag at most 32 ms; RSS 85 -> 137 MiB before, 85 -> 196 MiB after (the
  websocket layer reassembles each 10 MiB message before its type can be seen).
- attack 6: honest handshakes from 127.0.0.2 0 of 19 and 13,066 log lines in 10 s -> 18 of 18
  (slowest 281 ms) and one summary line per 10 s.
- attack 7: RequestBlock after 16 or 17 TransactionIds answered after 30.0 s -> 0.03 s.
"""

from __future__ import annotations

import argparse
import functools
import json
import os
import re
import resource
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import blspy
import httpx
import trio

from trionode import runfiles
from trionode.consensus import get_constants
from trionode.init_root import init_root
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import DialError, PeerRequestError, TransportClosed
from trionode.peers.handshake import HandshakeMachine
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.peer_protocol import RequestBlock, TransactionId
from trionode.protocols.shared_protocol import Error, ErrorCode, NodeType
from trionode.rpc.auth import read_cookie
from trionode.rpc.client import find_rpc_port
from trionode.wire import G1Element, Message, bytes32, int16, uint8

print = functools.partial(print, flush=True)  # noqa: A001 - progress shows up at once

NETWORK = "sim"


def rss_mib(pid: int) -> float:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024 if found else 0.0


@asynccontextmanager
async def full_node(work: Path) -> AsyncIterator[tuple[trio.Process, Path, int]]:
    root = work / "node"
    init_root(root)
    cmd = [sys.executable, "-m", "trionode", "--role", "full_node", "--root", str(root)]
    cmd += ["--port", "0", "--rpc-port", "0", "--network", NETWORK, "--log-level", "INFO"]
    proc = await trio.lowlevel.open_process(
        cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    try:
        with trio.fail_after(60):
            while True:
                ready = runfiles.read_json(runfiles.ready_path(root, "full_node"))
                if ready and ready.get("rpc_port"):
                    break
                await trio.sleep(0.1)
        yield proc, root, int(ready["port"])
    finally:
        proc.terminate()
        with trio.move_on_after(20):
            await proc.wait()
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


def log_lines(root: Path) -> list[str]:
    path = root / "log" / "full_node.log"
    return path.read_text(errors="replace").splitlines() if path.exists() else []


@asynccontextmanager
async def peer(work: Path, name: str, port: int, *, source: str) -> AsyncIterator[PeerConnection]:
    """A handshaken connection from ``source`` (a fresh identity), not yet serving."""
    identity = NodeIdentity.public(work / name, "full_node")
    limits = PeerLimits()
    transport = make_websocket_transport(identity, limits, local_address=source)
    async with transport.connect("127.0.0.1", port) as stream:
        conn = PeerConnection(stream, limits)
        with trio.fail_after(10):
            await conn.handshake(
                HandshakeMachine(
                    network_id=get_constants(NETWORK).genesis_challenge,
                    node_type=NodeType.FULL_NODE,
                    server_port=0,
                    software_version="attacker",
                    local_node_id=identity.node_id,
                    remote_node_id=stream.remote_node_id,
                )
            )
        yield conn


async def rpc_latencies(root: Path, stop: trio.Event, out: list[float]) -> None:
    """Poll the RPC from a separate process (one kept-alive connection), so the figures are the
    node's, not this process's (which is busy building and sending the attack)."""
    proc = await trio.lowlevel.open_process(
        [sys.executable, __file__, "_poll", str(root)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
    )
    assert proc.stdin is not None and proc.stdout is not None
    try:
        await stop.wait()
    finally:
        with trio.CancelScope(shield=True):
            await proc.stdin.aclose()
            data = b""
            while chunk := await proc.stdout.receive_some(65536):
                data += chunk
            await proc.wait()
    out.extend(json.loads(data)["latencies"])


def poll_forever(root: Path) -> None:
    """The ``_poll`` mode: get_blockchain_state back to back until stdin closes."""
    port = find_rpc_port(root, "full_node")
    url = f"http://127.0.0.1:{port}/get_blockchain_state"
    headers = {"Authorization": f"Bearer {read_cookie(root)}"}
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    latencies = []
    with httpx.Client(timeout=120) as http:
        while not stop.is_set():
            t = time.perf_counter()
            try:
                http.post(url, content=b"{}", headers=headers)
            except httpx.HTTPError:
                pass
            latencies.append(time.perf_counter() - t)
            time.sleep(0.02)
    sys.stdout.write(json.dumps({"latencies": latencies}))


def summary(latencies: list[float]) -> str:
    if not latencies:
        return "no RPC call completed"
    return (
        f"{len(latencies)} RPC calls, median {1000 * statistics.median(latencies):.1f} ms, "
        f"max {1000 * max(latencies):.1f} ms"
    )


# -- attack 5 ------------------------------------------------------------------------------


def big_harvester_handshake() -> bytes:
    point = bytes(G1Element(blspy.G1Element.generator()))
    half = 109_000
    data = (half.to_bytes(4, "big") + point * half) * 2
    return bytes(Message(uint8(T.harvester_handshake), None, data))


async def attack_flood(work: Path, seconds: float) -> None:
    message = big_harvester_handshake()
    print(f"\n== attack 5: {len(message) / 2**20:.1f} MiB harvester_handshake, {seconds:g} s")
    async with full_node(work) as (proc, root, port):
        rss_before = rss_mib(proc.pid)
        rss_max = rss_before
        latencies: list[float] = []
        stop = trio.Event()
        sent = disconnects = refused = 0
        async with trio.open_nursery() as nursery:
            nursery.start_soon(rpc_latencies, root, stop, latencies)
            deadline = trio.current_time() + seconds
            source = 2
            while trio.current_time() < deadline and source < 40:
                address = f"127.0.0.{source}"
                try:
                    async with peer(work, f"flood{source}", port, source=address) as conn:
                        while trio.current_time() < deadline:
                            with trio.move_on_at(deadline):
                                await conn.stream.send(message)
                                sent += 1
                            rss_max = max(rss_max, rss_mib(proc.pid))
                except (TransportClosed, DialError, trio.TooSlowError, OSError):
                    disconnects += 1
                    # Banned? A redial from the same address is refused before TLS.
                    try:
                        async with peer(work, f"again{source}", port, source=address):
                            pass
                    except (TransportClosed, DialError, trio.TooSlowError, OSError):
                        refused += 1
                    source += 1
            await trio.sleep(1.0)
            rss_max = max(rss_max, rss_mib(proc.pid))
            stop.set()
        print(f"  sent {sent} messages; {disconnects} disconnects; {refused} redials refused")
        print(f"  RPC get_blockchain_state: {summary(latencies)}")
        print(f"  node RSS {rss_before:.0f} MiB before, {rss_max:.0f} MiB max")
        lines = [x for x in log_lines(root) if "127.0.0." in x and "127.0.0.1" not in x]
        print(f"  log lines about the attacker: {len(lines)}")
        for line in lines[:3]:
            print(f"    {line[:160]}")


# -- attack 6 ------------------------------------------------------------------------------


async def hold_socket(port: int, stop: threading.Event, counts: dict[str, int]) -> None:
    while not stop.is_set():
        try:
            sock = await trio.open_tcp_stream("127.0.0.1", port)
        except OSError:
            counts["connect_failed"] += 1
            await trio.sleep(0.05)
            continue
        counts["opened"] += 1
        try:
            with trio.move_on_after(60):
                while not stop.is_set() and await sock.receive_some(1024):
                    pass
        except (trio.BrokenResourceError, OSError):
            pass
        finally:
            await trio.aclose_forcefully(sock)


def hold_forever(port: int, sockets: int) -> None:
    """The ``_hold`` mode: ``sockets`` plain TCP sockets, reopened as the node closes them,
    until stdin closes; prints how many were opened."""
    stop = threading.Event()
    threading.Thread(target=lambda: (sys.stdin.read(), stop.set()), daemon=True).start()
    counts = {"opened": 0, "connect_failed": 0}

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            for _ in range(sockets):
                nursery.start_soon(hold_socket, port, stop, counts)
            await trio.to_thread.run_sync(stop.wait)
            nursery.cancel_scope.cancel()

    trio.run(main)
    sys.stdout.write(json.dumps(counts))


async def attack_slots(work: Path, seconds: float, sockets: int = 200) -> None:
    print(f"\n== attack 6: {sockets} idle TCP sockets from 127.0.0.1, {seconds:g} s")
    async with full_node(work) as (_proc, root, port):
        lines_before = len(log_lines(root))
        results: list[float | None] = []
        # The attacker's sockets live in their own process: this one only times the honest dial.
        holder = await trio.lowlevel.open_process(
            [sys.executable, __file__, "_hold", str(port), str(sockets)],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
        )
        assert holder.stdin is not None and holder.stdout is not None
        for i in range(100):  # certificates made before the clock starts
            NodeIdentity.public(work / f"honest{i}", "full_node")
        async with trio.open_nursery() as nursery:
            await trio.sleep(1.0)
            deadline = trio.current_time() + seconds
            i = 0
            while trio.current_time() < deadline:
                t = time.perf_counter()
                try:
                    with trio.fail_after(5):
                        async with peer(work, f"honest{i}", port, source="127.0.0.2"):
                            results.append(time.perf_counter() - t)
                except (TransportClosed, DialError, trio.TooSlowError, OSError):
                    results.append(None)
                i += 1
                await trio.sleep(0.5)
            nursery.cancel_scope.cancel()
        await holder.stdin.aclose()
        data = b""
        while chunk := await holder.stdout.receive_some(65536):
            data += chunk
        await holder.wait()
        counts = json.loads(data)
        done = [r for r in results if r is not None]
        print(f"  attacker sockets opened {counts['opened']} ({counts['connect_failed']} failed)")
        print(
            f"  honest handshakes from 127.0.0.2: {len(done)} of {len(results)} succeeded"
            + (f", slowest {1000 * max(done):.0f} ms" if done else "")
        )
        await trio.sleep(0.5)
        new = log_lines(root)[lines_before:]
        refusals = [x for x in new if "refus" in x or "failed to set up" in x]
        print(f"  node log: {len(new)} new lines, {len(refusals)} about refusals/set-ups")
        for line in refusals[:3]:
            print(f"    {line[:160]}")


# -- attack 7 ------------------------------------------------------------------------------


async def attack_wedge(work: Path, ids: int) -> None:
    async with full_node(work) as (_proc, _root, port):
        async with peer(work, f"wedge{ids}", port, source="127.0.0.2") as conn:
            answered = 0

            async def request_transaction(msg: object, c: PeerConnection) -> Error:
                nonlocal answered
                await trio.sleep(0.1)  # a distant honest peer
                answered += 1
                return Error(int16(ErrorCode.NOT_FOUND), "gone")

            def lookup(mtype: T) -> object:
                return request_transaction if mtype is T.request_transaction else None

            async with trio.open_nursery() as nursery:
                nursery.start_soon(conn.serve, lookup)
                for _ in range(ids):
                    await conn.send(TransactionId(bytes32(os.urandom(32))))
                t = time.perf_counter()
                try:
                    with trio.fail_after(60):
                        await conn.request(RequestBlock(bytes32(os.urandom(32))))
                except PeerRequestError:
                    pass  # Error NOT_FOUND: the answer we time
                took = time.perf_counter() - t
                print(
                    f"  {ids} TransactionIds: RequestBlock answered after {took:.3f} s "
                    f"({answered} RequestTransactions answered by then)"
                )
                conn.close("done")
                nursery.cancel_scope.cancel()


def main() -> None:
    if sys.argv[1:2] == ["_poll"]:
        poll_forever(Path(sys.argv[2]))
        return
    if sys.argv[1:2] == ["_hold"]:
        hold_forever(int(sys.argv[2]), int(sys.argv[3]))
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], allow_abbrev=False)
    parser.add_argument("attacks", nargs="*", default=["flood", "slots", "wedge"])
    parser.add_argument("--seconds", type=float, default=10.0)
    args = parser.parse_args()
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(max(soft, 4096), hard), hard))
    work = Path(tempfile.mkdtemp(prefix="attack_peers_"))

    async def run() -> None:
        for attack in args.attacks:
            if attack == "flood":
                await attack_flood(work / "flood", args.seconds)
            elif attack == "slots":
                await attack_slots(work / "slots", args.seconds)
            elif attack == "wedge":
                print("\n== attack 7: TransactionId burst answered 100 ms late, then RequestBlock")
                for ids in (15, 16, 17):
                    try:
                        await attack_wedge(work / f"wedge{ids}", ids)
                    except Exception as exc:  # noqa: BLE001 - closing races in trio-websocket
                        print(f"  (client closed with {exc!r})")
            else:
                sys.exit(f"unknown attack {attack!r}")

    trio.run(run)


if __name__ == "__main__":
    main()
