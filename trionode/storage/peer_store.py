"""Known peers, persisted with SQLAlchemy (SQLite file by default): the address table.

One row per server address (host, port): when it was last seen (announced by a peer, an
introducer, or connected to us), last dialled, last successfully handshaken ("tried"), how many
dials failed in a row, its address group and the group of the source that told us about it.
The sync engine runs in worker threads through one CapacityLimiter (SQLAlchemy's async engine
does not run under trio; LIBRARIES.md). Times are wall-clock seconds (they persist across
restarts).

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
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
import logging
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import sqlalchemy as sa
import trio

from trionode.nursery.clock import rng
from trionode.nursery.offload import run_blocking
from trionode.storage.engine import make_engine

__all__ = ["AddressLimits", "AdmitResult", "PeerRecord", "PeerStore", "address_group"]

logger = logging.getLogger(__name__)

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
    # Added by issue 10 (existing tables get them on open): the groups used by the bounds.
    sa.Column("source_group", sa.String(64), nullable=False, default=""),
    sa.Column("addr_group", sa.String(64), nullable=False, default=""),
)

#: Default bound on the table (AddressLimits.max_addresses).
MAX_PEERS = 20_000
#: The source of addresses the operator gave (config ``peers``), not a peer.
OPERATOR_SOURCE = "operator"


def address_group(host: str) -> str:
    """The network a host belongs to (IPv4 /16, IPv6 /32): outbound connections are spread
    over groups, and the address table's quotas count per group."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return f"name:{host}"
    if isinstance(ip, ipaddress.IPv4Address):
        return str(ipaddress.ip_network(f"{ip}/16", strict=False))
    if ip.ipv4_mapped is not None:
        return address_group(str(ip.ipv4_mapped))
    return str(ipaddress.ip_network(f"{ip}/32", strict=False))


@dataclass(frozen=True)
class AddressLimits:
    """Bounds of the address table (config ``peers.address_*``; docs/protocol.md section 3)."""

    max_addresses: int = MAX_PEERS
    max_per_source: int = 1_000
    max_per_group: int = 256
    max_per_reply: int = 1_000

    def __post_init__(self) -> None:
        for name in ("max_addresses", "max_per_source", "max_per_group", "max_per_reply"):
            if getattr(self, name) < 1:
                raise ValueError(f"{name} must be >= 1")


@dataclass
class AdmitResult:
    """What one ``add_seen`` did (for logs and tests)."""

    added: int = 0
    updated: int = 0
    evicted: int = 0
    refused: int = 0  # no room that the source may take
    dropped: int = 0  # invalid, duplicate or beyond max_per_reply


@dataclass(frozen=True)
class PeerRecord:
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
    m = row._mapping
    return PeerRecord(
        m["host"],
        m["port"],
        m["last_seen"],
        m["last_attempt"],
        m["last_success"],
        m["failures"],
        m["source_group"],
        m["addr_group"],
    )


def _clean(
    peers: Iterable[tuple[str, int]], *, allow_names: bool, limit: int
) -> tuple[list[tuple[str, int]], int]:
    """Valid, distinct (host, port) pairs, at most ``limit``; and how many were dropped."""
    out: list[tuple[str, int]] = []
    seen: set[tuple[str, int]] = set()
    dropped = 0
    for host, port in peers:
        try:
            port = int(port)
        except (TypeError, ValueError):
            dropped += 1
            continue
        if not 0 < port < 65536 or not isinstance(host, str) or not 0 < len(host) <= 64:
            dropped += 1
            continue
        try:
            host = str(ipaddress.ip_address(host))
        except ValueError:
            if not allow_names:
                dropped += 1
                continue
        addr = (host, port)
        if addr in seen or len(out) >= limit:
            dropped += 1
            continue
        seen.add(addr)
        out.append(addr)
    return out, dropped


Addr = tuple[str, int]


@dataclass(slots=True)
class _Row:
    source: str
    group: str
    last_seen: float
    tried: bool


class _Plan:
    """The address table in memory while one batch is admitted (the rows are at most
    ``max_addresses``; a batch at most ``max_per_reply``). Counts are built up front; the
    oldest-first heaps only for the (source, group) pairs an eviction needs."""

    def __init__(self, limits: AddressLimits, rows: dict[Addr, _Row]) -> None:
        self.limits = limits
        self.rows = rows
        self._of_source: defaultdict[str, list[Addr]] = defaultdict(list)
        self._of_group: defaultdict[str, list[Addr]] = defaultdict(list)
        for addr, row in rows.items():
            if not row.tried:
                self._of_source[row.source].append(addr)
                self._of_group[row.group].append(addr)
        self.by_source: dict[str, int] = {s: len(a) for s, a in self._of_source.items()}
        # group -> source -> untried, counted when a group is first asked about
        self._by_group: dict[str, dict[str, int]] = {}
        # (source, group or "*") -> untried (last_seen, addr), oldest first; entries go stale
        # (evicted, re-seen) and are skipped when they reach the top.
        self._heaps: dict[tuple[str, str], list[tuple[float, Addr]]] = {}

    def group_counts(self, group: str) -> dict[str, int]:
        counts = self._by_group.get(group)
        if counts is None:
            counts = {}
            for addr in self._of_group.get(group, ()):
                row = self.rows.get(addr)
                if row is not None and not row.tried:
                    counts[row.source] = counts.get(row.source, 0) + 1
            self._by_group[group] = counts
        return counts

    def _count(self, addr: Addr, row: _Row, delta: int) -> None:
        self.by_source[row.source] = self.by_source.get(row.source, 0) + delta
        counts = self._by_group.get(row.group)
        if counts is not None:
            counts[row.source] = counts.get(row.source, 0) + delta

    def _heap(self, source: str, group: str) -> list[tuple[float, Addr]]:
        heap = self._heaps.get((source, group))
        if heap is None:
            members = self._of_source[source] if group == "*" else self._of_group[group]
            heap = [
                (row.last_seen, addr)
                for addr in members
                if (row := self.rows.get(addr)) is not None
                and not row.tried
                and row.source == source
            ]
            heapq.heapify(heap)
            self._heaps[(source, group)] = heap
        return heap

    def _note(self, addr: Addr, row: _Row) -> None:
        """``row`` is new or was seen again: heaps already built learn its time."""
        for key in ((row.source, "*"), (row.source, row.group)):
            heap = self._heaps.get(key)
            if heap is not None:
                heapq.heappush(heap, (row.last_seen, addr))

    def _oldest(self, source: str, group: str) -> Addr | None:
        heap = self._heap(source, group)
        while heap:
            seen, addr = heap[0]
            row = self.rows.get(addr)
            if row is None or row.tried or row.source != source or row.last_seen != seen:
                heapq.heappop(heap)  # stale
                continue
            return addr
        return None

    def _evict(self, addr: Addr) -> None:
        row = self.rows.pop(addr)
        self._count(addr, row, -1)

    def _group_victim(self, group: str, source: str) -> Addr | None:
        """Room in a full address group: the newcomer's source gives up its own oldest entry
        there if it has one; a source new to the group may take one slot from a source holding
        more than half of it; otherwise there is no room. So one source flooding a group
        displaces at most one address of the others."""
        counts = self.group_counts(group)
        if counts.get(source, 0) > 0:
            return self._oldest(source, group)
        biggest, top = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
        if top > self.limits.max_per_group // 2:
            return self._oldest(biggest, group)
        return None

    def _table_victim(self, source: str) -> Addr | None:
        """Room in a full table: the oldest untried entry of the most represented source, or
        of the newcomer's source while it is as represented as any (sources converge to equal
        shares; one source reaches at most max_per_source)."""
        counts = self.by_source
        biggest, top = max(counts.items(), key=lambda kv: kv[1], default=("", 0))
        if top <= 0:
            return None
        return self._oldest(source if counts.get(source, 0) >= top else biggest, "*")

    def admit(self, addr: Addr, source: str, now: float, result: AdmitResult) -> None:
        row = self.rows.get(addr)
        if row is not None:
            if now > row.last_seen:
                row.last_seen = now
                if not row.tried:  # keep the heaps' order right: re-push with the new time
                    self._note(addr, row)
            result.updated += 1
            return
        group = address_group(addr[0])
        lim = self.limits
        if self.by_source.get(source, 0) >= lim.max_per_source:
            victim = self._oldest(source, "*")
            if victim is None:
                result.refused += 1
                return
            self._evict(victim)
            result.evicted += 1
        if sum(self.group_counts(group).values()) >= lim.max_per_group:
            victim = self._group_victim(group, source)
            if victim is None:
                result.refused += 1
                return
            self._evict(victim)
            result.evicted += 1
        if len(self.rows) >= lim.max_addresses:
            victim = self._table_victim(source)
            if victim is None:
                result.refused += 1
                return
            self._evict(victim)
            result.evicted += 1
        new = _Row(source, group, now, False)
        self.group_counts(group)  # counted before the row exists, then kept by _count
        self.rows[addr] = new
        self._count(addr, new, +1)
        self._of_source[source].append(addr)
        self._of_group[group].append(addr)
        self._note(addr, new)
        result.added += 1


class PeerStore:
    """Async facade over the peers table. Build with :meth:`open`; call :meth:`close`."""

    def __init__(self, engine: sa.Engine, limits: AddressLimits | None = None) -> None:
        self._engine = engine
        self.limits = limits or AddressLimits()
        # SQLite allows one writer: serialise our own hops instead of queueing on its lock.
        self._limiter = trio.CapacityLimiter(1)
        _metadata.create_all(engine)
        _add_group_columns(engine)

    @classmethod
    def open(cls, path_or_url: str | Path, *, limits: AddressLimits | None = None) -> PeerStore:
        """A store in an SQLite file (a path) or at a database URL (``sqlite:///...`` or
        ``postgresql+psycopg://...``, the same as the chain store's: a full node keeps its
        peers table next to its chain by default)."""
        text = str(path_or_url)
        if "://" not in text:
            text = f"sqlite:///{text}"
        # make_engine: the chain store's settings (WAL, busy timeout, threads), one shared
        # file or server; two connections are plenty for this table.
        return cls(make_engine(text, pool_size=2), limits)

    def close(self) -> None:
        self._engine.dispose()

    async def _run(self, fn: Callable[..., R], *args: object) -> R:
        return await run_blocking(functools.partial(fn, *args), limiter=self._limiter)

    # -- writes ----------------------------------------------------------------------------

    async def add_seen(
        self, peers: Iterable[tuple[str, int]], now: float, *, source: str | None = None
    ) -> AdmitResult:
        """Record that these server addresses were seen (announced or connected) at ``now``.

        ``source``: the host of the peer that told us (its address group is charged for the
        new addresses); None for addresses the operator gave, which may be host names. At most
        ``limits.max_per_reply`` addresses are taken; the bounds of the module docstring apply.
        """
        rows, dropped = _clean(peers, allow_names=source is None, limit=self.limits.max_per_reply)
        group = OPERATOR_SOURCE if source is None else address_group(source)
        if not rows:
            return AdmitResult(dropped=dropped)
        result = await self._run(self._add_seen, rows, now, group)
        result.dropped += dropped
        return result

    def _add_seen(self, batch: list[Addr], now: float, source: str) -> AdmitResult:
        t = peers_table
        result = AdmitResult()
        with self._engine.begin() as db:
            existing = db.execute(
                sa.select(
                    t.c.host,
                    t.c.port,
                    t.c.source_group,
                    t.c.addr_group,
                    t.c.last_seen,
                    t.c.last_success,
                )
            ).all()
            rows = {
                (h, p): _Row(src, grp or address_group(h), seen, success > 0)
                for h, p, src, grp, seen, success in existing
            }
            before = {addr: row.last_seen for addr, row in rows.items()}
            plan = _Plan(self.limits, rows)
            for addr in batch:
                plan.admit(addr, source, now, result)
            gone = [addr for addr in before if addr not in plan.rows]
            new = [addr for addr in plan.rows if addr not in before]
            touched = [
                addr
                for addr in batch
                if addr in before
                and addr in plan.rows
                and plan.rows[addr].last_seen != before[addr]
            ]
            if gone:
                db.execute(
                    sa.delete(t).where(
                        t.c.host == sa.bindparam("h"), t.c.port == sa.bindparam("p")
                    ),
                    [{"h": h, "p": p} for h, p in gone],
                )
            if touched:
                db.execute(
                    sa.update(t)
                    .where(t.c.host == sa.bindparam("h"), t.c.port == sa.bindparam("p"))
                    .values(last_seen=sa.bindparam("seen")),
                    [{"h": h, "p": p, "seen": plan.rows[(h, p)].last_seen} for h, p in touched],
                )
            if new:
                db.execute(
                    sa.insert(t),
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
        return rng().sample(rows, min(count, len(rows)))

    def _recent(self, since: float) -> list[PeerRecord]:
        query = (
            sa.select(peers_table)
            .where(peers_table.c.last_seen >= since)
            .order_by(peers_table.c.last_seen.desc())
            .limit(self.limits.max_addresses)
        )
        with self._engine.connect() as db:
            return [_record(r) for r in db.execute(query).all()]


def _add_group_columns(engine: sa.Engine) -> None:
    """Give a peers table made before the address bounds its two group columns (both back
    ends take ``ALTER TABLE ... ADD COLUMN`` with a default) and fill in the address groups."""
    columns = {c["name"] for c in sa.inspect(engine).get_columns("peers")}
    missing = [name for name in ("source_group", "addr_group") if name not in columns]
    if not missing:
        return
    with engine.begin() as db:
        for name in missing:
            db.execute(
                sa.text(f"ALTER TABLE peers ADD COLUMN {name} VARCHAR(64) NOT NULL DEFAULT ''")
            )
        hosts = [h for (h,) in db.execute(sa.select(peers_table.c.host).distinct()).all()]
        if hosts:
            db.execute(
                sa.update(peers_table)
                .where(peers_table.c.host == sa.bindparam("h"))
                .values(addr_group=sa.bindparam("g")),
                [{"h": h, "g": address_group(h)} for h in hosts],
            )
    logger.info("peers table: added columns %s", ", ".join(missing))
