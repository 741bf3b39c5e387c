"""Restart policies: what a supervisor does when a child ends, and how long it waits first.

The table below is the whole policy. "Returned" means the child's function returned normally,
"raised" that it raised an ``Exception``. Cancellation is neither: a cancelled child was stopped
on purpose and is never restarted or counted as a failure.

=========== ============================== ==========================
policy      returned                       raised
=========== ============================== ==========================
PERMANENT   restart (a daemon that returns restart
            is a bug: logged at ERROR)
TRANSIENT   done (STOPPED)                 restart
TEMPORARY   done (STOPPED)                 done (FAILED, logged at WARNING)
=========== ============================== ==========================

Every restart waits an exponential backoff first and counts towards the restart intensity
limit of the supervisor.
"""

from __future__ import annotations

import enum

__all__ = ["RestartPolicy", "backoff_delay"]


class RestartPolicy(enum.Enum):
    """When a child is restarted. Role loops are PERMANENT, peer connections TEMPORARY."""

    PERMANENT = "permanent"
    TRANSIENT = "transient"
    TEMPORARY = "temporary"

    def restarts_after(self, *, raised: bool) -> bool:
        """Whether a child that ended (by returning, or by raising if ``raised``) is restarted."""
        if self is RestartPolicy.PERMANENT:
            return True
        if self is RestartPolicy.TRANSIENT:
            return raised
        return False


# 2.0 ** 64 is far beyond any sane cap; bounding the exponent keeps the float finite.
_MAX_EXPONENT = 64


def backoff_delay(consecutive_restarts: int, *, initial: float, maximum: float) -> float:
    """Seconds to wait before a restart, given how many restarts came right before it.

    The first restart waits ``initial``, each further consecutive one twice the previous, never
    more than ``maximum``. Backing off keeps a child that fails at once (say, on a database that
    is down) from spinning and flooding the log while it waits for the world to recover.
    """
    if consecutive_restarts < 0:
        raise ValueError(f"consecutive_restarts must be >= 0, got {consecutive_restarts}")
    exponent = min(consecutive_restarts, _MAX_EXPONENT)
    return min(maximum, initial * 2.0**exponent)
