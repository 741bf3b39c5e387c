"""The ban list: IP addresses refused before the TLS handshake (PROTOCOL.md, Bans)."""

from __future__ import annotations

import functools
import ipaddress
import logging
from collections.abc import Callable

__all__ = ["BanList", "is_loopback"]

logger = logging.getLogger(__name__)


@functools.lru_cache(maxsize=4096)
def is_loopback(host: str) -> bool:
    """Memoised (bounded): the peer manager asks it for every candidate at every round."""
    try:
        return ipaddress.ip_address(host.split("%", 1)[0]).is_loopback
    except ValueError:
        return False


class BanList:
    """Bounded map IP -> ban expiry.

    When full, the ban that ends soonest is dropped to make room, so a flood of distinct
    addresses costs bounded memory and the longest bans survive. Loopback addresses are banned
    like any other unless ``exempt_loopback`` is set (off by default: tests run on 127.0.0.1 and
    must see bans work).
    """

    def __init__(
        self,
        clock: Callable[[], float],
        *,
        max_entries: int = 10_000,
        exempt_loopback: bool = False,
    ) -> None:
        if max_entries < 1:
            raise ValueError("max_entries must be >= 1")
        self._clock = clock
        self._max = max_entries
        self.exempt_loopback = exempt_loopback
        self._until: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._until)

    def ban(self, host: str, seconds: float, reason: str) -> None:
        """Ban ``host`` for ``seconds`` (extends, never shortens, an existing ban)."""
        if seconds <= 0:
            return
        if self.exempt_loopback and is_loopback(host):
            logger.info("not banning loopback %s (exempt): %s", host, reason)
            return
        now = self._clock()
        until = max(now + seconds, self._until.get(host, 0.0))
        if host not in self._until and len(self._until) >= self._max:
            self._expire(now)
            if len(self._until) >= self._max:
                del self._until[min(self._until, key=self._until.__getitem__)]
        self._until[host] = until
        logger.warning("banned %s for %.0f s: %s", host, seconds, reason)

    def unban(self, host: str) -> None:
        self._until.pop(host, None)

    def is_banned(self, host: str) -> bool:
        until = self._until.get(host)
        if until is None:
            return False
        if self._clock() >= until:
            del self._until[host]
            return False
        return True

    def _expire(self, now: float) -> None:
        for host in [h for h, t in self._until.items() if t <= now]:
            del self._until[host]
