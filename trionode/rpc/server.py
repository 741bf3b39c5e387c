"""The RPC server of one role: a Starlette app on hypercorn's trio worker.

- ``POST /<method>`` with a JSON object body (empty body = ``{}``) answers
  ``{"success": true, ...result}`` with 200, or ``{"success": false, "error", "code"}`` with the
  error's status: 400 bad parameters or body, 401 not authenticated, 404 unknown method or object,
  413 body too large, 503 not available here, 500 (a bug: logged with its traceback here, never
  sent) .
- ``/ws``: a websocket. The server pushes every event of the role's :class:`EventHub` as
  ``{"event": name, "data": {...}}``; the client may send ``{"id": X, "method": M, "params":
  {...}}`` and gets ``{"id": X, "success": ..., ...}`` back (calls on one socket run in order).
- Built in for every role: ``get_routes`` (the method names) and, with a ``stop`` callback,
  ``stop_node`` (answered first, then the node stops).

Authentication: see :mod:`trionode.rpc.auth`. Without a TLS identity hypercorn binds ``port``
(plain HTTP). With one, hypercorn binds a plain listener on a loopback port of the OS's choice
and a TLS listener on ``tls_port`` that requires a private-CA client certificate, and ``port``
is a small front that serves both: a connection whose first byte opens a TLS record (0x16) is
piped to the TLS listener, anything else to the plain one. So the documented RPC port admits a
bearer token over HTTP and a client certificate over HTTPS alike.
"""

from __future__ import annotations

import contextlib
import json
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping
from typing import Any

import attrs
import trio
from hypercorn.config import Config as HypercornConfig
from hypercorn.trio import serve
from starlette.applications import Starlette
from starlette.background import BackgroundTask
from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route, WebSocketRoute
from starlette.websockets import WebSocket, WebSocketDisconnect

from trionode.peers.identity import NodeIdentity
from trionode.rpc.auth import is_authorized
from trionode.rpc.events import EventHub
from trionode.rpc.params import BadParams, Params, RpcError, Unauthorized, UnknownMethod

__all__ = [
    "MAX_BODY",
    "Method",
    "RpcPorts",
    "RpcServer",
    "bound_ports",
    "hypercorn_config",
    "serve_asgi",
]

logger = logging.getLogger(__name__)

Method = Callable[[Params], Awaitable[dict[str, Any]]]

MAX_BODY = 4 * 2**20
WS_MAX_MESSAGE = 4 * 2**20
# Close code for a websocket whose client broke the protocol (RFC 6455 1008: policy violation).
WS_POLICY = 1008


class PayloadTooLarge(RpcError):
    status = 413
    code = "too_large"


class InternalError(RpcError):
    status = 500
    code = "internal"


@attrs.frozen
class RpcPorts:
    """Where the RPC listens: the token listener, and the client-certificate one (or None)."""

    port: int
    tls_port: int | None


def bound_ports(binds: list[str]) -> tuple[list[int], list[int]]:
    """(plain ports, TLS ports) from hypercorn's ``task_status`` value (``http://h:p`` ...)."""
    plain: list[int] = []
    secure: list[int] = []
    for bind in binds:
        scheme, _, rest = bind.partition("://")
        port = int(rest.rsplit(":", 1)[1])
        (secure if scheme == "https" else plain).append(port)
    return plain, secure


def hypercorn_config(name: str) -> HypercornConfig:
    config = HypercornConfig()
    config.errorlog = logging.getLogger(f"trionode.rpc.http.{name}")
    config.accesslog = None
    config.graceful_timeout = 1.0
    config.websocket_max_message_size = WS_MAX_MESSAGE
    return config


async def serve_asgi(
    app: Any,
    config: HypercornConfig,
    shutdown: trio.Event,
    *,
    task_status: trio.TaskStatus[list[str]] = trio.TASK_STATUS_IGNORED,
) -> None:
    """Serve ``app`` until ``shutdown`` is set or the caller is cancelled; reports the binds."""
    await serve(app, config, shutdown_trigger=shutdown.wait, task_status=task_status)


def _error_response(exc: RpcError, background: BackgroundTask | None = None) -> JSONResponse:
    return JSONResponse(exc.to_json(), status_code=exc.status, background=background)


async def _http_exception(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    err = RpcError(exc.detail if isinstance(exc.detail, str) else "bad request")
    err.status = exc.status_code
    err.code = "method_not_allowed" if exc.status_code == 405 else "not_found"
    if exc.status_code == 405:
        err.message = "use POST /<method> with a JSON object body, or the /ws websocket"
    return _error_response(err)


class RpcServer:
    """Serves ``methods`` for one role. ``run`` reports :class:`RpcPorts` once listening."""

    def __init__(
        self,
        role: str,
        methods: Mapping[str, Method],
        *,
        token: str,
        host: str = "127.0.0.1",
        port: int = 0,
        tls_identity: NodeIdentity | None = None,
        tls_port: int = 0,
        events: EventHub | None = None,
        stop: Callable[[], None] | None = None,
    ) -> None:
        self.role = role
        self.token = token
        self.host = host
        self.port = port
        self.tls_identity = tls_identity
        self.tls_port = tls_port
        self.events = events if events is not None else EventHub()
        self._stop = stop
        self.methods: dict[str, Method] = dict(methods)
        self.methods["get_routes"] = self._get_routes
        if stop is not None:
            self.methods["stop_node"] = self._stop_node
        self.ports: RpcPorts | None = None
        self.calls = 0
        self._shutdown = trio.Event()
        self.app = Starlette(
            routes=[
                WebSocketRoute("/ws", self._websocket),
                Route("/{method}", self._http, methods=["POST"]),
            ],
            exception_handlers={HTTPException: _http_exception},
        )

    # -- lifecycle ---------------------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[RpcPorts] = trio.TASK_STATUS_IGNORED
    ) -> None:
        config = hypercorn_config(self.role)
        if self.tls_identity is not None:
            ident = self.tls_identity
            config.certfile = str(ident.cert.crt)
            config.keyfile = str(ident.cert.key)
            config.ca_certs = str(ident.ca_crt)
            config.verify_mode = ssl.CERT_REQUIRED
            config.bind = [f"{self.host}:{self.tls_port}"]
            config.insecure_bind = [f"{self.host}:0"]  # behind the front on self.port
        else:
            config.bind = [f"{self.host}:{self.port}"]
        async with trio.open_nursery() as nursery:
            served = trio.Event()

            async def serve_then_signal(*, task_status: trio.TaskStatus[list[str]]) -> None:
                try:
                    await serve_asgi(self.app, config, self._shutdown, task_status=task_status)
                finally:
                    served.set()

            binds = await nursery.start(serve_then_signal)
            plain, secure = bound_ports(binds)
            if secure:
                front = await nursery.start(self._front, plain[0], secure[0], served)
                self.ports = RpcPorts(front, secure[0])
            else:
                self.ports = RpcPorts(plain[0], None)
            logger.info(
                "%s RPC on %s port %d%s",
                self.role,
                self.host,
                self.ports.port,
                f", client-certificate TLS port {self.ports.tls_port}" if secure else "",
            )
            task_status.started(self.ports)

    async def _front(
        self,
        plain_port: int,
        tls_port: int,
        served: trio.Event,
        *,
        task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED,
    ) -> None:
        """Accept on ``self.port`` and pipe each connection to the listener its first byte
        asks for, until hypercorn has finished (it drains requests in flight first)."""
        listeners = await trio.open_tcp_listeners(self.port, host=self.host)
        try:
            async with trio.open_nursery() as pipes:

                async def accept() -> None:
                    async with trio.open_nursery() as accepting:
                        for listener in listeners:
                            accepting.start_soon(
                                _accept_loop, listener, pipes, plain_port, tls_port
                            )
                        await self._shutdown.wait()
                        accepting.cancel_scope.cancel()  # stop accepting; open pipes carry on

                pipes.start_soon(accept)
                task_status.started(listeners[0].socket.getsockname()[1])
                await served.wait()
                pipes.cancel_scope.cancel()
        finally:
            for listener in listeners:
                await trio.aclose_forcefully(listener)

    def shutdown(self) -> None:
        """Stop accepting, finish requests in flight (up to a second), and return from run."""
        self._shutdown.set()

    # -- dispatch ----------------------------------------------------------------------------

    async def call(self, method: str, params: Any) -> dict[str, Any]:
        """Run one method; raises RpcError (mapped to a status), never anything else but
        cancellation."""
        fn = self.methods.get(method)
        if fn is None:
            raise UnknownMethod(f"unknown method {method!r}; get_routes lists the methods")
        self.calls += 1
        try:
            result = await fn(Params(params))
        except RpcError:
            raise
        except Exception as exc:
            logger.exception("RPC %s failed", method)
            raise InternalError(f"{method} failed: {type(exc).__name__}") from exc
        return {"success": True, **result}

    async def _get_routes(self, params: Params) -> dict[str, Any]:
        return {"routes": sorted(self.methods)}

    async def _stop_node(self, params: Params) -> dict[str, Any]:
        return {"stopping": True}

    def _after(self, method: str) -> Callable[[], Awaitable[None]] | None:
        """What to do once the answer to ``method`` is sent (stop_node stops the node)."""
        if method != "stop_node" or self._stop is None:
            return None
        stop = self._stop

        async def do_stop() -> None:
            logger.info("stop_node called over RPC: stopping the %s", self.role)
            stop()

        return do_stop

    # -- HTTP --------------------------------------------------------------------------------

    async def _read_body(self, request: Request) -> Any:
        length = request.headers.get("content-length")
        if length is not None and length.isdigit() and int(length) > MAX_BODY:
            raise PayloadTooLarge(f"request body above {MAX_BODY} bytes")
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
            if size > MAX_BODY:
                raise PayloadTooLarge(f"request body above {MAX_BODY} bytes")
            chunks.append(chunk)
        body = b"".join(chunks)
        if not body.strip():
            return {}
        try:
            return json.loads(body)
        except ValueError as exc:
            raise BadParams(f"the body is not JSON: {exc}") from None

    async def _http(self, request: Request) -> Response:
        if not is_authorized(request.scope, self.token):
            return _error_response(
                Unauthorized("send Authorization: Bearer <token from ROOT/rpc.cookie>")
            )
        method = request.path_params["method"]
        try:
            params = await self._read_body(request)
            result = await self.call(method, params)
        except RpcError as exc:
            return _error_response(exc)
        after = self._after(method)
        return JSONResponse(result, background=BackgroundTask(after) if after else None)

    # -- websocket ---------------------------------------------------------------------------

    async def _websocket(self, ws: WebSocket) -> None:
        if not is_authorized(ws.scope, self.token):
            err = Unauthorized("send Authorization: Bearer <token from ROOT/rpc.cookie>")
            await ws.send_denial_response(_error_response(err))
            return
        await ws.accept()
        lock = trio.Lock()
        try:
            with self.events.subscribe() as events:
                async with trio.open_nursery() as nursery:
                    nursery.start_soon(self._push_events, ws, events, lock)
                    await self._serve_requests(ws, lock)
                    nursery.cancel_scope.cancel()
        except WebSocketDisconnect:
            pass

    async def _push_events(
        self, ws: WebSocket, events: trio.MemoryReceiveChannel[dict[str, Any]], lock: trio.Lock
    ) -> None:
        async for event in events:
            async with lock:
                await ws.send_text(json.dumps(event))

    async def _serve_requests(self, ws: WebSocket, lock: trio.Lock) -> None:
        """Answer calls until the client closes."""
        while True:
            message = await ws.receive()
            if message["type"] == "websocket.disconnect":
                return
            text = message.get("text")
            if text is None:
                text = (message.get("bytes") or b"").decode("utf-8", "replace")
            reply, after = await self._ws_call(text)
            async with lock:
                await ws.send_text(json.dumps(reply))
            if after is not None:
                await after()

    async def _ws_call(
        self, text: str
    ) -> tuple[dict[str, Any], Callable[[], Awaitable[None]] | None]:
        request_id: Any = None
        try:
            try:
                request = json.loads(text)
            except ValueError as exc:
                raise BadParams(f"the message is not JSON: {exc}") from None
            if not isinstance(request, dict):
                raise BadParams('a call is {"id": ..., "method": "...", "params": {...}}')
            request_id = request.get("id")
            method = request.get("method")
            if not isinstance(method, str):
                raise BadParams("a call needs a string 'method'")
            result = await self.call(method, request.get("params"))
            return {"id": request_id, **result}, self._after(method)
        except RpcError as exc:
            return {"id": request_id, **exc.to_json()}, None


# -- the front of the RPC port: plain HTTP and TLS on one listener -------------------------------

_TLS_HANDSHAKE_RECORD = 0x16
_FIRST_BYTE_TIMEOUT = 10.0


async def _accept_loop(
    listener: trio.SocketListener, pipes: trio.Nursery, plain_port: int, tls_port: int
) -> None:
    while True:
        stream = await listener.accept()
        pipes.start_soon(_route, stream, plain_port, tls_port)


async def _route(client: trio.SocketStream, plain_port: int, tls_port: int) -> None:
    async with client:
        try:
            first = b""
            with trio.move_on_after(_FIRST_BYTE_TIMEOUT):
                first = await client.receive_some(65536)
            if not first:
                return
            host = client.socket.getsockname()[0]
            port = tls_port if first[0] == _TLS_HANDSHAKE_RECORD else plain_port
            async with await trio.open_tcp_stream(host, port) as backend:
                await backend.send_all(first)
                async with trio.open_nursery() as both:
                    both.start_soon(_pipe, client, backend, both.cancel_scope)
                    both.start_soon(_pipe, backend, client, both.cancel_scope)
        except (OSError, trio.BrokenResourceError, trio.ClosedResourceError) as exc:
            logger.debug("RPC front connection ended: %r", exc)


async def _pipe(source: trio.SocketStream, sink: trio.SocketStream, done: trio.CancelScope) -> None:
    try:
        while data := await source.receive_some(65536):
            await sink.send_all(data)
        with contextlib.suppress(trio.BrokenResourceError, trio.ClosedResourceError, OSError):
            await sink.send_eof()  # half-close: the other direction may still be talking
        return
    except (trio.BrokenResourceError, trio.ClosedResourceError, OSError):
        pass
    done.cancel()
