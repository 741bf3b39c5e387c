"""Prometheus metrics scraped over HTTP from a running full node: height, peers, messages by
type, validation time, bans, mempool size; one registry per role (two nodes in one process)."""

from __future__ import annotations

from pathlib import Path

import httpx
import trio
from prometheus_client.parser import text_string_to_metric_families

from trionode import runfiles
from trionode.protocols.chain_types import FullBlock
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService

LOCAL = "127.0.0.1"


async def scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    async with httpx.AsyncClient() as http:
        response = await http.get(f"http://{LOCAL}:{port}/metrics")
    assert response.status_code == 200
    samples = {}
    for family in text_string_to_metric_families(response.text):
        for s in family.samples:
            samples[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return samples


def metrics_port(root: Path) -> int:
    ready = runfiles.read_json(runfiles.ready_path(root, "full_node"))
    assert isinstance(ready, dict)
    return int(ready["metrics_port"])


async def test_full_node_metrics(tmp_path: Path, chain_20: list[FullBlock]) -> None:
    async with trio.open_nursery() as nursery:
        a = FullNodeService(
            FullNodeConfig(root=tmp_path / "a", network="sim", port=0, metrics_port=0)
        )
        await nursery.start(a.run)
        assert a.full_node is not None and a.node is not None and a.node.port
        empty = await scrape(metrics_port(tmp_path / "a"))
        assert empty[("trionode_height", ())] == -1  # no chain yet
        assert empty[("trionode_peers", (("type", "full_node"),))] == 0
        assert empty[("trionode_mempool_size", ())] == 0
        assert empty[("trionode_bans", ())] == 0

        for block in chain_20[:8]:
            await a.full_node.add_block(block, source=None)
        b = FullNodeService(
            FullNodeConfig(
                root=tmp_path / "b",
                network="sim",
                port=0,
                metrics_port=0,
                peers=((LOCAL, a.node.port),),
            )
        )
        await nursery.start(b.run)
        assert b.full_node is not None
        # b catches up from a: messages flow both ways.
        chain_b = b.full_node.blockchain
        with chain_b.subscribe() as events, trio.fail_after(60):
            while (chain_b.peak_height or -1) < 7:
                await events.receive()

        got = await scrape(metrics_port(tmp_path / "a"))
        assert got[("trionode_height", ())] == 7
        assert got[("trionode_weight", ())] == int(chain_20[7].weight)
        assert got[("trionode_peers", (("type", "full_node"),))] == 1
        assert got[("trionode_block_validation_seconds_count", ())] == 8
        assert got[("trionode_block_validation_seconds_sum", ())] > 0
        assert got[("trionode_blocks_added_total", ())] == 8
        sent = {
            dict(labels)["type"]: v
            for (name, labels), v in got.items()
            if name == "trionode_messages_total" and dict(labels)["direction"] == "out"
        }
        received = {
            dict(labels)["type"]: v
            for (name, labels), v in got.items()
            if name == "trionode_messages_total" and dict(labels)["direction"] == "in"
        }
        assert sum(sent.values()) > 0 and sum(received.values()) > 0
        assert got[("trionode_message_bytes_total", (("direction", "out"),))] > 0

        # b has its own registry: its own height and validation count.
        got_b = await scrape(metrics_port(tmp_path / "b"))
        assert got_b[("trionode_height", ())] == 7
        assert got_b[("trionode_blocks_added_total", ())] >= 8
        assert ("trionode_syncing", ()) in got_b
        nursery.cancel_scope.cancel()
