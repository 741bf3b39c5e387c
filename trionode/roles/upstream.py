"""Keeping an outbound connection up: dial, serve until it drops, redial with backoff.

Farmer -> full node, timelord -> full node and harvester -> farmer are such links (PROTOCOL.md,
Who dials whom). The loop runs as a permanent child of the role; it only returns by being
cancelled.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from trionode.peers.addresses import parse_host_port
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import DialError, RemoteProtocolError, TransportClosed
from trionode.peers.node import PeerNode

__all__ = ["keep_connected", "parse_host_port"]

logger = logging.getLogger(__name__)

OnConnect = Callable[[PeerConnection], Awaitable[None]]


async def keep_connected(
    node: PeerNode,
    host: str,
    port: int,
    *,
    what: str,
    on_connect: OnConnect | None = None,
    backoff_initial: float = 0.5,
    backoff_max: float = 10.0,
) -> None:
    """Hold a connection to ``host:port`` open forever, redialling with exponential backoff."""
    delay = backoff_initial
    while True:
        try:
            with trio.fail_after(node.limits.handshake_timeout + 5):
                conn = await node.connect(host, port)
        except (DialError, RemoteProtocolError, TransportClosed, OSError, trio.TooSlowError) as exc:
            logger.warning(
                "cannot reach %s at %s:%d (%s); retrying in %.1f s", what, host, port, exc, delay
            )
            await trio.sleep(delay)
            delay = min(delay * 2, backoff_max)
            continue
        logger.info("connected to %s at %s:%d", what, host, port)
        delay = backoff_initial
        if on_connect is not None:
            await on_connect(conn)
        await conn.closed.wait()
        # Closed because this node is stopping (a planned close): no fault to report.
        await trio.lowlevel.checkpoint_if_cancelled()
        logger.warning("lost %s at %s:%d (%s); redialling", what, host, port, conn.close_reason)
        await trio.sleep(delay)
