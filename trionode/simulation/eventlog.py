"""The run's event log: one line per delivered message, fault, crash and new tip, in virtual
time, folded into a sha256 as it is written. Two runs of one seed must give the same hash; the
last lines are kept to show what happened just before a failure."""

from __future__ import annotations

import collections
import hashlib
from collections.abc import Iterator
from pathlib import Path

import trio

TAIL = 200


class EventLog:
    def __init__(self, *, keep: int = TAIL, path: Path | None = None) -> None:
        self._file = None if path is None else path.open("w", encoding="utf-8")
        self._hash = hashlib.sha256()
        self.count = 0
        self.tail: collections.deque[str] = collections.deque(maxlen=keep)
        self.kinds: collections.Counter[str] = collections.Counter()

    def write(self, kind: str, *fields: object) -> None:
        """Record one event at the current virtual time (microseconds, so floats never
        print differently from one machine to the next)."""
        micros = round(trio.current_time() * 1_000_000)
        line = f"{micros} {kind} " + " ".join(str(f) for f in fields)
        self._hash.update(line.encode() + b"\n")
        if self._file is not None:
            self._file.write(line + "\n")
        self.count += 1
        self.kinds[kind] += 1
        self.tail.append(line)

    def close(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def hexdigest(self) -> str:
        return self._hash.hexdigest()

    def __iter__(self) -> Iterator[str]:
        return iter(self.tail)
