"""The event hub behind the RPC websocket: roles publish, each websocket subscribes.

An event is ``{"event": name, "data": {...}}``. Publishing never blocks the publisher (a chain
callback or a connection hook): each subscriber has a bounded buffer, and a subscriber that lets
it fill up misses the newer events (counted in ``dropped``), the way ``Blockchain.subscribe``
treats slow readers. The current state is always one ``get_blockchain_state`` away.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import trio

__all__ = ["EventHub"]

logger = logging.getLogger(__name__)

Event = dict[str, Any]


class EventHub:
    def __init__(self, buffer: int = 64) -> None:
        self.buffer = buffer
        self._subscribers: set[trio.MemorySendChannel[Event]] = set()
        self.published = 0
        self.dropped = 0

    @property
    def subscribers(self) -> int:
        return len(self._subscribers)

    def publish(self, name: str, data: dict[str, Any]) -> None:
        event = {"event": name, "data": data}
        self.published += 1
        for send in list(self._subscribers):
            try:
                send.send_nowait(event)
            except trio.WouldBlock:
                self.dropped += 1
                logger.debug("RPC event subscriber is behind: dropped %s", name)
            except (trio.BrokenResourceError, trio.ClosedResourceError):
                self._subscribers.discard(send)

    @contextmanager
    def subscribe(self) -> Iterator[trio.MemoryReceiveChannel[Event]]:
        """Events published while the block is open, oldest first."""
        send, receive = trio.open_memory_channel[Event](self.buffer)
        self._subscribers.add(send)
        try:
            with receive:
                yield receive
        finally:
            self._subscribers.discard(send)
            send.close()
