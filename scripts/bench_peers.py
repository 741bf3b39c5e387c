"""Connection benchmark: N idle peer connections to one full node, its memory per connection,
and the round-trip time of a request under that load.

The node runs in its own process (``python -m trionode --role full_node``, real TLS websockets
on 127.0.0.1);
this process plays N peers, each with its own certificate (a node refuses a second connection
from the same node_id), completes the handshake on each, and leaves them idle. Memory is the
node's RSS (from /proc) after the connections minus before them, divided by N. Then one more
peer sends RequestPeers repeatedly and the round trips are timed.

    python scripts/bench_peers.py [--connections 500] [--requests 300]
"""

from __future__ import annotations

import argparse
import functools
import re
import resource
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import trio
import yaml

from trionode.consensus import get_constants
from trionode.init_root import init_root
from trionode.peers.connection import PeerConnection
from trionode.peers.handshake import HandshakeMachine
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.protocols.peer_protocol import RequestPeers
from trionode.protocols.shared_protocol import NodeType


def raise_fd_limit(needed: int) -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < needed:
        soft = min(needed, hard) if hard != resource.RLIM_INFINITY else needed
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
    return soft


def rss_kib(pid: int) -> int:
    text = Path(f"/proc/{pid}/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    assert found
    return int(found.group(1))


async def hold_peer(
    root: Path,
    name: str,
    port: int,
    network: str,
    ready: trio.MemorySendChannel[PeerConnection],
    slots: trio.Semaphore,
    stop: trio.Event,
) -> None:
    """One client peer: connect, handshake, then stay idle (answering pings) until stop."""
    identity = NodeIdentity.public(root / name, "full_node")
    limits = PeerLimits()
    transport = make_websocket_transport(identity, limits)
    async with slots:
        stream_cm = transport.connect("127.0.0.1", port)
        stream = await stream_cm.__aenter__()
    try:
        conn = PeerConnection(stream, limits)
        with trio.fail_after(30):
            await conn.handshake(
                HandshakeMachine(
                    network_id=get_constants(network).genesis_challenge,
                    node_type=NodeType.FULL_NODE,
                    server_port=0,
                    software_version="bench",
                    local_node_id=identity.node_id,
                    remote_node_id=stream.remote_node_id,
                )
            )
        await ready.send(conn)
        async with trio.open_nursery() as nursery:
            nursery.start_soon(conn.serve, lambda mtype: None)
            await stop.wait()
            conn.close("bench done")
    finally:
        await stream_cm.__aexit__(None, None, None)


async def bench(args: argparse.Namespace) -> None:
    work = Path(tempfile.mkdtemp(prefix="bench_peers_"))
    node_root = work / "node"
    init_root(node_root)
    config_path = node_root / "config.yaml"
    config = yaml.safe_load(config_path.read_text())
    config["full_node"]["max_inbound"] = args.connections + 10
    # Every client comes from 127.0.0.1: lift the per-address and per-group caps for the bench.
    config["peers"]["max_inbound_per_address"] = args.connections + 10
    config["peers"]["max_inbound_per_group"] = args.connections + 10
    config["peers"]["max_handshakes_per_address"] = 32
    config["peers"]["max_handshakes_per_group"] = 32
    config["full_node"]["target_outbound"] = 0
    config_path.write_text(yaml.safe_dump(config))
    cmd = [sys.executable, "-m", "trionode", "--role", "full_node", "--root", str(node_root)]
    cmd += ["--port", "0", "--rpc-port", "0", "--network", args.network, "--log-level", "INFO"]
    process = await trio.lowlevel.open_process(cmd, stderr=subprocess.PIPE)
    assert process.stderr is not None
    buf = b""
    port = 0
    with trio.fail_after(30):
        async for chunk in process.stderr:
            buf += chunk
            found = re.search(rb"listening on port (\d+)", buf)
            if found:
                port = int(found.group(1))
                break

    async def drain() -> None:
        assert process.stderr is not None
        async for _ in process.stderr:
            pass

    print(f"node pid {process.pid} listening on 127.0.0.1:{port}")
    print(f"generating {args.connections + 1} client certificates ...")
    t = time.perf_counter()
    for i in range(args.connections + 1):
        NodeIdentity.public(work / f"peer{i}", "full_node")
    print(f"  {time.perf_counter() - t:.1f} s")

    async with trio.open_nursery() as nursery:
        nursery.start_soon(drain)
        await trio.sleep(0.5)
        before = rss_kib(process.pid)
        stop = trio.Event()
        send, receive = trio.open_memory_channel[PeerConnection](args.connections)
        slots = trio.Semaphore(16)  # the node caps concurrent handshakes at 32
        t = time.perf_counter()
        for i in range(args.connections):
            nursery.start_soon(hold_peer, work, f"peer{i}", port, args.network, send, slots, stop)
        with trio.fail_after(300):
            held = [await receive.receive() for _ in range(args.connections)]
        setup = time.perf_counter() - t
        await trio.sleep(1.0)
        after = rss_kib(process.pid)
        print(
            f"{args.connections} connections set up (TLS + websocket + handshake) in {setup:.1f} s"
            f" ({args.connections / setup:.0f}/s)"
        )
        print(f"node RSS before {before / 1024:.1f} MiB, after {after / 1024:.1f} MiB")
        print(f"memory per idle connection: {(after - before) / args.connections:.1f} KiB")

        # Request round trips under that load. The node rate-limits RequestPeers per peer
        # (10 a minute), so the requests go round-robin over the idle connections.
        conns = held
        times = []
        for i in range(args.requests):
            conn = conns[i % len(conns)]
            t = time.perf_counter()
            await conn.request(RequestPeers())
            times.append((time.perf_counter() - t) * 1000)
        times.sort()
        print(
            f"RequestPeers round trip over {args.requests} requests: median "
            f"{statistics.median(times):.2f} ms, p90 {times[int(len(times) * 0.9)]:.2f} ms, "
            f"p99 {times[int(len(times) * 0.99)]:.2f} ms, max {times[-1]:.2f} ms"
        )
        stop.set()
        await trio.sleep(1.0)
        process.send_signal(signal.SIGINT)
        t = time.perf_counter()
        with trio.fail_after(30):
            code_rc = await process.wait()
        print(f"node exited {code_rc} {time.perf_counter() - t:.2f} s after SIGINT")
        nursery.cancel_scope.cancel()


print = functools.partial(print, flush=True)  # noqa: A001 - progress shows up at once


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n\n")[0])
    parser.add_argument("--connections", type=int, default=500)
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--network", default="devnet")
    args = parser.parse_args()
    limit = raise_fd_limit(2 * args.connections + 200)
    if limit < 2 * args.connections + 50:
        sys.exit(f"`ulimit -n` is {limit}; need about {2 * args.connections + 50} for this run")
    trio.run(bench, args)


if __name__ == "__main__":
    main()
