"""RPC round-trip figures: a full node in-process (sim network, 127.0.0.1), sequential calls
over HTTP keep-alive (httpx) and over the /ws websocket, and one metrics scrape.

    python scripts/bench_rpc.py [--calls 500]
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import httpx
import trio

from trionode import runfiles
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.rpc.auth import read_cookie
from trionode.rpc.client import RpcClient, open_event_socket


async def bench(calls: int) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        service = FullNodeService(
            FullNodeConfig(root=root, network="sim", port=0, rpc_port=0, metrics_port=0)
        )
        async with trio.open_nursery() as nursery:
            await nursery.start(service.run)
            ready = runfiles.read_json(runfiles.ready_path(root, "full_node"))
            token = read_cookie(root)
            async with RpcClient(ready["rpc_port"], token) as client:
                for method in ("get_routes", "get_blockchain_state", "get_connections"):
                    await client.call(method)
                    start = time.perf_counter()
                    for _ in range(calls):
                        await client.call(method)
                    per = (time.perf_counter() - start) / calls
                    print(f"HTTP {method:<22} {per * 1e3:7.3f} ms/call  {1 / per:8.0f} calls/s")
            async with open_event_socket(ready["rpc_port"], token) as ws:
                start = time.perf_counter()
                for i in range(calls):
                    await ws.send_message(json.dumps({"id": i, "method": "get_blockchain_state"}))
                    await ws.get_message()
                per = (time.perf_counter() - start) / calls
                print(
                    f"WS   get_blockchain_state   {per * 1e3:7.3f} ms/call  {1 / per:8.0f} calls/s"
                )
            async with httpx.AsyncClient() as http:
                url = f"http://127.0.0.1:{ready['metrics_port']}/metrics"
                await http.get(url)
                start = time.perf_counter()
                for _ in range(100):
                    response = await http.get(url)
                per = (time.perf_counter() - start) / 100
                print(f"metrics scrape ({len(response.content)} bytes) {per * 1e3:7.3f} ms")
            nursery.cancel_scope.cancel()


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False)
    parser.add_argument("--calls", type=int, default=500)
    trio.run(bench, parser.parse_args().calls)


if __name__ == "__main__":
    main()
