"""Fair connection slots (issue 10, attack 6): who may start a connection set-up, and how
refusals are logged.

Rules (docs/protocol.md section 1), checked on the raw socket before TLS:

- a banned address is refused;
- connection *set-ups* in progress (TCP accepted until the Handshake completed) are capped in
  total, per address and per address group; a set-up holds its slot at most the handshake
  deadline (the transport's set-up timeout and the node's handshake deadline are the same);
- established *inbound* connections are capped in total (``max_inbound``), per address and per
  group, checked before TLS and again when the handshake completes.

Address groups, addrman-style: IPv4 /24, IPv6 /48, an IPv4-mapped IPv6 address is its IPv4
address. Every loopback address is a group of its own: all of 127.0.0.0/8 is one machine, and
tests (and devnets) give each local peer its own loopback address, so 127.0.0.2 must not share
the fate of 127.0.0.1.

Refusals are counted, not logged one by one: :class:`RefusalLog` writes one WARNING line per
interval with the count, the reasons and the busiest addresses (an attacker reopening sockets as
fast as they are closed wrote 19,000 lines in 40 s before).
"""

from __future__ import annotations

import collections
import ipaddress
import logging
from collections.abc import Callable

from trionode.peers.limits import PeerLimits
from trionode.peers.transport import SetupSlot

__all__ = ["Admission", "RefusalLog", "address_group", "normalize_address"]

logger = logging.getLogger(__name__)

_V4_GROUP = 24
_V6_GROUP = 48


def normalize_address(host: str) -> str:
    """The canonical text of an IP address (IPv4-mapped IPv6 as IPv4; zone dropped)."""
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip)


def address_group(host: str) -> str:
    """The group an address's connection slots are shared with (see the module docstring)."""
    try:
        ip = ipaddress.ip_address(normalize_address(host))
    except ValueError:
        return f"name:{host}"
    if ip.is_loopback:
        return str(ip)
    prefix = _V4_GROUP if ip.version == 4 else _V6_GROUP
    return str(ipaddress.ip_network(f"{ip}/{prefix}", strict=False))


class RefusalLog:
    """Counts refused or failed connection attempts; :meth:`flush` logs one summary line."""

    def __init__(self) -> None:
        self.total = 0  # since start, for tests and metrics
        self._reasons: collections.Counter[str] = collections.Counter()
        self._hosts: collections.Counter[str] = collections.Counter()

    def note(self, host: str, reason: str) -> None:
        self.total += 1
        self._reasons[reason] += 1
        if host in self._hosts or len(self._hosts) < 1000:  # bounded: the top few are shown
            self._hosts[host] += 1

    def flush(self, interval: float) -> None:
        """Log what was counted since the last flush (nothing if nothing was)."""
        count = sum(self._reasons.values())
        if not count:
            return
        reasons = ", ".join(f"{n} {r}" for r, n in self._reasons.most_common())
        hosts = ", ".join(f"{h} ({n})" for h, n in self._hosts.most_common(3))
        logger.warning(
            "refused %d connection attempts in the last %.0f s: %s; most from %s",
            count,
            interval,
            reasons,
            hosts,
        )
        self._reasons.clear()
        self._hosts.clear()


class _Slot(SetupSlot):
    def __init__(self, admission: Admission, address: str, group: str) -> None:
        self._admission = admission
        self.address = address
        self.group = group
        self._released = False

    def release(self, failure: str | None = None) -> None:
        if self._released:
            return
        self._released = True
        self._admission._release(self, failure)


class Admission:
    """Set-up slots and inbound caps of one node (see the module docstring).

    ``is_banned(host)`` and ``inbound_hosts()`` (the addresses of the established inbound
    connections) come from the node; ``log`` collects the refusals.
    """

    def __init__(
        self,
        limits: PeerLimits,
        *,
        is_banned: Callable[[str], bool],
        inbound_hosts: Callable[[], list[str]],
    ) -> None:
        self.limits = limits
        self._is_banned = is_banned
        self._inbound_hosts = inbound_hosts
        self.log = RefusalLog()
        self.setups = 0
        self._by_address: collections.Counter[str] = collections.Counter()
        self._by_group: collections.Counter[str] = collections.Counter()

    def admit(self, host: str) -> SetupSlot | None:
        """A set-up slot for a connection from ``host``, or None (refused, counted)."""
        reason = self.refusal(host)
        if reason is not None:
            self.log.note(host, reason)
            return None
        address = normalize_address(host)
        group = address_group(address)
        self.setups += 1
        self._by_address[address] += 1
        self._by_group[group] += 1
        return _Slot(self, address, group)

    def refusal(self, host: str) -> str | None:
        """Why a new connection from ``host`` would be refused now (None: it would not)."""
        limits = self.limits
        if self._is_banned(host):
            return "banned"
        address = normalize_address(host)
        group = address_group(address)
        if self.setups >= limits.max_concurrent_handshakes:
            return "set-ups in total"
        if self._by_address[address] >= limits.max_handshakes_per_address:
            return "set-ups per address"
        if self._by_group[group] >= limits.max_handshakes_per_group:
            return "set-ups per group"
        return self.inbound_refusal(host)

    def inbound_refusal(self, host: str, *, extra: int = 0) -> str | None:
        """Why one more inbound connection from ``host`` would exceed a cap (None: it fits).
        ``extra``: connections about to be counted that are not in ``inbound_hosts`` yet."""
        limits = self.limits
        hosts = [normalize_address(h) for h in self._inbound_hosts()]
        address = normalize_address(host)
        group = address_group(address)
        if len(hosts) + extra >= limits.max_inbound:
            return "inbound in total"
        if sum(1 for h in hosts if h == address) >= limits.max_inbound_per_address:
            return "inbound per address"
        if sum(1 for h in hosts if address_group(h) == group) >= limits.max_inbound_per_group:
            return "inbound per group"
        return None

    def _release(self, slot: _Slot, failure: str | None) -> None:
        self.setups -= 1
        for counter, key in ((self._by_address, slot.address), (self._by_group, slot.group)):
            counter[key] -= 1
            if counter[key] <= 0:
                del counter[key]
        if failure is not None:
            self.log.note(slot.address, failure)
