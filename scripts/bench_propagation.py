"""Benchmark: block propagation per hop on a line of full node processes, next to the time to
validate one block and a loopback round trip, all measured in the same run.

    python scripts/bench_propagation.py [--nodes 10] [--blocks 20] [--network sim]
                                        [--proof-of-time] [--cache-dir DIR]

``--nodes`` full nodes (``python -m trionode --role full_node``, each its own root and SQLite
store) form a line: node i dials node i-1 and keeps one outbound connection
(``TRIONODE_FULL_NODE__TARGET_OUTBOUND=1``), node 0 none (``=0``: with a free outbound slot it
dialed a node it learned of from node 1, e.g. node 2, a shortcut that made the per-hop figure
cover 7 hops for 8), so no node learns a shortcut; the run checks the line from each node's
status file (its count of full node peers) and stops if it is not one. An observer in this
process connects to every node as a full node. It hands each block of a cached chain to node 0
and records, on its own clock, when each node relays the block to it (a node relays a block to
every peer but the one it came from, so the observer hears nodes 1..N-1). The per-hop figure is
``(last relay - first relay) / (N - 2)``: node 1 to node N-1, without the observer's own hop.

In the same run:

- *validation*: ``validate_block`` of the same blocks with their contexts, one at a time, proof
  caches cleared, each block decoded afresh (the median; what a node must spend before it may
  relay): once before the nodes start, and once for each block while they run, right after
  every node relayed it (so on a shared machine it sees the load the hops saw; both medians
  are printed, the ratio uses the median of all);
- *loopback round trip*: 64-byte TCP echoes over 127.0.0.1 in this process (the median).

The goal (issue 13) is per hop <= 1.5 x (validation + 1 ms); the ratio is printed.

Session 7, 2 cores shared with other work (1-minute load before -> after each run), this script
(line check included) on main 6691663 ("before") and on h13-prop3 ("after": a lone block is
gathered and validated in one worker thread), alternated; validation / per hop / ratio in ms:

    before 3.4->3.7  5.47 / 12.68 / 1.95    after 3.7->3.3  6.55 / 12.22 / 1.62
    before 3.3->3.7  6.49 / 14.59 / 1.95    after 3.7->3.8  7.40 / 15.58 / 1.85
    before 3.8->3.2  7.12 / 14.30 / 1.76    after 3.2->3.2  6.35 / 13.00 / 1.77
    before 7.7->8.0  9.95 / 17.62 / 1.61    after 8.0->11   8.94 / 14.96 / 1.51
    before 11->8.9   8.36 / 14.77 / 1.58    after 8.9->8.4  9.27 / 20.88 / 2.03
    before 8.4->9.7  9.48 / 15.33 / 1.46    after 9.7->8.9  6.46 / 15.48 / 2.08
    before 8.9->8.1  7.71 / 16.11 / 1.85    after 8.1->8.2  8.85 / 18.35 / 1.86
    before 1.3->2.4  6.95 / 13.32 / 1.68    after 2.4->2.9  5.83 / 13.82 / 2.02
    before 2.9->3.4  5.85 / 12.76 / 1.86    after 3.4->2.8  7.11 / 11.08 / 1.37
    before 2.8->2.5  5.86 / 10.93 / 1.59    after 2.5->3.7  6.22 / 12.70 / 1.76

The goal is not met on this machine: the runs scatter more than the change moves them (median
per hop of the ten pairs 14.45 ms before, 14.39 after; median ratio 1.72 and 1.81). Traced
inside the nodes (load 3.5-3.9, two runs each), gather end -> validation running went from
0.76 / 0.81 ms (p90 2.3 / 2.5) to 0.04 / 0.03 ms; besides validate_block (7-8 ms in the node)
a hop's step medians sum to 4.6 / 4.0 ms before and 3.6 / 3.3 ms after: three wake-ups (worker
thread start and return, the next node's socket) and Python on the loop and store path (decode
and dispatch, the context read, staging, relay task, TLS and websocket framing), 0.1-0.7 ms each.

Session 8, on an otherwise idle machine (load 0.7-1.9), main (a lone block read and validated
in one worker) against this tree (a second free worker checks the block's proof of time and
signatures from the other end meanwhile, ``consensus.validation.check_proofs_ahead``: the
validating thread finds them memoised or waits for them in flight), alternated;
validation / per hop / ratio in ms:

    main  5.33 / 8.71 / 1.37    ahead 5.27 / 7.10 / 1.14
    main  5.23 / 8.38 / 1.35    ahead 5.56 / 7.20 / 1.10
    main  5.28 / 8.64 / 1.38    ahead 5.74 / 7.24 / 1.08
    main  5.22 / 8.62 / 1.39    ahead 5.38 / 7.26 / 1.14
    main  5.52 / 9.71 / 1.49    ahead 5.37 / 7.69 / 1.21
    main  6.02 / 9.38 / 1.34    ahead 5.38 / 7.00 / 1.10
    main  5.38 / 8.59 / 1.35    ahead 5.30 / 7.39 / 1.17

Main alone on the idle machine, five runs: 1.40, 1.35, 1.54, 1.41, 1.51 (the goal met in
three). The validation figure stays one thread's ``validate_block``: what a node spends
before it may relay when no second core is free. ``--proof-of-time`` is unchanged by it
(0.65 / 0.53 main, 0.70 / 0.54 this tree).

``--proof-of-time``: each block after the first is first handed to node 0 as its unfinished
block (no proof of time), which every node holds and relays (the observer waits until each has
relayed it), then as the ``NewProofOfTime`` that finishes it. Before each unfinished block the
observer waits until every node's status file shows the parent as its peak: nodes relay a block
before they store it, and an unfinished block whose parent is not a tip yet is not held. A node that holds the unfinished
block is sent only the proof (docs/protocol.md 2.5), so the hop is: verify the proof, finish
the block, validate it (its proofs of space and signatures memoised from the unfinished
block's validation), send the proof on. The observer never acknowledged an unfinished block,
so each node sends it the Block, which times the hop as before.
"""

from __future__ import annotations

import argparse
import functools
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import trio

from trionode import runfiles
from trionode.consensus import (
    ConsensusConstants,
    ValidationContext,
    get_constants,
    validate_block,
)
from trionode.consensus.proofs import clear_proof_caches
from trionode.peers.connection import PeerConnection
from trionode.peers.handshake import HandshakeMachine
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.limits import PeerLimits
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import Block, NewProofOfTime, UnfinishedBlock
from trionode.protocols.shared_protocol import NodeType
from trionode.testing.block_tools import BlockTools
from trionode.testing.chain_cache import cache_path, cached_chain, chain_contexts
from trionode.wire import bytes32

LOCAL = "127.0.0.1"


def validate_one(constants: ConsensusConstants, block: FullBlock, ctx: ValidationContext) -> float:
    """Seconds to validate ``block`` as a node does: decoded from its bytes (points not yet
    decompressed), nothing memoised."""
    fresh = FullBlock.from_bytes(bytes(block))
    clear_proof_caches()
    started = time.perf_counter()
    err = validate_block(constants, fresh, ctx)
    elapsed = time.perf_counter() - started
    if err is not None:
        raise SystemExit(f"block {block.height} of the cached chain is invalid: {err}")
    return elapsed


def validation_seconds(
    constants: ConsensusConstants, chain: Sequence[FullBlock], ctxs: Sequence[ValidationContext]
) -> list[float]:
    return [validate_one(constants, b, c) for b, c in zip(chain, ctxs, strict=True)]


async def loopback_rtts(count: int = 200) -> list[float]:
    """TCP echo round trips over 127.0.0.1 (both ends in this process)."""

    async def echo(stream: trio.SocketStream) -> None:
        while data := await stream.receive_some(64):
            await stream.send_all(data)

    async with trio.open_nursery() as nursery:
        listeners = await nursery.start(functools.partial(trio.serve_tcp, echo, 0, host=LOCAL))
        port = listeners[0].socket.getsockname()[1]
        stream = await trio.open_tcp_stream(LOCAL, port)
        out = []
        payload = b"x" * 64
        for _ in range(count):
            started = time.perf_counter()
            await stream.send_all(payload)
            got = b""
            while len(got) < len(payload):
                got += await stream.receive_some(64)
            out.append(time.perf_counter() - started)
        await stream.aclose()
        nursery.cancel_scope.cancel()
    return out


def line_peers(index: int, nodes: int) -> int:
    """Full node peers of node ``index`` in the line: its neighbours and the observer."""
    return (2 if 0 < index < nodes - 1 else 1) + 1


def check_line(roots: Sequence[Path]) -> None:
    """Stop unless every node's status file shows the peers of a line (no shortcut)."""
    got = []
    for root in roots:
        status = runfiles.read_json(runfiles.status_path(root, "full_node"))
        peers = status.get("peers", {}) if isinstance(status, dict) else {}
        got.append(peers.get("full_node") if isinstance(peers, dict) else None)
    want = [line_peers(i, len(roots)) for i in range(len(roots))]
    if got != want:
        raise SystemExit(f"not a line: full node peers per node {got}, expected {want}")


def start_node(root: Path, network: str, peer: int | None) -> subprocess.Popen[bytes]:
    runfiles.clear(root, "full_node")
    root.mkdir(parents=True, exist_ok=True)
    args = [sys.executable, "-m", "trionode", "--role", "full_node", "--root", str(root)]
    args += ["--network", network, "--port", "0", "--rpc-port", "0", "--metrics-port", "0"]
    args += ["--log-level", "WARNING"]
    if peer is not None:
        args += ["--peer", f"{LOCAL}:{peer}"]
    env = dict(os.environ, TRIONODE_FULL_NODE__TARGET_OUTBOUND="0" if peer is None else "1")
    with (root / "console.log").open("wb") as out:
        return subprocess.Popen(args, stdout=out, stderr=subprocess.STDOUT, env=env)


async def wait_ready(root: Path, proc: subprocess.Popen[bytes]) -> int:
    with trio.move_on_after(60):
        while True:
            ready = runfiles.read_json(runfiles.ready_path(root, "full_node"))
            if isinstance(ready, dict) and isinstance(ready.get("port"), int):
                return int(ready["port"])
            if proc.poll() is not None:
                tail = (root / "console.log").read_text(errors="replace")[-2000:]
                raise SystemExit(f"node at {root} exited with {proc.returncode}:\n{tail}")
            await trio.sleep(0.05)
    raise SystemExit(f"node at {root} did not become ready")


class Observer:
    """Connected to every node; records when each node relays each block to it."""

    def __init__(self, work: Path, constants: ConsensusConstants, nodes: int) -> None:
        self.identity = NodeIdentity.public(work / "observer", "full_node")
        self.limits = PeerLimits()
        self.transport = make_websocket_transport(self.identity, self.limits)
        self.network_id = constants.genesis_challenge
        self.conns: list[PeerConnection | None] = [None] * nodes
        self.heard: dict[bytes32, dict[int, float]] = {}
        self.heard_unfinished: dict[bytes32, dict[int, float]] = {}
        self.changed = trio.Event()

    async def attach(
        self,
        index: int,
        port: int,
        *,
        task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        async with self.transport.connect(LOCAL, port) as stream:
            conn = PeerConnection(stream, self.limits)
            with trio.fail_after(20):
                await conn.handshake(
                    HandshakeMachine(
                        network_id=self.network_id,
                        node_type=NodeType.FULL_NODE,
                        server_port=0,
                        software_version="bench observer",
                        local_node_id=self.identity.node_id,
                        remote_node_id=stream.remote_node_id,
                    )
                )
            self.conns[index] = conn
            task_status.started()

            async def handle(payload: Any, _conn: PeerConnection) -> None:
                heard = None
                if isinstance(payload, Block):
                    heard = self.heard
                elif isinstance(payload, UnfinishedBlock):
                    heard = self.heard_unfinished
                if heard is not None:
                    got = heard.setdefault(payload.block.header_hash, {})
                    got.setdefault(index, time.perf_counter())
                    self.changed.set()
                return None  # any request is answered Error(NOT_FOUND): we serve nothing

            await conn.serve(lambda _mtype: handle, frozenset(T))

    async def until_heard(
        self, header_hash: bytes32, nodes: range, *, unfinished: bool = False
    ) -> None:
        heard = self.heard_unfinished if unfinished else self.heard
        with trio.fail_after(60):
            while not set(nodes) <= set(heard.get(header_hash, {})):
                self.changed = trio.Event()
                await self.changed.wait()


async def until_peak(roots: Sequence[Path], header_hash: bytes32) -> None:
    """Until every node's status file names ``header_hash`` as its peak (it is stored)."""
    with trio.fail_after(60):
        for root in roots:
            while True:
                status = runfiles.read_json(runfiles.status_path(root, "full_node"))
                if isinstance(status, dict) and status.get("peak") == header_hash.hex():
                    break
                await trio.sleep(0.005)


async def propagate(
    work: Path,
    constants: ConsensusConstants,
    chain: Sequence[FullBlock],
    ctxs: Sequence[ValidationContext],
    ports: list[int],
    by_proof: bool,
) -> tuple[list[tuple[float, float]], list[float]]:
    """(seconds node 1 -> node N-1 per hop, seconds from the send to node 1) per block, and
    the validation of each block timed once every node has relayed it."""
    n = len(ports)
    validations = []
    observer = Observer(work, constants, n)
    out = []
    async with trio.open_nursery() as nursery:
        for i, port in enumerate(ports):
            await nursery.start(observer.attach, i, port)
        first = observer.conns[0]
        assert first is not None
        for k, block in enumerate(chain):
            if by_proof and k > 0:
                assert block.proof_of_time is not None
                unfinished = block.replace(proof_of_time=None, challenge=None)
                await until_peak([work / f"n{i}" for i in range(n)], block.prev_header_hash)
                await first.send(UnfinishedBlock(unfinished))
                try:
                    # Nodes 1.. relay it to the observer (node 0 only acknowledges it to its
                    # sender under docs/protocol.md 2.5; earlier nodes did not).
                    await observer.until_heard(block.header_hash, range(1, n), unfinished=True)
                except trio.TooSlowError:
                    got = sorted(observer.heard_unfinished.get(block.header_hash, {}))
                    raise SystemExit(
                        f"unfinished block {k} was relayed only by nodes {got} within 60 s"
                    ) from None
                sent = time.perf_counter()
                await first.send(NewProofOfTime(block.proof_of_time))
            else:
                sent = time.perf_counter()
                await first.send(Block(block))
            try:
                await observer.until_heard(block.header_hash, range(1, n))
            except trio.TooSlowError:
                got = sorted(observer.heard.get(block.header_hash, {}))
                raise SystemExit(f"block {k} reached only nodes {got} within 60 s") from None
            times = observer.heard[block.header_hash]
            if k > 0:  # the first block also opens every node's store: a warm-up
                out.append(((times[n - 1] - times[1]) / (n - 2), times[1] - sent))
                validations.append(validate_one(constants, block, ctxs[k]))
        check_line([work / f"n{i}" for i in range(n)])
        nursery.cancel_scope.cancel()
    return out, validations


def ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__.split("\n")[0])
    parser.add_argument("--nodes", type=int, default=10)
    parser.add_argument("--blocks", type=int, default=20)
    parser.add_argument("--network", default="sim", choices=["sim", "devnet"])
    parser.add_argument(
        "--proof-of-time",
        action="store_true",
        help="relay each block as its unfinished block, then the proof of time finishing it",
    )
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "trionode-bench-sync"
    )
    args = parser.parse_args(argv)
    if args.nodes < 3:
        parser.error("--nodes must be at least 3 (the per-hop figure spans nodes 1..N-1)")
    constants = get_constants(args.network)
    args.cache_dir.mkdir(parents=True, exist_ok=True)
    bt = BlockTools(constants, args.cache_dir / "plots", num_plots=4, k=18)
    chain, _ = cached_chain(bt, args.blocks + 1, cache_path(args.cache_dir, constants))
    how = "unfinished block, then its proof of time" if args.proof_of_time else "Block"
    print(f"{len(chain)} {args.network} blocks; {args.nodes} full node processes in a line; {how}")

    ctxs = chain_contexts(constants, chain, now=2**40)
    before = validation_seconds(constants, chain, ctxs)
    rtt = statistics.median(trio.run(loopback_rtts))
    with tempfile.TemporaryDirectory(prefix="bench_propagation_") as tmp:
        work = Path(tmp)
        procs: list[subprocess.Popen[bytes]] = []
        try:

            async def start_all() -> list[int]:
                ports: list[int] = []
                for i in range(args.nodes):
                    root = work / f"n{i}"
                    procs.append(start_node(root, args.network, ports[-1] if ports else None))
                    ports.append(await wait_ready(root, procs[-1]))
                return ports

            ports = trio.run(start_all)
            hops, during = trio.run(
                propagate, work, constants, chain, ctxs, ports, args.proof_of_time
            )
        finally:
            for proc in procs:
                proc.terminate()
            for proc in procs:
                try:
                    proc.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    proc.kill()
    per_hop = sorted(h for h, _ in hops)
    hop = statistics.median(per_hop)
    validation = statistics.median(before + during)
    print(f"validation of one block (median):      {ms(validation)}")
    print(
        f"  before the nodes start: {ms(statistics.median(before))}; "
        f"between blocks: {ms(statistics.median(during))}"
    )
    print(f"loopback TCP round trip (median):      {ms(rtt)}")
    print(
        f"per hop, nodes 1..{args.nodes - 1} (median of {len(per_hop)} blocks): {ms(hop)}"
        f"  (min {ms(per_hop[0])}, max {ms(per_hop[-1])})"
    )
    print(
        f"first hop incl. the observer's send (median): {ms(statistics.median(f for _, f in hops))}"
    )
    ratio = hop / (validation + 0.001)
    print(f"per hop / (validation + 1 ms) = {ratio:.2f}  (goal <= 1.5)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
