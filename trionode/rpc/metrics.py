"""Prometheus metrics of one role, served on their own loopback port (prometheus-client).

Each role has its own :class:`RoleMetrics` with its own ``CollectorRegistry`` (never the global
default one: tests run several roles in one process). Two kinds of series:

- *state* read at scrape time from the live objects (height, peers, bans, mempool size, sync
  rate): registered as callables with :meth:`RoleMetrics.gauge`, so nothing has to remember to
  update them;
- *events* counted as they happen: messages in/out by type (through
  ``PeerConnection.message_observer``, set on every connection of the PeerNodes given to
  :meth:`RoleMetrics.watch_peer_node`) and the time to validate and store blocks
  (:meth:`RoleMetrics.instrument_blockchain`).

Series (all prefixed ``trionode_``): ``height``, ``weight``, ``tips``, ``peers{type}``,
``bans``, ``event_loop_lag_seconds{stat=current|max}``, ``sync_blocks_per_second``, ``syncing``, ``mempool_size``,
``messages_total{direction,type}``, ``message_bytes_total{direction}``,
``block_validation_seconds`` (histogram, per block), ``blocks_added_total``, ``rpc_calls``.
"""

from __future__ import annotations

import functools
import logging
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import trio
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from trionode.peers.connection import PeerConnection
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.shared_protocol import NodeType
from trionode.rpc.server import bound_ports, hypercorn_config, serve_asgi

if TYPE_CHECKING:
    from trionode.peers.node import PeerNode

__all__ = ["GaugeValue", "MetricsServer", "RoleMetrics"]

logger = logging.getLogger(__name__)

PREFIX = "trionode_"
# A gauge's value: a number, None (no sample), or {label value: number} for a one-label gauge.
GaugeValue = float | int | None | Mapping[str, float | int]

VALIDATION_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class _StateCollector:
    """Turns the registered callables into gauge families at scrape time."""

    def __init__(self) -> None:
        self.gauges: list[tuple[str, str, str | None, Callable[[], GaugeValue]]] = []

    def collect(self) -> Iterable[Metric]:
        for name, doc, label, fn in self.gauges:
            try:
                value = fn()
            except Exception:
                logger.exception("metric %s failed", name)
                continue
            if value is None:
                continue
            if isinstance(value, Mapping):
                family = GaugeMetricFamily(name, doc, labels=[label or "label"])
                for key, v in sorted(value.items()):
                    family.add_metric([str(key)], float(v))
            else:
                family = GaugeMetricFamily(name, doc, value=float(value))
            yield family


class RoleMetrics:
    """The metrics of one role (``role`` becomes a constant label of nothing: one process,
    one port, one role; a scraper labels by target)."""

    def __init__(self, role: str) -> None:
        self.role = role
        self.registry = CollectorRegistry(auto_describe=False)
        self._state = _StateCollector()
        self.registry.register(self._state)
        self.messages = Counter(
            PREFIX + "messages",
            "peer protocol messages after the handshake, by direction and type",
            ["direction", "type"],
            registry=self.registry,
        )
        self.message_bytes = Counter(
            PREFIX + "message_bytes",
            "bytes of peer protocol messages after the handshake, by direction",
            ["direction"],
            registry=self.registry,
        )
        self.block_validation = Histogram(
            PREFIX + "block_validation_seconds",
            "time to validate and store a block (a batch's time divided by its blocks)",
            buckets=VALIDATION_BUCKETS,
            registry=self.registry,
        )
        self.blocks_added = Counter(
            PREFIX + "blocks_added",
            "blocks given to the blockchain (valid or not)",
            registry=self.registry,
        )

    # -- state gauges --------------------------------------------------------------------------

    def gauge(
        self, name: str, doc: str, fn: Callable[[], GaugeValue], *, label: str | None = None
    ) -> None:
        """Report ``fn()`` as gauge ``trionode_<name>`` at every scrape."""
        self._state.gauges.append((PREFIX + name, doc, label, fn))

    # -- traffic -------------------------------------------------------------------------------

    def observe_message(self, outbound: bool, mtype: T, size: int) -> None:
        direction = "out" if outbound else "in"
        self.messages.labels(direction, mtype.name).inc()
        self.message_bytes.labels(direction).inc(size)

    def watch_peer_node(self, node: PeerNode) -> None:
        """Count the messages of every connection of ``node`` (present and future), and
        report its peers by type and its ban list size."""

        def attach(conn: PeerConnection) -> None:
            conn.message_observer = self.observe_message

        for conn in node.get_connections():
            attach(conn)
        node.on_connect.append(attach)

    def peer_gauges(self, nodes: Sequence[PeerNode]) -> None:
        def peers() -> dict[str, int]:
            # Every type is always reported (0 when none), so a dashboard or an alert on
            # "no full node peers" sees a sample rather than an absent series.
            counts: dict[str, int] = {t.name.lower(): 0 for t in NodeType}
            for node in nodes:
                for conn in node.get_connections():
                    kind = conn.node_type.name.lower() if conn.node_type is not None else "?"
                    counts[kind] = counts.get(kind, 0) + 1
            return counts

        self.gauge("peers", "connected peers by type", peers, label="type")
        self.gauge("bans", "addresses on the ban list", lambda: sum(len(n.bans) for n in nodes))

        def lag() -> dict[str, float] | None:
            # Every PeerNode of the process measures the same loop: the first one reports.
            if not nodes:
                return None
            watchdog = nodes[0].loop_lag
            return {"current": watchdog.current, "max": watchdog.max_recent}

        self.gauge(
            "event_loop_lag_seconds",
            "how late a 0.1 s sleep woke up: the last sample and the max of the last 10-20 s",
            lag,
            label="stat",
        )

    # -- blocks --------------------------------------------------------------------------------

    def instrument_blockchain(self, blockchain: Any) -> None:
        """Time ``blockchain.add_blocks`` (which ``add_block`` calls): gather, parallel
        verification and commit of a batch, observed per block. Decorates the instance at
        composition time so the chain code knows nothing of metrics."""
        inner: Callable[..., Awaitable[Any]] = blockchain.add_blocks

        @functools.wraps(inner)
        async def add_blocks(blocks: Sequence[Any], **options: Any) -> Any:
            # options (on_valid, relay before store) pass through untouched
            start = time.perf_counter()
            try:
                return await inner(blocks, **options)
            finally:
                if blocks:
                    per_block = (time.perf_counter() - start) / len(blocks)
                    for _ in blocks:
                        self.block_validation.observe(per_block)
                    self.blocks_added.inc(len(blocks))

        blockchain.add_blocks = add_blocks

    # -- output --------------------------------------------------------------------------------

    def render(self) -> bytes:
        """The text exposition format, as a scrape returns it."""
        return generate_latest(self.registry)


class MetricsServer:
    """Serves ``metrics.registry`` over HTTP (``GET /metrics``, or ``/``) on
    ``host:port``; ``run`` reports the bound port. No authentication: loopback only, and
    nothing in it is secret."""

    def __init__(self, metrics: RoleMetrics, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.metrics = metrics
        self.host = host
        self.port = port
        self._shutdown = trio.Event()

    async def run(self, *, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        config = hypercorn_config(f"metrics.{self.metrics.role}")
        config.bind = [f"{self.host}:{self.port}"]
        registry = self.metrics.registry

        async def scrape(request: Request) -> Response:
            return Response(generate_latest(registry), media_type=CONTENT_TYPE_LATEST)

        app = Starlette(routes=[Route("/metrics", scrape), Route("/", scrape)])
        async with trio.open_nursery() as nursery:
            binds = await nursery.start(serve_asgi, app, config, self._shutdown)
            port = bound_ports(binds)[0][0]
            logger.info("%s metrics on %s port %d", self.metrics.role, self.host, port)
            task_status.started(port)

    def shutdown(self) -> None:
        self._shutdown.set()
