"""One door for blocking work: every proof check, decode and store transaction leaves the event
loop through :func:`run_blocking`.

A node runs it in worker threads (:class:`ThreadExecutor`, the default). The network simulator
swaps in :class:`InlineExecutor`, which runs the function at once in the calling task: a run's
result then depends only on its seed, never on when a worker thread happened to finish. The
executor is a context variable, so a simulator sets it once in its root task and every task the
nodes spawn below inherits it, while other ``trio.run`` calls in the same process keep threads.
"""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Callable, Iterator
from typing import Any, Protocol, TypeVar

import trio

T = TypeVar("T")


class Executor(Protocol):
    #: Whether calls run beside the event loop (worker threads), so that a thread may hand
    #: the loop something while it goes on (not so when a call runs inline in its task).
    concurrent: bool

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        limiter: trio.CapacityLimiter | None = None,
        abandon_on_cancel: bool = False,
    ) -> T: ...


class ThreadExecutor:
    """Runs ``fn`` in a trio worker thread (bounded by ``limiter`` when given)."""

    concurrent = True

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        limiter: trio.CapacityLimiter | None = None,
        abandon_on_cancel: bool = False,
    ) -> T:
        return await trio.to_thread.run_sync(
            fn, *args, limiter=limiter, abandon_on_cancel=abandon_on_cancel
        )


class InlineExecutor:
    """Runs ``fn`` in the calling task, then yields once so the call is still a checkpoint (a
    caller that loops over blocking work must not starve the other tasks of its run)."""

    concurrent = False

    def __init__(self) -> None:
        self.calls = 0

    async def run(
        self,
        fn: Callable[..., T],
        *args: Any,
        limiter: trio.CapacityLimiter | None = None,
        abandon_on_cancel: bool = False,
    ) -> T:
        self.calls += 1
        result = fn(*args)
        await trio.lowlevel.checkpoint()
        return result


_THREADS = ThreadExecutor()
_EXECUTOR: contextvars.ContextVar[Executor | None] = contextvars.ContextVar(
    "trionode_executor", default=None
)


def current_executor() -> Executor:
    return _EXECUTOR.get() or _THREADS


@contextlib.contextmanager
def using_executor(executor: Executor) -> Iterator[Executor]:
    """Run blocking work through ``executor`` in this context (and the tasks spawned from it)."""
    token = _EXECUTOR.set(executor)
    try:
        yield executor
    finally:
        _EXECUTOR.reset(token)


async def run_blocking(
    fn: Callable[..., T],
    *args: Any,
    limiter: trio.CapacityLimiter | None = None,
    abandon_on_cancel: bool = False,
) -> T:
    """Run blocking ``fn(*args)`` off the event loop through the current executor."""
    return await current_executor().run(
        fn, *args, limiter=limiter, abandon_on_cancel=abandon_on_cancel
    )
