"""Known peers, persisted with SQLAlchemy (SQLite file by default): the address table.

One row per server address (host, port): when it was last seen (announced by a peer, an
introducer, or connected to us), last dialled, last successfully handshaken ("tried"), how many
dials failed in a row, its address group and the group of the source that told us about it.
Every hop goes through a :class:`~trionode.storage.engine.StoreRunner` (worker threads, one
writer). A full node keeps the table in its chain's database and then shares the chain store's
runner (:meth:`PeerStore.open_beside`): one engine and one writer per database. Times are
wall-clock seconds (they persist across restarts).

The table is bounded addrman-style (docs/protocol.md section 3), so one peer cannot flush it:

- a ``Peers`` reply contributes at most ``max_per_reply`` addresses, and only IP literals with a
  port (a peer's host names are dropped: nobody resolves names a stranger chose);
- a source (the address group, IPv4 /16 or IPv6 /32, of the peer that told us) holds at most
  ``max_per_source`` untried addresses: beyond it, the source's own oldest untried ones go;
- an address group holds at most ``max_per_group`` untried addresses: when full, the newcomer's
  source recycles its own oldest there, and a source new to the group may take one slot from a
  source holding more than half of it (so one flooding source displaces at most one address of
  the others in a group);
- the table holds at most ``max_addresses`` rows: when full, the oldest untried address of the
  most represented source goes (the newcomer's own while it is as represented as any), so the
  sources converge to equal shares and one source never holds more than ``max_per_source``;
- addresses that worked ("tried": a handshake succeeded) are never evicted by announcements.

The policy is :mod:`trionode.storage.peer_admission`; this module holds the table and its SQL.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path
from typing import Any, NamedTuple

import sqlalchemy as sa

from trionode.nursery.clock import rng
from trionode.storage.direct import Prepared
from trionode.storage.engine import StoreRunner, check_db_url, make_engine
from trionode.storage.peer_admission import (
    MAX_PEERS,
    OPERATOR_SOURCE,
    Addr,
    AddressLimits,
    AdmissionPlan,
    AdmitResult,
    AdmitRow,
    address_group,
    clean_addresses,
)

__all__ = [
    "MAX_PEERS",
    "OPERATOR_SOURCE",
    "AddressLimits",
    "AdmitResult",
    "PeerRecord",
    "PeerStore",
    "address_group",
]

logger = logging.getLogger(__name__)

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
    # Added by issue 10 (existing tables get them on open): the groups used by the bounds.
    sa.Column("source_group", sa.String(64), nullable=False, default=""),
    sa.Column("addr_group", sa.String(64), nullable=False, default=""),
)
_t = peers_table


class PeerRecord(NamedTuple):
    """One row of the peers table. A named tuple, not a frozen dataclass: the peer manager reads
    every row at each of its rounds, and a frozen dataclass takes four times as long to build
    (a guarded ``__setattr__`` per field)."""

    host: str
    port: int
    last_seen: float
    last_attempt: float
    last_success: float
    failures: int
    source_group: str = ""
    addr_group: str = ""

    @property
    def tried(self) -> bool:
        return self.last_success > 0


def _record(row: Any) -> PeerRecord:
    # A row of ``select(peers_table)``: its columns in the table's (and the record's) order.
    return PeerRecord._make(row)


# The statements of the peer manager's every round and dial, compiled once (the manager dials
# often: most dials of a simulated network fail, and each is a write).
_HOST = (_t.c.host == sa.bindparam("h"), _t.c.port == sa.bindparam("p"))
_SEL_ADMIT = Prepared(
    sa.select(
        _t.c.host, _t.c.port, _t.c.source_group, _t.c.addr_group, _t.c.last_seen, _t.c.last_success
    )
)
_DEL_ADDR = Prepared(sa.delete(_t).where(*_HOST))
_TOUCH_ADDR = Prepared(sa.update(_t).where(*_HOST).values(last_seen=sa.bindparam("seen")))
_INS_ADDR = Prepared(sa.insert(_t))
_SUCCESS = Prepared(
    sa.update(_t)
    .where(*_HOST)
    .values(last_success=sa.bindparam("now"), last_seen=sa.bindparam("now"), failures=0)
)
_FAILURE = Prepared(sa.update(_t).where(*_HOST).values(failures=_t.c.failures + 1))
_DIAL_OK = Prepared(
    sa.update(_t)
    .where(*_HOST)
    .values(
        last_attempt=sa.bindparam("at"),
        last_success=sa.bindparam("now"),
        last_seen=sa.bindparam("now"),
        failures=0,
    )
)
_DIAL_FAILED = Prepared(
    sa.update(_t).where(*_HOST).values(last_attempt=sa.bindparam("at"), failures=_t.c.failures + 1)
)
_SEL_ADDR = Prepared(sa.select(_t).where(*_HOST))
_SEL_CANDIDATES = Prepared(
    sa.select(_t)
    .order_by(_t.c.last_success.desc(), _t.c.failures, _t.c.last_seen.desc())
    .limit(sa.bindparam("limit"))
)
_SEL_RECENT = Prepared(
    sa.select(_t)
    .where(_t.c.last_seen >= sa.bindparam("since"))
    .order_by(_t.c.last_seen.desc())
    .limit(sa.bindparam("limit"))
)


def _as_url(location: str | Path) -> str:
    """A database URL as it is; a path as the SQLite file there."""
    text = str(location)
    return text if "://" in text else f"sqlite:///{text}"


def _same_database(a: str, b: str) -> bool:
    """Whether two URLs name one database (SQLite: one file, however the path is written)."""
    ua, ub = check_db_url(a), check_db_url(b)
    if ua.get_backend_name() == ub.get_backend_name() == "sqlite":
        return Path(ua.database or "").resolve() == Path(ub.database or "").resolve()
    return ua == ub


class PeerStore:
    """Async facade over the peers table.

    Build with :meth:`open` (a database of its own) or :meth:`open_beside` (next to the chain,
    on its runner when it is the same database); call :meth:`close`, which closes the runner
    only if the store opened it.
    """

    def __init__(
        self, runner: StoreRunner, limits: AddressLimits | None = None, *, owns_runner: bool
    ) -> None:
        self.runner = runner
        self.limits = limits or AddressLimits()
        self._owns_runner = owns_runner

    @classmethod
    def open(cls, path_or_url: str | Path, *, limits: AddressLimits | None = None) -> PeerStore:
        """A store with its own engine in an SQLite file (a path) or at a database URL
        (``sqlite:///...`` or ``postgresql+psycopg://...``); creates the table at once."""
        # make_engine: the chain store's settings (WAL, busy timeout, threads); two connections
        # are plenty for this table.
        engine = make_engine(_as_url(path_or_url), pool_size=2)
        try:
            with engine.begin() as conn:
                _prepare_sync(conn)
        except BaseException:
            engine.dispose()
            raise
        return cls(StoreRunner(engine, readers=1), limits, owns_runner=True)

    @classmethod
    async def open_beside(
        cls,
        runner: StoreRunner,
        path_or_url: str | Path | None = None,
        *,
        limits: AddressLimits | None = None,
    ) -> PeerStore:
        """The peers table at ``path_or_url`` (None: the database of ``runner``, the chain
        store's). When that is ``runner``'s database the store shares ``runner`` (one engine,
        one writer per database); otherwise it opens its own (:meth:`open`)."""
        if path_or_url is not None and not _same_database(_as_url(path_or_url), runner.url):
            return cls.open(path_or_url, limits=limits)
        await runner.write(_prepare_sync)
        return cls(runner, limits, owns_runner=False)

    def close(self) -> None:
        """Dispose of the engine if this store opened it (nothing may be running then)."""
        if self._owns_runner:
            self.runner.close_now()

    # -- writes ----------------------------------------------------------------------------

    async def add_seen(
        self, peers: Iterable[tuple[str, int]], now: float, *, source: str | None = None
    ) -> AdmitResult:
        """Record that these server addresses were seen (announced or connected) at ``now``.

        ``source``: the host of the peer that told us (its address group is charged for the
        new addresses); None for addresses the operator gave, which may be host names. At most
        ``limits.max_per_reply`` addresses are taken; the bounds of the module docstring apply.
        """
        rows, dropped = clean_addresses(
            peers, allow_names=source is None, limit=self.limits.max_per_reply
        )
        group = OPERATOR_SOURCE if source is None else address_group(source)
        if not rows:
            return AdmitResult(dropped=dropped)
        result = await self.runner.write(_add_seen_sync, self.limits, rows, now, group)
        result.dropped += dropped
        return result

    async def clear(self) -> None:
        """Forget every address (a partition in a test network: no way back across it)."""
        await self.runner.write(_clear_sync)

    async def mark_success(self, host: str, port: int, now: float) -> None:
        await self.runner.write(_update_sync, _SUCCESS, {"h": host, "p": port, "now": now})

    async def mark_failure(self, host: str, port: int) -> None:
        await self.runner.write(_update_sync, _FAILURE, {"h": host, "p": port})

    async def record_dial(
        self, host: str, port: int, attempted: float, *, ok: bool, now: float
    ) -> None:
        """A dial's attempt and its outcome in one write (the peer manager dials often: one
        write per dial, not one before it and one after)."""
        params = {"h": host, "p": port, "at": attempted, "now": now}
        await self.runner.write(_update_sync, _DIAL_OK if ok else _DIAL_FAILED, params)

    # -- reads -----------------------------------------------------------------------------

    async def get(self, host: str, port: int) -> PeerRecord | None:
        return await self.runner.read(_get_sync, host, port)

    async def candidates(self, limit: int = 1000) -> list[PeerRecord]:
        """Peers to dial, best first: those that worked most recently, then fewest failures,
        then most recently seen."""
        return await self.runner.read(_candidates_sync, limit)

    async def recent_sample(self, since: float, count: int) -> list[PeerRecord]:
        """A random sample of at most ``count`` peers seen at or after ``since``."""
        rows = await self.runner.read(_recent_sync, since, self.limits.max_addresses)
        return rng().sample(rows, min(count, len(rows)))


# -- sync functions (one runner hop each) --------------------------------------------------


def _add_seen_sync(
    db: sa.Connection, limits: AddressLimits, batch: list[Addr], now: float, source: str
) -> AdmitResult:
    """Admit ``batch`` in one write transaction: plan in memory, then write the difference."""
    result = AdmitResult()
    existing = _SEL_ADMIT.all(db)
    rows = {
        (h, p): AdmitRow(src, grp or address_group(h), seen, success > 0)
        for h, p, src, grp, seen, success in existing
    }
    before = {addr: row.last_seen for addr, row in rows.items()}
    plan = AdmissionPlan(limits, rows)
    for addr in batch:
        plan.admit(addr, source, now, result)
    gone = [addr for addr in before if addr not in plan.rows]
    new = [addr for addr in plan.rows if addr not in before]
    touched = [
        addr
        for addr in batch
        if addr in before and addr in plan.rows and plan.rows[addr].last_seen != before[addr]
    ]
    if gone:
        _DEL_ADDR.many(db, [{"h": h, "p": p} for h, p in gone])
    if touched:
        _TOUCH_ADDR.many(
            db, [{"h": h, "p": p, "seen": plan.rows[(h, p)].last_seen} for h, p in touched]
        )
    if new:
        _INS_ADDR.many(
            db,
            [
                {
                    "host": h,
                    "port": p,
                    "last_seen": plan.rows[(h, p)].last_seen,
                    "last_attempt": 0.0,
                    "last_success": 0.0,
                    "failures": 0,
                    "source_group": plan.rows[(h, p)].source,
                    "addr_group": plan.rows[(h, p)].group,
                }
                for h, p in new
            ],
        )
    return result


def _clear_sync(db: sa.Connection) -> None:
    db.execute(sa.delete(_t))


def _update_sync(db: sa.Connection, stmt: Prepared, params: dict[str, object]) -> None:
    stmt.run(db, params)


def _get_sync(db: sa.Connection, host: str, port: int) -> PeerRecord | None:
    rows = _SEL_ADDR.all(db, {"h": host, "p": port})
    return _record(rows[0]) if rows else None


def _candidates_sync(db: sa.Connection, limit: int) -> list[PeerRecord]:
    return [_record(r) for r in _SEL_CANDIDATES.all(db, {"limit": limit})]


def _recent_sync(db: sa.Connection, since: float, limit: int) -> list[PeerRecord]:
    return [_record(r) for r in _SEL_RECENT.all(db, {"since": since, "limit": limit})]


def _prepare_sync(db: sa.Connection) -> None:
    """Create the peers table if missing; give one made before the address bounds its two
    group columns (both back ends take ``ALTER TABLE ... ADD COLUMN`` with a default) and fill
    in the address groups."""
    _metadata.create_all(db)
    columns = {c["name"] for c in sa.inspect(db).get_columns("peers")}
    missing = [name for name in ("source_group", "addr_group") if name not in columns]
    if not missing:
        return
    for name in missing:
        db.execute(sa.text(f"ALTER TABLE peers ADD COLUMN {name} VARCHAR(64) NOT NULL DEFAULT ''"))
    hosts = [h for (h,) in db.execute(sa.select(_t.c.host).distinct()).all()]
    if hosts:
        db.execute(
            sa.update(_t)
            .where(_t.c.host == sa.bindparam("h"))
            .values(addr_group=sa.bindparam("g")),
            [{"h": h, "g": address_group(h)} for h in hosts],
        )
    logger.info("peers table: added columns %s", ", ".join(missing))
