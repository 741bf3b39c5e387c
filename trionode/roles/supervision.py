"""The supervisor each role owns for its own loops and its RPC and metrics servers.

A role's peer layer (PeerNode) supervises what belongs to it: the listener, the connections,
the peer manager. Everything the role itself runs (the full node's chain follower and sync, the
harvester's plot watcher, the farmer's links, the RPC server...) lives under this supervisor,
named after the role, so the role's lifetime and its tasks' lifetime are one.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import trio

from trionode.nursery import Supervisor

__all__ = ["role_supervisor"]


@asynccontextmanager
async def role_supervisor(name: str, *, until: trio.Event) -> AsyncIterator[Supervisor]:
    """A running :class:`Supervisor` for the role ``name``'s loops.

    Once the body has started everything, leaving it waits for ``until`` (the role's peer
    layer has stopped: SIGTERM, ``stop_node``), then stops the children in reverse start order.
    A child that cannot recover ends the supervisor, and with it the role.
    """
    supervisor = Supervisor(name)
    async with trio.open_nursery() as nursery:
        await nursery.start(supervisor.run)
        try:
            yield supervisor
            await until.wait()
        finally:
            with trio.CancelScope(shield=True):
                await supervisor.shutdown()
