"""Sending the first messages a new connection needs (farmer keys to a harvester, the current
challenge to a farmer or timelord, our peak to a full node).

PeerNode's connection hooks are synchronous; this service turns them into a queue that one task
drains, so greetings are sent in order and a slow peer delays only its own greeting.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import trio

from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerRequestError
from trionode.peers.node import PeerNode

logger = logging.getLogger(__name__)

Greet = Callable[[PeerConnection], Awaitable[None]]


async def greet_new_connections(
    node: PeerNode,
    greet: Greet,
    *,
    task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED,
) -> None:
    send, receive = trio.open_memory_channel[PeerConnection](256)

    def on_connect(conn: PeerConnection) -> None:
        try:
            send.send_nowait(conn)
        except trio.WouldBlock:
            logger.warning("greeting queue full: %r gets no greeting", conn)

    node.on_connect.append(on_connect)
    try:
        for conn in list(node.connections.values()):
            on_connect(conn)
        task_status.started()
        async with receive:
            async for conn in receive:
                if conn.closed.is_set():
                    continue
                with trio.move_on_after(node.limits.request_timeout):
                    try:
                        await greet(conn)
                    except PeerRequestError as exc:
                        logger.info("could not greet %r: %s", conn, exc)
    finally:
        node.on_connect.remove(on_connect)
