"""What waits for a handler on one connection: the bounded queue of raw messages, the handler
slots, and the slot a handler task holds.

The queue is bounded in messages and wire bytes (a message is queued undecoded). A connection runs at most ``capacity`` handlers at once. A handler that waits for a reply (from
any peer) gives its slot back meanwhile (:meth:`HandlerSlot.park`), so a burst of announcements
whose handlers ask the same peer something cannot hold every slot while the answers queue up
behind them (issue 10, attack 7); at most ``max_parked`` may be parked at once, so parking does
not lift the bound on running handlers without limit.
"""

from __future__ import annotations

import collections
import contextvars

import attrs
import trio

from trionode.protocols import ProtocolMessageTypes as T


@attrs.define
class Work:
    """A message waiting for a handler slot: still raw bytes (the queue bounds wire bytes)."""

    mtype: T
    msg_id: int | None
    payload: memoryview
    size: int


class InboundQueue:
    """Messages waiting for a handler, at most ``max_messages`` and ``max_bytes`` of wire bytes;
    one message always fits an empty queue."""

    def __init__(self, max_messages: int, max_bytes: int) -> None:
        self.max_messages = max_messages
        self.max_bytes = max_bytes
        self._items: collections.deque[Work] = collections.deque()
        self.bytes = 0
        self._changed = trio.Event()

    def __len__(self) -> int:
        return len(self._items)

    def offer(self, work: Work) -> bool:
        """Queue ``work``; False (and nothing queued) beyond the bounds."""
        if self._items and (
            len(self._items) >= self.max_messages or self.bytes + work.size > self.max_bytes
        ):
            return False
        self._items.append(work)
        self.bytes += work.size
        self._changed.set()
        return True

    async def wait(self) -> None:
        """Until something is queued."""
        while not self._items:
            self._changed = trio.Event()
            await self._changed.wait()

    def pop(self) -> Work:
        work = self._items.popleft()
        self.bytes -= work.size
        return work

    def clear(self) -> None:
        self._items.clear()
        self.bytes = 0


class HandlerSlots:
    """``capacity`` slots for handler tasks; the dispatcher acquires one per task started."""

    def __init__(self, capacity: int, max_parked: int) -> None:
        self._free = trio.Semaphore(capacity)
        self.max_parked = max_parked
        self.parked = 0

    async def acquire(self) -> None:
        await self._free.acquire()

    def release(self) -> None:
        self._free.release()

    def enter(self, task: trio.lowlevel.Task) -> HandlerSlot:
        """The slot ``task`` (a handler task started after :meth:`acquire`) holds; also the
        slot :func:`current_slot` finds in that task."""
        slot = HandlerSlot(self, task)
        _CURRENT_SLOT.set(slot)
        return slot


class HandlerSlot:
    """The slot one handler task holds."""

    __slots__ = ("slots", "task", "held", "parked")

    def __init__(self, slots: HandlerSlots, task: trio.lowlevel.Task) -> None:
        self.slots = slots
        self.task = task
        self.held = True
        self.parked = False

    def park(self) -> bool:
        """Give the slot back while waiting; False if too many are parked already."""
        if not self.held or self.slots.parked >= self.slots.max_parked:
            return False
        self.held = False
        self.parked = True
        self.slots.parked += 1
        self.slots.release()
        return True

    async def unpark(self) -> None:
        """Take a slot again after the wait (may wait for one: this task is no reader)."""
        self.slots.parked -= 1
        self.parked = False
        await self.slots.acquire()
        self.held = True

    def finish(self) -> None:
        if self.parked:
            self.slots.parked -= 1
            self.parked = False
        if self.held:
            self.held = False
            self.slots.release()


# The slot of the handler task running in this context (trio gives every task its own copy of
# the context, so a value set in a handler task is seen only there and in tasks it spawns:
# those are told apart by comparing the task).
_CURRENT_SLOT: contextvars.ContextVar[HandlerSlot | None] = contextvars.ContextVar(
    "trionode_handler_slot", default=None
)


def current_slot() -> HandlerSlot | None:
    """The slot held by the calling task, if it is a handler task."""
    slot = _CURRENT_SLOT.get()
    if slot is None or slot.task is not trio.lowlevel.current_task():
        return None
    return slot
