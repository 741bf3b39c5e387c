"""Entry points the lead's CLI calls for this issue's roles and for ``trionode init``.

``run_full_node_p2p`` / ``run_introducer`` take already-parsed values, run until SIGINT or
SIGTERM, then close every connection cleanly and return 0 (a second signal, or a clean close
that takes longer than ``SHUTDOWN_SECONDS``, cancels everything). Bad values raise
:class:`UsageError` with a message meant for the operator; the CLI prints it and exits 2.
"""

from __future__ import annotations

import hashlib
import logging
import signal
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path
from typing import Any

import trio

from trionode.init_root import init_root, load_config
from trionode.peers.full_node import FullNodePeers
from trionode.peers.identity import NodeIdentity, make_websocket_transport
from trionode.peers.introducer import Introducer
from trionode.peers.limits import PeerLimits
from trionode.peers.manager import PeerManagerConfig
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols.shared_protocol import NodeType
from trionode.storage.peer_store import PeerStore
from trionode.wire import bytes32

__all__ = [
    "SHUTDOWN_SECONDS",
    "UsageError",
    "init_command",
    "network_id_for",
    "parse_host_port",
    "run_full_node_p2p",
    "run_introducer",
]

logger = logging.getLogger(__name__)

SHUTDOWN_SECONDS = 5.0
NETWORKS = ("testnet", "devnet", "sim")


class UsageError(ValueError):
    """A flag or config value the operator must fix."""


def network_id_for(network: str) -> bytes32:
    """The network id of ``network``.

    TODO(consensus): switch to the genesis challenge of the consensus constants,
    sha256(b"trionode genesis " + name + constants_hash) (PROTOCOL.md, Genesis), once
    trionode.consensus provides them; this placeholder omits constants_hash.
    """
    if network not in NETWORKS:
        raise UsageError(f"unknown network {network!r}; choose one of {', '.join(NETWORKS)}")
    return bytes32(hashlib.sha256(b"trionode genesis " + network.encode()).digest())


def parse_host_port(text: str) -> tuple[str, int]:
    """ "HOST:PORT" (IPv6 as "[::1]:PORT") -> (host, port); UsageError if malformed."""
    host, sep, port_text = text.rpartition(":")
    if not sep or not host or not port_text.isdigit():
        raise UsageError(f"expected HOST:PORT, got {text!r}")
    port = int(port_text)
    if not 0 < port < 65536:
        raise UsageError(f"port out of range in {text!r}")
    if host.startswith("[") and host.endswith("]"):
        host = host[1:-1]
    return host, port


def init_command(root: str | Path) -> int:
    """``trionode init --root DIR``: create what is missing, print it, return 0."""
    created = init_root(Path(root))
    if created:
        print(f"trionode init: created {len(created)} files under {root}:")
        for path in created:
            print(f"  {path}")
    else:
        print(f"trionode init: {root} is complete; nothing to do")
    return 0


def _setup_logging(level: str) -> None:
    root = logging.getLogger()
    if not root.handlers:
        logging.basicConfig(format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    root.setLevel(level.upper())


def _role_config(root: Path, role: str) -> dict[str, Any]:
    try:
        config = load_config(root)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    section = config.get(role) or {}
    if not isinstance(section, dict):
        raise UsageError(f"{root / 'config.yaml'}: section {role!r} must be a mapping")
    return section


async def _serve_until_signal(
    start: Callable[..., Awaitable[object]], stop: Callable[[], None]
) -> None:
    """Start the service; at SIGINT/SIGTERM ask it to stop and wait until it has closed
    everything, at most SHUTDOWN_SECONDS or until a second signal, then cancel what is left."""
    done = trio.Event()

    async def service(*, task_status: trio.TaskStatus[object]) -> None:
        try:
            await start(task_status=task_status)
        finally:
            done.set()

    with trio.open_signal_receiver(signal.SIGINT, signal.SIGTERM) as signals:
        async with trio.open_nursery() as nursery:
            await nursery.start(service)

            async def end_with_service() -> None:
                await done.wait()
                nursery.cancel_scope.cancel()

            nursery.start_soon(end_with_service)
            async for signum in signals:
                logger.info("%s received: closing connections", signal.Signals(signum).name)
                stop()
                break
            with trio.move_on_after(SHUTDOWN_SECONDS) as clean:
                async with trio.open_nursery() as waiting:

                    async def second_signal() -> None:
                        async for _ in signals:
                            logger.warning("second signal: stopping at once")
                            clean.cancel()

                    waiting.start_soon(second_signal)
                    await done.wait()
                    waiting.cancel_scope.cancel()
            if clean.cancelled_caught:
                logger.warning("clean shutdown took too long; cancelling")
            nursery.cancel_scope.cancel()


def run_full_node_p2p(
    *,
    root: str | Path,
    port: int | None = None,
    peers: Sequence[str] = (),
    introducer: str | None = None,
    network: str = "devnet",
    log_level: str = "INFO",
    rpc_port: int | None = None,
) -> int:
    """``--role full_node``: connect, handshake, exchange peers, serve until a signal.

    ``rpc_port`` is accepted for the CLI's uniformity; the RPC server is a later issue.
    """
    _setup_logging(log_level)
    root = Path(root)
    network_id = network_id_for(network)
    bootstrap = tuple(parse_host_port(p) for p in peers)
    intro = parse_host_port(introducer) if introducer else None
    init_root(root)
    section = _role_config(root, "full_node")
    listen_port = int(section.get("port", 8444)) if port is None else port
    if not 0 <= listen_port < 65536:
        raise UsageError(f"--port {listen_port} out of range")
    limits = PeerLimits(max_inbound=int(section.get("max_inbound", 80)))
    identity = NodeIdentity.public(root, "full_node")
    node_config = PeerNodeConfig(
        network_id=network_id,
        node_type=NodeType.FULL_NODE,
        host="0.0.0.0" if section.get("listen_all") else "127.0.0.1",
        port=listen_port,
        limits=limits,
    )
    manager_config = PeerManagerConfig(
        target_outbound=int(section.get("target_outbound", 8)),
        bootstrap=bootstrap,
        introducer=intro,
    )
    store = PeerStore.open(root / str(section.get("peer_db", "db/peers.sqlite")))
    try:
        service = FullNodePeers(
            node_config, make_websocket_transport(identity, limits), store, manager_config
        )
        trio.run(_serve_until_signal, service.run, service.stop)
    finally:
        store.close()
    logger.info("full node stopped")
    return 0


def run_introducer(
    *,
    root: str | Path,
    port: int | None = None,
    network: str = "devnet",
    log_level: str = "INFO",
    rpc_port: int | None = None,
) -> int:
    """``--role introducer``: accept full nodes and introduce them to each other."""
    _setup_logging(log_level)
    root = Path(root)
    network_id = network_id_for(network)
    init_root(root)
    section = _role_config(root, "introducer")
    listen_port = int(section.get("port", 8445)) if port is None else port
    if not 0 <= listen_port < 65536:
        raise UsageError(f"--port {listen_port} out of range")
    limits = PeerLimits()
    node = PeerNode(
        PeerNodeConfig(
            network_id=network_id,
            node_type=NodeType.INTRODUCER,
            host="0.0.0.0" if section.get("listen_all") else "127.0.0.1",
            port=listen_port,
            limits=limits,
        ),
        make_websocket_transport(NodeIdentity.public(root, "introducer"), limits),
    )
    introducer = Introducer(node)
    trio.run(_serve_until_signal, introducer.serve, node.stop)
    logger.info("introducer stopped")
    return 0
