"""trionode.nursery: named supervision of long-lived trio tasks.

A :class:`Supervisor` runs named children with a :class:`RestartPolicy` (role loops PERMANENT,
peer connections TEMPORARY), limits how often a child may be restarted, stops children in
reverse start order, and shows each child's :class:`ChildState`. Exception groups are unwrapped
at API edges with :func:`unwrapped_exception_groups`.
"""

from trionode.nursery.errors import (
    ChildReturned,
    ChildStartFailed,
    RestartIntensityExceeded,
    SupervisorError,
)
from trionode.nursery.groups import unwrap_exception_group, unwrapped_exception_groups
from trionode.nursery.policy import RestartPolicy, backoff_delay
from trionode.nursery.state import ChildInfo, ChildState
from trionode.nursery.stop import StopSignal
from trionode.nursery.supervisor import Supervisor

__all__ = [
    "ChildInfo",
    "ChildReturned",
    "ChildStartFailed",
    "ChildState",
    "RestartIntensityExceeded",
    "RestartPolicy",
    "StopSignal",
    "Supervisor",
    "SupervisorError",
    "backoff_delay",
    "unwrap_exception_group",
    "unwrapped_exception_groups",
]
