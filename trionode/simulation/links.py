"""The fault injector: a shaper on every link of the memory transport (latency, loss, delay,
duplicates, reordering, partitions), every choice drawn from the run's seed.

A link is one direction of one connection. Each has a base latency (10-100 ms) drawn when the
connection opens; messages leave through the link's pump in order (a websocket over TCP is
FIFO) after that latency, plus a jitter while ``delay`` is on. Models of the faults:

- ``loss``: TCP does not lose single messages, it loses connections. A lost message resets its
  connection (both ends see it closed); the nodes' peer managers redial, and the greeting of a
  new connection (the peak block) is how a node learns what it missed.
- ``partition``: messages across the cut wait until it heals (TCP retransmits), connections
  stay up; requests across it time out as they would.
- ``duplicate``: a gossip message (one without a request id) is delivered twice, as a peer
  that relays an item again would send it. Requests and replies are never doubled: a websocket
  does not duplicate frames, and a doubled reply is a protocol violation an honest peer cannot
  commit (the first runs of the simulator banned honest peers for exactly that).
- ``reorder``: a message leaves outside its link's queue, after a longer random delay, so later
  ones overtake it.
"""

from __future__ import annotations

import collections
import math
import random

import attrs
import trio

from trionode.peers.errors import TransportClosed
from trionode.protocols import ProtocolMessageTypes as T
from trionode.simulation.eventlog import EventLog
from trionode.testing.memory_transport import MemoryPeerStream

_HANDSHAKE = (int(T.handshake), int(T.handshake_ack))
_PUMP_QUEUE = 16  # messages waiting for their latency per link; a full one blocks the sender


@attrs.define
class FaultRates:
    loss: float = 0.0
    duplicate: float = 0.0
    reorder: float = 0.0
    jitter: float = 0.0  # extra delay, uniform in [0, jitter) seconds


@attrs.define
class _Link:
    send: trio.MemorySendChannel[tuple[float, bytes]]
    latency: float
    last_at: float = 0.0


class FaultInjector:
    """The :class:`~trionode.testing.memory_transport.LinkShaper` of a simulated network. Its
    pumps live in ``nursery`` (the run's). ``names`` maps hosts to node names for the log."""

    def __init__(
        self, nursery: trio.Nursery, rand: random.Random, log: EventLog, names: dict[str, str]
    ) -> None:
        self._nursery = nursery
        self._rand = rand
        self._log = log
        self._names = names
        self.rates = FaultRates()
        self._groups: dict[str, int] | None = None
        self._healed = trio.Event()
        self._healed.set()
        self._links: dict[int, _Link] = {}
        self.bytes_sent: collections.Counter[str] = collections.Counter()
        self.counts: collections.Counter[str] = collections.Counter()

    # -- faults the run turns on and off ---------------------------------------------------

    def partition(self, groups: dict[str, int]) -> None:
        """Cut the network: hosts in different groups cannot reach each other until heal()."""
        self._groups = dict(groups)
        self._healed = trio.Event()

    def heal(self) -> None:
        self._groups = None
        self._healed.set()

    @property
    def partitioned(self) -> bool:
        return self._groups is not None

    def _cut(self, src: str, dst: str) -> bool:
        g = self._groups
        return g is not None and g.get(src, -1) != g.get(dst, -1)

    def _name(self, host: str) -> str:
        return self._names.get(host, host)

    # -- the shaper ------------------------------------------------------------------------

    async def send(self, stream: MemoryPeerStream, data: bytes) -> None:
        src, dst = stream.local_host, stream.remote_host
        self.bytes_sent[src] += len(data)
        rates = self.rates
        if rates.loss and self._rand.random() < rates.loss:
            self.counts["loss"] += 1
            self._log.write("lose", self._name(src), self._name(dst), data[0], len(data))
            await stream.aclose("connection reset (simulated loss)", 1006)
            raise TransportClosed("connection reset (simulated loss)", code=1006)
        link = self._links.get(id(stream))
        if link is None:
            link = self._open(stream)
        now = trio.current_time()
        at = now + link.latency + (self._rand.uniform(0, rates.jitter) if rates.jitter else 0.0)
        if rates.reorder and self._rand.random() < rates.reorder:
            self.counts["reorder"] += 1
            self._nursery.start_soon(self._late, stream, at + self._rand.uniform(0.05, 0.5), data)
            return
        at = max(at, link.last_at)  # FIFO
        link.last_at = at
        gossip = len(data) > 1 and data[1] == 0 and data[0] not in _HANDSHAKE
        copies = 2 if gossip and rates.duplicate and self._rand.random() < rates.duplicate else 1
        if copies == 2:
            self.counts["duplicate"] += 1
        for _ in range(copies):
            try:
                await link.send.send((at, data))
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                raise TransportClosed("closed") from None

    def _open(self, stream: MemoryPeerStream) -> _Link:
        send, receive = trio.open_memory_channel[tuple[float, bytes]](_PUMP_QUEUE)
        link = _Link(send, latency=round(self._rand.uniform(0.01, 0.1), 6))
        self._links[id(stream)] = link
        self._nursery.start_soon(self._pump, stream, receive)
        return link

    async def _deliver(self, stream: MemoryPeerStream, at: float, data: bytes) -> bool:
        # Messages sent together leave together: the second of a burst is due when the first
        # was (FIFO), and a sleep until a time already reached would only cost a trip through
        # the scheduler per message (the delivery below is a checkpoint of its own).
        if at > trio.current_time():
            await trio.sleep_until(at)
        src, dst = stream.local_host, stream.remote_host
        while self._cut(src, dst):
            await self._healed.wait()
        try:
            await stream.deliver(data)
        except TransportClosed:
            return False
        self._log.write("msg", self._name(src), self._name(dst), data[0], len(data))
        return True

    async def _late(self, stream: MemoryPeerStream, at: float, data: bytes) -> None:
        await self._deliver(stream, at, data)

    async def _pump(
        self, stream: MemoryPeerStream, receive: trio.MemoryReceiveChannel[tuple[float, bytes]]
    ) -> None:
        try:
            async with trio.open_nursery() as nursery, receive:

                async def closed() -> None:
                    await stream.closed_event.wait()
                    nursery.cancel_scope.cancel()

                nursery.start_soon(closed)
                async for at, data in receive:
                    if not await self._deliver(stream, at, data):
                        break
                nursery.cancel_scope.cancel()
        finally:
            self._links.pop(id(stream), None)


def percentile(values: list[float], q: float) -> float | None:
    """The ``q``-th percentile (nearest rank) of ``values``; None when empty."""
    if not values:
        return None
    ordered = sorted(values)
    rank = max(1, math.ceil(q / 100 * len(ordered)))
    return ordered[rank - 1]
