"""Child states, the transitions allowed between them, and the snapshot observers see.

A child's life, as a table (anything not listed is a bug in the supervisor)::

    STARTING   -> RUNNING     it called task_status.started() (or takes no task_status)
    STARTING   -> RESTARTING  it ended before started() on a restart, and will be restarted
    RUNNING    -> RESTARTING  it ended and its policy restarts it (after a backoff)
    RESTARTING -> STARTING    the backoff is over, it is being called again
    any live   -> STOPPED     it was stopped, or ended and its policy does not restart it
    any live   -> FAILED      it raised and is not restarted (TEMPORARY policy, or the restart
                              intensity limit was hit)

STOPPED and FAILED are final.
"""

from __future__ import annotations

import dataclasses
import enum

from trionode.nursery.policy import RestartPolicy

__all__ = ["ChildInfo", "ChildState"]


class ChildState(enum.Enum):
    """Where a supervised child is in its life."""

    STARTING = "starting"
    RUNNING = "running"
    RESTARTING = "restarting"
    STOPPED = "stopped"
    FAILED = "failed"

    @property
    def is_final(self) -> bool:
        """True once the child will never run again."""
        return self in (ChildState.STOPPED, ChildState.FAILED)


_LIVE = (ChildState.STARTING, ChildState.RUNNING, ChildState.RESTARTING)

ALLOWED_TRANSITIONS: dict[ChildState, frozenset[ChildState]] = {
    ChildState.STARTING: frozenset(
        {ChildState.RUNNING, ChildState.RESTARTING, ChildState.STOPPED, ChildState.FAILED}
    ),
    ChildState.RUNNING: frozenset({ChildState.RESTARTING, ChildState.STOPPED, ChildState.FAILED}),
    ChildState.RESTARTING: frozenset({ChildState.STARTING, ChildState.STOPPED, ChildState.FAILED}),
    ChildState.STOPPED: frozenset(),
    ChildState.FAILED: frozenset(),
}


@dataclasses.dataclass(frozen=True)
class ChildInfo:
    """An immutable snapshot of one child, safe to keep, log or serve to a status command.

    ``restart_count`` counts restarts since the child was first started. ``last_exception`` is
    the most recent reason it ended (None while it never has); for a PERMANENT child that
    returned it is a :class:`~trionode.nursery.errors.ChildReturned`.
    """

    name: str
    policy: RestartPolicy
    state: ChildState
    restart_count: int
    last_exception: BaseException | None
