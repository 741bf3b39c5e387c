"""A network driver for full-node tests (STYLE.md 16): named nodes on 127.0.0.x port 0, each a
real :class:`FullNodeService` (real store, TLS websockets, sync loop), pre-loaded chains, stop /
restart on the same root, connect, event barriers instead of polling.

    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=blocks)
        b = await net.start("b", peers=[a])
        await net.wait_for_peak("b", blocks[-1].header_hash)
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

import attrs
import trio

from trionode.blockchain.blockchain import DEFAULT_VALIDATION_WORKERS, Blockchain
from trionode.consensus import get_constants
from trionode.protocols.chain_types import FullBlock
from trionode.roles.full_node.api import FullNodeAPI
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.roles.full_node.node import FullNode
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import default_db_url
from trionode.sync import SyncConfig
from trionode.wire import bytes32

LOCAL = "127.0.0.1"


@attrs.define
class NodeHandle:
    name: str
    root: Path
    host: str
    service: FullNodeService
    scope: trio.CancelScope
    done: trio.Event

    @property
    def full_node(self) -> FullNode:
        assert self.service.full_node is not None, f"{self.name} is not running"
        return self.service.full_node

    @property
    def blockchain(self) -> Blockchain:
        return self.full_node.blockchain

    @property
    def port(self) -> int:
        assert self.service.node is not None and self.service.node.port
        return self.service.node.port

    @property
    def address(self) -> tuple[str, int]:
        return (self.host, self.port)

    def peak_hash(self) -> bytes32 | None:
        peak = self.blockchain.get_peak()
        return None if peak is None else peak.header_hash


async def preload(root: Path, network: str, blocks: Sequence[FullBlock]) -> None:
    """Store ``blocks`` (a chain from genesis, or blocks whose parents are stored) under
    ``root`` as the node's own chain store, validating them as the node would."""
    store = await ChainStore.open(default_db_url(root, network))
    try:
        chain = await Blockchain.create(store, get_constants(network))
        for i in range(0, len(blocks), 64):
            results = await chain.add_blocks(blocks[i : i + 64])
            bad = [r for r in results if not (r.added or r.status.value == "already_have")]
            if bad:
                raise ValueError(f"preloaded chain rejected: {bad[0]}")
    finally:
        with trio.CancelScope(shield=True):
            await store.aclose()


class TestNetwork:
    """Named full nodes in ``nursery``; roots under ``base``."""

    __test__ = False  # not a pytest class

    def __init__(self, nursery: trio.Nursery, base: Path, network: str = "sim") -> None:
        self.nursery = nursery
        self.base = base
        self.network = network
        self.nodes: dict[str, NodeHandle] = {}

    def __getitem__(self, name: str) -> NodeHandle:
        return self.nodes[name]

    async def start(
        self,
        name: str,
        *,
        chain: Sequence[FullBlock] = (),
        peers: Sequence[NodeHandle] = (),
        host: str = LOCAL,
        api_class: type[FullNodeAPI] | None = None,
        sync: SyncConfig | None = None,
        target_outbound: int = 8,
        validation_workers: int = DEFAULT_VALIDATION_WORKERS,
    ) -> NodeHandle:
        """Start (or restart, same root) node ``name``; ``chain`` is stored first."""
        root = self.base / name
        os.makedirs(root, exist_ok=True)
        if chain:
            await preload(root, self.network, chain)
        config = FullNodeConfig(
            root=root,
            network=self.network,
            port=0,
            host=host,
            peers=tuple(p.address for p in peers),
            sync=sync or SyncConfig(),
            target_outbound=target_outbound,
            validation_workers=validation_workers,
        )
        service = FullNodeService(config)
        if api_class is not None:
            service.api_class = api_class
        scope = trio.CancelScope()
        done = trio.Event()

        async def run(*, task_status: trio.TaskStatus[FullNodeService]) -> None:
            try:
                with scope:
                    await service.run(task_status=task_status)
            finally:
                done.set()

        await self.nursery.start(run)
        handle = NodeHandle(name, root, host, service, scope, done)
        self.nodes[name] = handle
        return handle

    async def stop(self, name: str) -> None:
        """Cancel node ``name`` (its store closes cleanly) and wait until it is down."""
        handle = self.nodes[name]
        handle.scope.cancel()
        await handle.done.wait()

    async def connect(self, a: str, b: str) -> None:
        """``a`` dials ``b``."""
        node = self.nodes[a].service.node
        assert node is not None
        await node.connect(*self.nodes[b].address)

    async def wait_for(self, name: str, header_hash: bytes32) -> None:
        """Until ``header_hash`` is the heaviest tip of node ``name`` and no sync attempt runs
        there (apply a deadline)."""
        handle = self.nodes[name]
        chain = handle.blockchain
        with chain.subscribe(64) as events:
            while handle.peak_hash() != header_hash:
                with trio.move_on_after(0.5):  # an event dropped by a full buffer
                    await events.receive()
        await handle.full_node.sync.wait_idle()

    async def wait_for_height(self, name: str, height: int) -> None:
        chain = self.nodes[name].blockchain
        with chain.subscribe(64) as events:
            while (chain.peak_height if chain.peak_height is not None else -1) < height:
                with trio.move_on_after(0.5):
                    await events.receive()

    async def stop_all(self) -> None:
        for name in list(self.nodes):
            await self.stop(name)
