"""A memo for pure proof checks, bounded by the bytes it holds, safe to share between threads.

The proof checks of :mod:`trionode.consensus.proofs` run in worker threads (``nursery.offload.run_blocking``)
and on the event loop. ``functools.lru_cache`` bounded them by entries only, and kept each
argument as its key: a rejected proof with a 9 MiB witness stayed in memory for 4,096 more
checks. Here every key is a 32-byte digest of the checked bytes (the callers check the lengths
first and never memoise oversized input), every value is small, and the total is bounded in
bytes: each entry is charged its key, its value and :data:`ENTRY_OVERHEAD` for the Python
objects around them.

A key being computed by one thread is not computed again by another: the second waits for the
first's result. A gossiped block's validation relies on it: a second worker checks the block's
costly proofs from the other end (``consensus.validation.check_proofs_ahead``) and the
validating thread, reaching one of them, takes the result instead of doing the work twice.
Computations never wait for a key of their own memo, so a wait always ends (the one nesting,
a proof of time's check asking for its discriminant, goes one way only).
"""

from __future__ import annotations

import hashlib
import sys
import threading
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Generic, TypeVar

__all__ = ["ENTRY_OVERHEAD", "ByteBoundedMemo", "MemoStats", "digest"]

V = TypeVar("V")

#: Bytes charged per entry beyond its key and value: the OrderedDict's slot and link, the key
#: object (33 + 32 bytes), the (value, size) tuple, the value object's header. tracemalloc
#: measures about 200 bytes per entry in a memo filled once, and about 270 in one that has
#: evicted for long (the dict's table keeps its peak size); tests/test_hostile_pools.py checks
#: the charge is not below either.
ENTRY_OVERHEAD = 320

_MISSING = object()


def digest(*parts: bytes | int) -> bytes:
    """sha256 over ``parts``, each length-prefixed (ints as 8 bytes), so distinct inputs never
    share a digest by concatenation."""
    h = hashlib.sha256()
    for part in parts:
        data = part.to_bytes(8, "big") if isinstance(part, int) else bytes(part)
        h.update(len(data).to_bytes(4, "big"))
        h.update(data)
    return h.digest()


def _value_size(value: object) -> int:
    if isinstance(value, bytes | str):
        return sys.getsizeof(value)  # the object, header included
    return 0  # bool / None: shared singletons


@dataclass(frozen=True)
class MemoStats:
    entries: int
    bytes: int
    max_bytes: int
    hits: int
    misses: int


class ByteBoundedMemo(Generic[V]):
    """Least recently used entries go first once the charged bytes exceed ``max_bytes``.

    Thread-safe: the map is only touched under a lock; the computation runs outside it. A thread
    missing a key another thread is computing waits for that result (module docstring); if the
    other's computation raised, or its value was too big to keep, it computes the key itself.
    """

    def __init__(self, name: str, max_bytes: int) -> None:
        if max_bytes < 0:
            raise ValueError("max_bytes must be >= 0")
        self.name = name
        self.max_bytes = max_bytes
        self._data: OrderedDict[bytes, tuple[V, int]] = OrderedDict()
        self._bytes = 0
        self._hits = 0
        self._misses = 0
        self._lock = threading.Lock()
        self._computing: dict[bytes, threading.Event] = {}  # at most one key per thread

    def get_or_compute(self, key: bytes, compute: Callable[[], V]) -> V:
        while True:
            with self._lock:
                found = self._data.get(key, _MISSING)
                if found is not _MISSING:
                    self._data.move_to_end(key)
                    self._hits += 1
                    return found[0]  # type: ignore[index,no-any-return]
                running = self._computing.get(key)
                if running is None:
                    self._misses += 1
                    done = self._computing[key] = threading.Event()
                    break
            running.wait()  # another thread computes it: take its result, look again
        try:
            value = compute()
            self.put(key, value)
        finally:
            with self._lock:
                del self._computing[key]
            done.set()
        return value

    def computing(self) -> int:
        """Keys being computed now (tests)."""
        with self._lock:
            return len(self._computing)

    def put(self, key: bytes, value: V) -> None:
        size = len(key) + ENTRY_OVERHEAD + _value_size(value)
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

    def clear(self) -> None:
        with self._lock:
            self._data.clear()
            self._bytes = 0

    def stats(self) -> MemoStats:
        with self._lock:
            return MemoStats(len(self._data), self._bytes, self.max_bytes, self._hits, self._misses)

    def __len__(self) -> int:
        with self._lock:
            return len(self._data)
