"""Clients of the RPC: :class:`RpcClient` (async, httpx, runs under trio), :func:`call_sync`
(the CLI), :func:`open_event_socket` (the ``/ws`` websocket), and :func:`find_rpc_port` (where a
role of a root listens, from its ready file)."""

from __future__ import annotations

import json
import ssl
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from types import TracebackType
from typing import Any

import httpx
import trio_websocket

from trionode import runfiles
from trionode.rpc.auth import read_cookie

__all__ = [
    "RpcCallError",
    "RpcClient",
    "call_sync",
    "find_rpc_port",
    "open_event_socket",
]

LOCAL = "127.0.0.1"
DEFAULT_TIMEOUT = 60.0


class RpcCallError(Exception):
    """The node answered with an error (``status``, ``code``, ``message``) or not at all
    (``status`` 0)."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{message} ({code}, HTTP {status})" if status else message)
        self.status = status
        self.code = code
        self.message = message


def find_rpc_port(root: Path, role: str) -> int | None:
    """The RPC port the running ``role`` of ``root`` wrote into its ready file, if any."""
    data = runfiles.read_json(runfiles.ready_path(root, role))
    if isinstance(data, dict) and isinstance(data.get("rpc_port"), int):
        return int(data["rpc_port"])
    return None


def _decode(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise RpcCallError(
            response.status_code, "bad_response", f"not JSON: {response.text[:200]!r}"
        ) from None
    if not isinstance(body, dict):
        raise RpcCallError(response.status_code, "bad_response", "the answer is not an object")
    if response.status_code != 200 or body.get("success") is False:
        raise RpcCallError(
            response.status_code,
            str(body.get("code", "error")),
            str(body.get("error", "unknown error")),
        )
    return body


class RpcClient:
    """``await client.call("get_blockchain_state")`` -> the answer's JSON object.

    Plain HTTP with the bearer token, or (``ssl_context``) HTTPS to the client-certificate
    listener, where no token is needed.
    """

    def __init__(
        self,
        port: int,
        token: str | None,
        *,
        host: str = LOCAL,
        ssl_context: ssl.SSLContext | None = None,
        timeout: float = DEFAULT_TIMEOUT,
    ) -> None:
        scheme = "https" if ssl_context is not None else "http"
        headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
        self.url = f"{scheme}://{host}:{port}"
        self._http = httpx.AsyncClient(
            base_url=self.url,
            headers=headers,
            timeout=timeout,
            verify=ssl_context if ssl_context is not None else True,
        )

    @classmethod
    def for_root(cls, root: Path, role: str, *, port: int | None = None) -> RpcClient:
        """A client of ``role`` running with ``root``: the cookie's token and the ready file's
        port (or ``port``)."""
        token = read_cookie(root)
        port = port if port is not None else find_rpc_port(root, role)
        if port is None:
            raise RpcCallError(0, "not_running", f"no {role} with an RPC port is running in {root}")
        return cls(port, token)

    async def call(self, method: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = await self._http.post(f"/{method}", json=params or {})
        except httpx.HTTPError as exc:
            raise RpcCallError(0, "unreachable", f"{self.url}: {exc}") from None
        return _decode(response)

    async def post_raw(self, method: str, content: bytes) -> httpx.Response:
        """POST arbitrary bytes (tests of bad input)."""
        return await self._http.post(f"/{method}", content=content)

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> RpcClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()


def call_sync(
    port: int,
    token: str,
    method: str,
    params: Any = None,
    *,
    host: str = LOCAL,
    timeout: float = DEFAULT_TIMEOUT,
) -> dict[str, Any]:
    """One blocking call (for the CLI). Raises RpcCallError."""
    url = f"http://{host}:{port}/{method}"
    try:
        with httpx.Client(timeout=timeout) as http:
            response = http.post(
                url,
                content=json.dumps(params if params is not None else {}),
                headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            )
    except httpx.HTTPError as exc:
        raise RpcCallError(0, "unreachable", f"cannot reach {url}: {exc}") from None
    return _decode(response)


@asynccontextmanager
async def open_event_socket(
    port: int, token: str | None, *, host: str = LOCAL
) -> AsyncIterator[trio_websocket.WebSocketConnection]:
    """The ``/ws`` websocket: ``json.loads(await ws.get_message())`` gives pushed events
    (``{"event", "data"}``) and answers to calls sent as ``{"id", "method", "params"}``."""
    headers = [(b"authorization", f"Bearer {token}".encode())] if token is not None else []
    async with trio_websocket.open_websocket(
        host, port, "/ws", use_ssl=False, extra_headers=headers
    ) as ws:
        yield ws
