"""Which addresses the peer table admits and which it evicts: the addrman-style bounds.

Pure policy, no I/O: :class:`AdmissionPlan` holds the table's rows in memory while one batch of
announced addresses is admitted (inside one write transaction of
:class:`~trionode.storage.peer_store.PeerStore`), and says which rows to add, touch and evict.
The bounds are described in :mod:`trionode.storage.peer_store`.
"""

from __future__ import annotations

import functools
import heapq
import ipaddress
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass

__all__ = [
    "MAX_PEERS",
    "OPERATOR_SOURCE",
    "Addr",
    "AddressLimits",
    "AdmissionPlan",
    "AdmitResult",
    "AdmitRow",
    "address_group",
    "clean_addresses",
]

#: Default bound on the table (AddressLimits.max_addresses).
MAX_PEERS = 20_000
#: The source of addresses the operator gave (config ``peers``), not a peer.
OPERATOR_SOURCE = "operator"


@functools.lru_cache(maxsize=4096)
def address_group(host: str) -> str:
    """The network a host belongs to (IPv4 /16, IPv6 /32): outbound connections are spread
    over groups, and the address table's quotas count per group. Memoised (bounded): the
    peer manager asks it for every candidate at every round, and parsing is the cost."""
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


def clean_addresses(
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
class AdmitRow:
    source: str
    group: str
    last_seen: float
    tried: bool


class AdmissionPlan:
    """The address table in memory while one batch is admitted (the rows are at most
    ``max_addresses``; a batch at most ``max_per_reply``). Counts are built up front; the
    oldest-first heaps only for the (source, group) pairs an eviction needs."""

    def __init__(self, limits: AddressLimits, rows: dict[Addr, AdmitRow]) -> None:
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

    def _count(self, addr: Addr, row: AdmitRow, delta: int) -> None:
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

    def _note(self, addr: Addr, row: AdmitRow) -> None:
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
        new = AdmitRow(source, group, now, False)
        self.group_counts(group)  # counted before the row exists, then kept by _count
        self.rows[addr] = new
        self._count(addr, new, +1)
        self._of_source[source].append(addr)
        self._of_group[group].append(addr)
        self._note(addr, new)
        result.added += 1
