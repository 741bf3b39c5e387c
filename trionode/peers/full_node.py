"""The full node's peer layer, composed: PeerNode + peer store + peer manager + peer API.

A later issue adds the chain's handlers (blocks, sync) as further API objects: pass them as
``extra_apis``; each handles the messages its methods are named after.
"""

from __future__ import annotations

import trio

from trionode.peers.api import FullNodePeerAPI
from trionode.peers.manager import PeerManager, PeerManagerConfig
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.peers.transport import Transport
from trionode.storage.peer_store import PeerStore

__all__ = ["FullNodePeers"]


class FullNodePeers:
    """Owns nothing it is given: the caller opens and closes the store."""

    def __init__(
        self,
        node_config: PeerNodeConfig,
        transport: Transport,
        store: PeerStore,
        manager_config: PeerManagerConfig,
        *extra_apis: object,
    ) -> None:
        self.store = store
        self.node = PeerNode(node_config, transport, FullNodePeerAPI(store), *extra_apis)
        self.manager = PeerManager(self.node, store, manager_config)

    async def run(
        self, *, task_status: trio.TaskStatus[FullNodePeers] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Listen, dial, serve until :meth:`stop`; reports itself once listening."""
        async with trio.open_nursery() as nursery:
            await nursery.start(self.node.run)
            await self.node.start_service("peer-manager", self.manager.run)
            task_status.started(self)

    def stop(self) -> None:
        self.node.stop()
