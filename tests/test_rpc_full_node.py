"""Full node RPC over real HTTP on 127.0.0.1: every method with and without the token, bad
parameters, the websocket's events and calls, metrics, and stop_node."""

from __future__ import annotations

import json
import os
import ssl
import stat
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import trio

from trionode import runfiles
from trionode.cli.rpc import ROLE_METHODS
from trionode.peers.identity import NodeIdentity
from trionode.protocols.chain_types import FullBlock, Transaction
from trionode.roles.full_node.main import FullNodeConfig, FullNodeService
from trionode.rpc.auth import cookie_path, read_cookie
from trionode.rpc.client import RpcCallError, RpcClient, open_event_socket

LOCAL = "127.0.0.1"


class Node:
    """A running full node service with its RPC client."""

    def __init__(self, service: FullNodeService, root: Path, client: RpcClient) -> None:
        self.service = service
        self.root = root
        self.client = client
        ready = runfiles.read_json(runfiles.ready_path(root, "full_node"))
        assert isinstance(ready, dict)
        self.ready: dict[str, Any] = ready

    @property
    def full_node(self) -> Any:
        assert self.service.full_node is not None
        return self.service.full_node

    async def add(self, blocks: list[FullBlock]) -> None:
        for block in blocks:
            result = await self.full_node.add_block(block, source=None)
            assert result.added or result.status.value == "already_have", result


async def start_node(nursery: trio.Nursery, root: Path, **kw: Any) -> Node:
    service = FullNodeService(
        FullNodeConfig(root=root, network="sim", port=0, rpc_port=0, metrics_port=0, **kw)
    )
    await nursery.start(service.run)
    ready = runfiles.read_json(runfiles.ready_path(root, "full_node"))
    client = RpcClient(ready["rpc_port"], read_cookie(root))
    return Node(service, root, client)


@pytest.fixture
async def node(nursery: trio.Nursery, tmp_path: Path) -> AsyncIterator[Node]:
    n = await start_node(nursery, tmp_path / "a")
    async with n.client:
        yield n
    n.service.node.stop() if n.service.node else None


# ------------------------------------------------------------------------------------ auth


async def test_cookie_is_private_and_reused(tmp_path: Path, nursery: trio.Nursery) -> None:
    root = tmp_path / "r"
    n1 = await start_node(nursery, root)
    token = read_cookie(root)
    assert stat.S_IMODE(os.stat(cookie_path(root)).st_mode) == 0o600
    assert n1.service.node is not None
    n1.service.node.stop()
    await n1.service.node.stopped.wait()
    n2 = await start_node(nursery, root)
    assert read_cookie(root) == token
    async with n2.client:
        routes = await n2.client.call("get_routes")
        assert routes["success"] is True
        # The full node serves exactly its table, the one the CLI's rpc command reads.
        assert set(routes["routes"]) == set(ROLE_METHODS["full_node"]) | {"get_routes", "stop_node"}
    assert n2.service.node is not None
    n2.service.node.stop()


async def test_every_method_needs_the_token(node: Node) -> None:
    port = node.ready["rpc_port"]
    async with RpcClient(port, None) as anonymous, RpcClient(port, "0" * 64) as wrong:
        routes = (await node.client.call("get_routes"))["routes"]
        assert {
            "get_blockchain_state",
            "get_block",
            "get_header",
            "get_block_by_height",
            "get_connections",
            "open_connection",
            "close_connection",
            "get_mempool",
            "push_transaction",
            "stop_node",
            "get_routes",
        } <= set(routes)
        for method in [*routes, "no_such_method"]:
            for client in (anonymous, wrong):
                response = await client.post_raw(method, b"{}")
                assert response.status_code == 401, method
                body = response.json()
                assert body["success"] is False and body["code"] == "unauthorized"
    # Nothing was stopped by the unauthenticated stop_node.
    assert (await node.client.call("get_routes"))["success"]


@pytest.mark.parametrize("which", ["rpc_port", "rpc_tls_port"])
async def test_client_certificate_of_the_private_ca_admits(
    node: Node, tmp_path: Path, which: str
) -> None:
    # The RPC port takes HTTPS with a client certificate as well as HTTP with the token
    # (its front routes by the first byte); rpc_tls_port is the TLS listener itself.
    tls_port = node.ready[which]
    # A client certificate of the same root's private CA: no token needed.
    farmer_identity = NodeIdentity.private(node.root, "farmer")
    async with RpcClient(tls_port, None, ssl_context=farmer_identity.client_context()) as c:
        state = (await c.call("get_blockchain_state"))["blockchain_state"]
        assert state["network"] == "sim"
    # A certificate of another root's private CA is refused during the TLS handshake.
    stranger = NodeIdentity.private(tmp_path / "stranger", "farmer")
    ctx = stranger.client_context()
    ctx.load_verify_locations(str(farmer_identity.ca_crt))  # trust the server, still a stranger
    assert await tls_request_refused(tls_port, ctx)
    # No certificate at all: refused too.
    bare = ssl.create_default_context(cafile=str(farmer_identity.ca_crt))
    bare.check_hostname = False
    assert await tls_request_refused(tls_port, bare)
    # The right certificate over the same raw path is answered (the helper can tell).
    assert not await tls_request_refused(tls_port, farmer_identity.client_context())


async def tls_request_refused(port: int, ctx: ssl.SSLContext) -> bool:
    """Send one HTTP request over TLS; True if the server closed the connection without an
    answer (TLS 1.3 reports a refused client certificate at the first read)."""
    request = (
        b"POST /get_routes HTTP/1.1\r\nHost: localhost\r\nContent-Length: 0\r\n"
        b"Connection: close\r\n\r\n"
    )
    with trio.fail_after(10):
        try:
            stream = await trio.open_ssl_over_tcp_stream(LOCAL, port, ssl_context=ctx)
        except (trio.BrokenResourceError, OSError):
            return True
        async with stream:
            try:
                await stream.send_all(request)
                data = await stream.receive_some(4096)
            except trio.BrokenResourceError:
                return True
            return not data.startswith(b"HTTP/1.1 200")


# ------------------------------------------------------------------------------------ chain


async def test_chain_methods(node: Node, chain_20: list[FullBlock]) -> None:
    c = node.client
    empty = (await c.call("get_blockchain_state"))["blockchain_state"]
    assert empty["height"] is None and empty["tips"] == [] and empty["peak"] is None
    assert empty["difficulty"] > 0 and empty["ips"] > 0
    assert empty["sync"]["syncing"] is False

    await node.add(chain_20[:6])
    state = (await c.call("get_blockchain_state"))["blockchain_state"]
    peak = chain_20[5]
    assert state["height"] == 5
    assert state["peak"] == peak.header_hash.hex()
    assert state["heaviest"]["weight"] == int(peak.weight) == state["weight"]
    assert state["tips"][0]["header_hash"] == peak.header_hash.hex()
    assert state["peers"] == {"full_node": 0, "farmer": 0, "timelord": 0}

    block = (await c.call("get_block", {"header_hash": peak.header_hash.hex()}))["block"]
    assert FullBlock.from_json_dict(block) == peak
    header = await c.call("get_header", {"header_hash": "0x" + peak.header_hash.hex()})
    assert header["header_block"] == peak.header_block().to_json_dict()
    by_height = (await c.call("get_block_by_height", {"height": 3}))["block"]
    assert FullBlock.from_json_dict(by_height) == chain_20[3]
    on_tip = await c.call("get_block_by_height", {"height": 2, "tip": peak.header_hash.hex()})
    assert FullBlock.from_json_dict(on_tip["block"]) == chain_20[2]

    missing = "ab" * 32
    for method, params in [
        ("get_block", {"header_hash": missing}),
        ("get_header", {"header_hash": missing}),
        ("get_block_by_height", {"height": 6}),
        ("get_block_by_height", {"height": 1, "tip": missing}),
        ("close_connection", {"node_id": missing}),
    ]:
        with pytest.raises(RpcCallError) as info:
            await c.call(method, params)
        assert (info.value.status, info.value.code) == (404, "not_found"), method


@pytest.mark.parametrize(
    ("method", "params", "fragment"),
    [
        ("get_block", {}, "missing parameter 'header_hash'"),
        ("get_block", {"header_hash": "zz"}, "64 hex digits"),
        ("get_block", {"header_hash": 5}, "64 hex digits"),
        ("get_header", {"header_hash": "ab" * 31}, "64 hex digits"),
        ("get_block_by_height", {"height": -1}, "at least 0"),
        ("get_block_by_height", {"height": "3"}, "must be an integer"),
        ("get_block_by_height", {"height": True}, "must be an integer"),
        ("get_block_by_height", {"height": 2**40}, "at most"),
        ("open_connection", {"host": LOCAL}, "missing parameter 'port'"),
        ("open_connection", {"host": LOCAL, "port": 70000}, "at most 65535"),
        ("open_connection", {"host": "not an address", "port": 1}, "IP address or a host name"),
        ("close_connection", {"node_id": []}, "64 hex digits"),
        ("push_transaction", {}, "missing parameter 'transaction'"),
        ("push_transaction", {"transaction": {"spends": 1}}, "transaction"),
        ("get_connections", {"type": 7}, "non-empty string"),
    ],
)
async def test_bad_parameters_get_a_json_error(
    node: Node, method: str, params: dict[str, Any], fragment: str
) -> None:
    with pytest.raises(RpcCallError) as info:
        await node.client.call(method, params)
    assert info.value.status == 400 and info.value.code == "bad_params"
    assert fragment in info.value.message


async def test_bad_bodies_and_unknown_methods(node: Node) -> None:
    c = node.client
    cases = [
        ("get_block", b"{not json", 400, "bad_params"),
        ("get_block", b"[1, 2]", 400, "bad_params"),
        ("get_block", b'"text"', 400, "bad_params"),
        ("get_block", b"\xff\xfe", 400, "bad_params"),
        ("no_such_method", b"{}", 404, "unknown_method"),
    ]
    for method, body, status, code in cases:
        response = await c.post_raw(method, body)
        assert response.status_code == status, (method, body[:20])
        assert response.json()["code"] == code
        assert "Traceback" not in response.text
    # A body above the limit is refused from its Content-Length, before it is read.
    token = read_cookie(node.root)
    with trio.fail_after(10):
        async with await trio.open_tcp_stream(LOCAL, node.ready["rpc_port"]) as stream:
            await stream.send_all(
                b"POST /get_routes HTTP/1.1\r\nHost: localhost\r\nContent-Length: 5242880\r\n"
                + f"Authorization: Bearer {token}\r\n\r\n".encode()
            )
            head = b""
            while b'"too_large"' not in head:
                chunk = await stream.receive_some(4096)
                assert chunk, head
                head += chunk
    assert head.startswith(b"HTTP/1.1 413")
    # Not POST: JSON 405; a nested path: JSON 404.
    response = await c._http.get("/get_routes")
    assert response.status_code == 405 and response.json()["success"] is False
    response = await c._http.post("/a/b", content=b"{}")
    assert response.status_code == 404 and response.json()["success"] is False
    # Still serving.
    assert (await c.call("get_blockchain_state"))["success"]


# ------------------------------------------------------------------------------------ peers


async def test_open_get_and_close_connections(
    node: Node, nursery: trio.Nursery, tmp_path: Path
) -> None:
    other = await start_node(nursery, tmp_path / "b")
    assert other.service.node is not None and node.service.node is not None
    other_port = other.service.node.port
    # A host name is resolved (localhost: from the hosts file, no DNS).
    opened = await node.client.call("open_connection", {"host": "localhost", "port": other_port})
    conn = opened["connection"]
    assert conn["type"] == "full_node" and conn["outbound"] is True
    assert conn["server_port"] == other_port
    listed = (await node.client.call("get_connections"))["connections"]
    assert [x["node_id"] for x in listed] == [conn["node_id"]]
    assert (await node.client.call("get_connections", {"type": "farmer"}))["connections"] == []
    state = (await node.client.call("get_blockchain_state"))["blockchain_state"]
    assert state["peers"]["full_node"] == 1

    await node.client.call("close_connection", {"node_id": conn["node_id"]})
    assert (await node.client.call("get_connections"))["connections"] == []

    # Nobody listens on the port of a stopped node: a JSON error, not a 500.
    other.service.node.stop()
    await other.service.node.stopped.wait()
    with pytest.raises(RpcCallError) as info:
        await node.client.call("open_connection", {"host": LOCAL, "port": other_port})
    assert info.value.status == 503 and "cannot connect" in info.value.message


# ------------------------------------------------------------------------------------ events


async def test_websocket_pushes_new_tips_and_answers_calls(
    node: Node, nursery: trio.Nursery, tmp_path: Path, chain_20: list[FullBlock]
) -> None:
    token = read_cookie(node.root)
    async with open_event_socket(node.ready["rpc_port"], token) as ws:
        await ws.send_message(json.dumps({"id": 7, "method": "get_blockchain_state"}))
        reply = json.loads(await ws.get_message())
        assert reply["id"] == 7 and reply["success"] is True
        assert reply["blockchain_state"]["height"] is None

        await node.add(chain_20[:2])
        events = [json.loads(await ws.get_message()) for _ in range(2)]
        assert [e["event"] for e in events] == ["new_tip", "new_tip"]
        assert events[1]["data"]["height"] == 1
        assert events[1]["data"]["header_hash"] == chain_20[1].header_hash.hex()
        assert events[1]["data"]["new_peak"] is True

        other = await start_node(nursery, tmp_path / "b")
        assert other.service.node is not None
        await node.client.call("open_connection", {"host": LOCAL, "port": other.service.node.port})
        event = json.loads(await ws.get_message())
        assert event["event"] == "peer_connected" and event["data"]["type"] == "full_node"
        other.service.node.stop()
        while True:
            event = json.loads(await ws.get_message())
            if event["event"] == "peer_disconnected":
                break

        await ws.send_message(json.dumps({"id": "x", "method": "get_block", "params": {}}))
        reply = json.loads(await ws.get_message())
        assert reply == {
            "id": "x",
            "success": False,
            "code": "bad_params",
            "error": "missing parameter 'header_hash'",
        }
        await ws.send_message("not json")
        reply = json.loads(await ws.get_message())
        assert reply["code"] == "bad_params" and reply["id"] is None


async def test_websocket_without_token_is_refused(node: Node) -> None:
    # A raw upgrade request (trio-websocket leaks its socket on a rejected handshake).
    for auth in (b"", b"Authorization: Bearer " + b"0" * 64 + b"\r\n"):
        with trio.fail_after(10):
            async with await trio.open_tcp_stream(LOCAL, node.ready["rpc_port"]) as stream:
                await stream.send_all(
                    b"GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\n"
                    b"Connection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
                    b"Sec-WebSocket-Version: 13\r\n" + auth + b"\r\n"
                )
                answer = b""
                while b'"unauthorized"' not in answer:
                    chunk = await stream.receive_some(4096)
                    assert chunk, answer
                    answer += chunk
        assert answer.startswith(b"HTTP/1.1 401")


# ------------------------------------------------------------------------------------ mempool, stop


async def test_mempool_methods(node: Node, tx_chain: list[FullBlock]) -> None:
    c = node.client
    # tx_chain's block 9 spends the coinbase of block 1: valid on top of blocks 0..8.
    await node.add(tx_chain[:9])
    tx = tx_chain[9].body.transactions[0]
    assert (await c.call("get_mempool"))["size"] == 0

    pushed = await c.call("push_transaction", {"transaction": tx.to_json_dict()})
    assert pushed["status"] == "added"
    assert pushed["transaction_id"] == tx.get_hash().hex()
    mempool = await c.call("get_mempool")
    assert mempool["size"] == 1
    assert mempool["transactions"][0]["transaction_id"] == tx.get_hash().hex()
    assert Transaction.from_json_dict(mempool["transactions"][0]["transaction"]) == tx
    state = (await c.call("get_blockchain_state"))["blockchain_state"]
    assert state["mempool_size"] == 1
    again = await c.call("push_transaction", {"transaction": tx.to_json_dict()})
    assert again["status"] == "already_have"

    # A transaction whose signature does not match: refused with the rule, not a 500.
    other = tx_chain[10].body.transactions[0]
    forged = tx.replace(aggregated_signature=other.aggregated_signature)
    with pytest.raises(RpcCallError) as info:
        await c.call("push_transaction", {"transaction": forged.to_json_dict()})
    assert info.value.status == 400 and info.value.code == "rejected"
    assert "invalid" in info.value.message
    assert (await c.call("get_mempool"))["size"] == 1


async def test_stop_node_answers_then_stops(tmp_path: Path) -> None:
    async with trio.open_nursery() as nursery:
        n = await start_node(nursery, tmp_path / "s")
        async with n.client:
            assert (await n.client.call("stop_node")) == {"success": True, "stopping": True}
        assert n.service.node is not None
        with trio.fail_after(10):
            await n.service.node.stopped.wait()
    # run() returned: the nursery closed without cancelling anything.


async def test_websocket_pushes_sync_progress(
    node: Node, nursery: trio.Nursery, tmp_path: Path, chain_30: list[FullBlock]
) -> None:
    """A node far behind long-syncs from ``node`` (real sync, small threshold); its websocket
    reports the progress, and a last event once the sync ended."""
    from trionode.sync import SyncConfig

    await node.add(chain_30)
    assert node.service.node is not None
    behind = await start_node(nursery, tmp_path / "behind", sync=SyncConfig(threshold=3))
    token = read_cookie(behind.root)
    seen: list[dict[str, Any]] = []
    async with open_event_socket(behind.ready["rpc_port"], token) as ws:
        # Subscribed first, then connected: no event can pass before the socket listens.
        await behind.client.call("open_connection", {"host": LOCAL, "port": node.service.node.port})
        with trio.fail_after(60):
            while True:
                event = json.loads(await ws.get_message())
                if event["event"] != "sync_progress":
                    continue
                seen.append(event["data"])
                if not event["data"]["syncing"]:
                    break
    assert seen[0]["syncing"] is True and seen[0]["target_height"] == 29
    assert 0.0 <= seen[0]["progress"] <= 1.0
    assert seen[-1]["syncing"] is False
    assert behind.full_node.blockchain.peak_height == 29
    await behind.client.aclose()
