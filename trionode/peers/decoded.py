"""Decoded gossip shared by every connection of the process, bounded in bytes.

A block (or unfinished block, or transaction) reaches a node once from each neighbour: each
relays what it validated to all its peers. Decoding is the first cost of each copy, paid before
the seen-caches of block intake can drop it. Here the decoded record is kept, keyed by the
sha256 of its message type and exact payload bytes, so every copy after the first costs one
hash. Decoded records are frozen; what they compute lazily (checked BLS points) depends only on
their bytes, so one object serves every connection, and, in the simulator, every node of the
process. A payload that fails to decode is never kept.

Bounded in bytes: each entry is charged :data:`DECODED_FACTOR` times its payload plus
:data:`ENTRY_OVERHEAD`, above what tracemalloc measures (decoded blocks with their points
checked: 3.8 times their wire bytes; transactions up to about 5.5); the least recently used
entries go first. A peer flooding distinct blocks only evicts others (a miss decodes again).
Thread-safe (decoding of big payloads runs in worker threads).
"""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any

import trio

from trionode.nursery.offload import run_blocking
from trionode.protocols import MESSAGE_CLASSES
from trionode.protocols import ProtocolMessageTypes as T

__all__ = ["DECODED_MEMO_BYTES", "DecodedMemo", "MEMO_TYPES", "decode_shared", "shared_decoded"]

#: Message types worth keeping: big, and sent by every neighbour alike.
MEMO_TYPES = frozenset({T.block, T.unfinished_block, T.new_transaction})
#: Bytes charged per decoded byte of payload, and per entry besides.
DECODED_FACTOR = 6
ENTRY_OVERHEAD = 512
#: The process-wide bound: 16 MiB, about twenty-five 100 KiB blocks, far more small ones.
DECODED_MEMO_BYTES = 16 * 1024 * 1024


class DecodedMemo:
    def __init__(self, max_bytes: int) -> None:
        self.max_bytes = max_bytes
        self._data: OrderedDict[bytes, tuple[Any, int]] = OrderedDict()
        self._bytes = 0
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    @staticmethod
    def key(mtype: T, data: bytes) -> bytes:
        h = hashlib.sha256(int(mtype).to_bytes(2, "big"))
        h.update(data)
        return h.digest()

    def get(self, key: bytes) -> Any | None:
        with self._lock:
            found = self._data.get(key)
            if found is None:
                self.misses += 1
                return None
            self._data.move_to_end(key)
            self.hits += 1
            return found[0]

    def put(self, key: bytes, value: Any, payload_size: int) -> None:
        size = DECODED_FACTOR * payload_size + ENTRY_OVERHEAD
        if size > self.max_bytes:
            return
        with self._lock:
            old = self._data.pop(key, None)
            if old is not None:
                self._bytes -= old[1]
            self._data[key] = (value, size)
            self._bytes += size
            while self._bytes > self.max_bytes:
                _, (_, dropped) = self._data.popitem(last=False)
                self._bytes -= dropped

    @property
    def bytes(self) -> int:
        return self._bytes

    def __len__(self) -> int:
        return len(self._data)

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0


_SHARED = DecodedMemo(DECODED_MEMO_BYTES)


def shared_decoded() -> DecodedMemo:
    """The process's memo (tests and benchmarks read its counters or clear it)."""
    return _SHARED


async def decode_shared(
    mtype: T, data: bytes, in_thread: bool, limiter: trio.CapacityLimiter | None
) -> Any:
    """``data`` decoded as ``mtype``'s message (in a worker thread if ``in_thread``), from the
    process's memo when it is a kept type seen before. Raises DecodeError."""
    key = DecodedMemo.key(mtype, data) if mtype in MEMO_TYPES else None
    if key is not None and (kept := _SHARED.get(key)) is not None:
        if in_thread:  # schedule as a decode would (a replayed simulation must not tell them apart)
            await trio.lowlevel.checkpoint()
        return kept
    cls = MESSAGE_CLASSES[mtype]
    if in_thread:
        msg = await run_blocking(cls.from_bytes, data, limiter=limiter)
    else:
        msg = cls.from_bytes(data)
    if key is not None:
        _SHARED.put(key, msg, len(data))
    return msg
