"""Known peers, persisted with SQLAlchemy (SQLite file by default).

One row per server address (host, port): when it was last seen (announced by a peer, an
introducer, or connected to us), last dialled, last successfully handshaken, and how many dials
failed in a row. The sync engine runs in worker threads through one CapacityLimiter (SQLAlchemy's
async engine does not run under trio; LIBRARIES.md). Times are wall-clock seconds (they persist
across restarts).
"""

from __future__ import annotations

import functools
import random
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import trio

from trionode.storage.engine import make_engine

__all__ = ["PeerRecord", "PeerStore"]

R = TypeVar("R")

_metadata = sa.MetaData()
peers_table = sa.Table(
    "peers",
    _metadata,
    sa.Column("host", sa.String(64), primary_key=True),
    sa.Column("port", sa.Integer, primary_key=True),
    sa.Column("last_seen", sa.Float, nullable=False),
    sa.Column("last_attempt", sa.Float, nullable=False, default=0.0),
    sa.Column("last_success", sa.Float, nullable=False, default=0.0),
    sa.Column("failures", sa.Integer, nullable=False, default=0),
)

# Bound on the table: beyond it, the least recently seen rows are dropped.
MAX_PEERS = 20_000


@dataclass(frozen=True)
class PeerRecord:
    host: str
    port: int
    last_seen: float
    last_attempt: float
    last_success: float
    failures: int


def _record(row: Any) -> PeerRecord:
    m = row._mapping
    return PeerRecord(
        m["host"], m["port"], m["last_seen"], m["last_attempt"], m["last_success"], m["failures"]
    )


class PeerStore:
    """Async facade over the peers table. Build with :meth:`open`; call :meth:`close`."""

    def __init__(self, engine: sa.Engine) -> None:
        self._engine = engine
        # SQLite allows one writer: serialise our own hops instead of queueing on its lock.
        self._limiter = trio.CapacityLimiter(1)
        _metadata.create_all(engine)

    @classmethod
    def open(cls, path_or_url: str | Path) -> PeerStore:
        """A store in an SQLite file (a path) or at a database URL (``sqlite:///...`` or
        ``postgresql+psycopg://...``, the same as the chain store's: a full node keeps its
        peers table next to its chain by default)."""
        text = str(path_or_url)
        if "://" not in text:
            text = f"sqlite:///{text}"
        # make_engine: the chain store's settings (WAL, busy timeout, threads), one shared
        # file or server; two connections are plenty for this table.
        return cls(make_engine(text, pool_size=2))

    def close(self) -> None:
        self._engine.dispose()

    async def _run(self, fn: Callable[..., R], *args: object) -> R:
        return await trio.to_thread.run_sync(functools.partial(fn, *args), limiter=self._limiter)

    # -- writes ----------------------------------------------------------------------------

    async def add_seen(self, peers: Iterable[tuple[str, int]], now: float) -> None:
        """Record that these server addresses were seen (announced or connected) at ``now``."""
        rows = [{"host": h, "port": int(p)} for h, p in peers if 0 < int(p) < 65536]
        if rows:
            await self._run(self._add_seen, rows, now)

    def _add_seen(self, rows: list[dict[str, object]], now: float) -> None:
        with self._engine.begin() as db:
            for row in rows:
                updated = db.execute(
                    sa.update(peers_table)
                    .where(peers_table.c.host == row["host"], peers_table.c.port == row["port"])
                    .values(
                        # max(last_seen, now) in SQL every back end speaks
                        last_seen=sa.case(
                            (peers_table.c.last_seen > now, peers_table.c.last_seen), else_=now
                        )
                    )
                )
                if updated.rowcount == 0:
                    db.execute(sa.insert(peers_table).values(**row, last_seen=now))
            count = db.execute(sa.select(sa.func.count()).select_from(peers_table)).scalar_one()
            if count > MAX_PEERS:
                oldest = (
                    sa.select(peers_table.c.host, peers_table.c.port)
                    .order_by(peers_table.c.last_seen)
                    .limit(count - MAX_PEERS)
                )
                for host, port in db.execute(oldest).all():
                    db.execute(
                        sa.delete(peers_table).where(
                            peers_table.c.host == host, peers_table.c.port == port
                        )
                    )

    async def clear(self) -> None:
        """Forget every address (a partition in a test network: no way back across it)."""
        await self._run(self._clear)

    def _clear(self) -> None:
        with self._engine.begin() as db:
            db.execute(sa.delete(peers_table))

    async def mark_attempt(self, host: str, port: int, now: float) -> None:
        await self._run(self._update, host, port, {"last_attempt": now})

    async def mark_success(self, host: str, port: int, now: float) -> None:
        await self._run(
            self._update, host, port, {"last_success": now, "last_seen": now, "failures": 0}
        )

    async def mark_failure(self, host: str, port: int) -> None:
        await self._run(self._update, host, port, {"failures": peers_table.c.failures + 1})

    def _update(self, host: str, port: int, values: dict[str, object]) -> None:
        with self._engine.begin() as db:
            db.execute(
                sa.update(peers_table)
                .where(peers_table.c.host == host, peers_table.c.port == port)
                .values(**values)
            )

    # -- reads -----------------------------------------------------------------------------

    async def get(self, host: str, port: int) -> PeerRecord | None:
        return await self._run(self._get, host, port)

    def _get(self, host: str, port: int) -> PeerRecord | None:
        with self._engine.connect() as db:
            row = db.execute(
                sa.select(peers_table).where(peers_table.c.host == host, peers_table.c.port == port)
            ).first()
        return None if row is None else _record(row)

    async def candidates(self, limit: int = 1000) -> list[PeerRecord]:
        """Peers to dial, best first: those that worked most recently, then fewest failures,
        then most recently seen."""
        return await self._run(self._candidates, limit)

    def _candidates(self, limit: int) -> list[PeerRecord]:
        query = (
            sa.select(peers_table)
            .order_by(
                peers_table.c.last_success.desc(),
                peers_table.c.failures,
                peers_table.c.last_seen.desc(),
            )
            .limit(limit)
        )
        with self._engine.connect() as db:
            return [_record(r) for r in db.execute(query).all()]

    async def recent_sample(self, since: float, count: int) -> list[PeerRecord]:
        """A random sample of at most ``count`` peers seen at or after ``since``."""
        rows = await self._run(self._recent, since)
        return random.sample(rows, min(count, len(rows)))

    def _recent(self, since: float) -> list[PeerRecord]:
        query = (
            sa.select(peers_table)
            .where(peers_table.c.last_seen >= since)
            .order_by(peers_table.c.last_seen.desc())
            .limit(MAX_PEERS)
        )
        with self._engine.connect() as db:
            return [_record(r) for r in db.execute(query).all()]
