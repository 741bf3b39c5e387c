"""The supervisor: runs named child tasks, restarts them by policy, stops them in order.

Every child runs inside the supervisor's own nursery, so no child outlives ``Supervisor.run()``.
Each child has one "runner" task that calls the child's function, decides from its policy
whether to call it again, waits the backoff, and keeps the restart intensity in check. The
runner contains the child's failures: a failing child never takes its siblings down; only the
intensity limit ends the whole supervisor.
"""

from __future__ import annotations

import collections
import dataclasses
import inspect
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import trio

from trionode.nursery.errors import ChildReturned, ChildStartFailed, RestartIntensityExceeded
from trionode.nursery.policy import RestartPolicy, backoff_delay
from trionode.nursery.state import ALLOWED_TRANSITIONS, ChildInfo, ChildState
from trionode.nursery.stop import StopSignal

__all__ = ["Supervisor"]

log = logging.getLogger(__name__)

ChildFn = Callable[..., Awaitable[object]]
StateObserver = Callable[[ChildInfo], None]


@dataclasses.dataclass(eq=False)
class _Child:
    """The supervisor's private, mutable record of one child."""

    name: str
    fn: ChildFn
    args: tuple[object, ...]
    policy: RestartPolicy
    takes_task_status: bool
    stop_signal: StopSignal | None
    state: ChildState = ChildState.STARTING
    restart_count: int = 0
    last_exception: BaseException | None = None
    ever_started: bool = False
    stop_requested: bool = False
    scope: trio.CancelScope = dataclasses.field(default_factory=trio.CancelScope)
    done: trio.Event = dataclasses.field(default_factory=trio.Event)
    # Times of the restarts still inside the intensity window, oldest first.
    restart_times: collections.deque[float] = dataclasses.field(default_factory=collections.deque)

    def info(self) -> ChildInfo:
        return ChildInfo(
            name=self.name,
            policy=self.policy,
            state=self.state,
            restart_count=self.restart_count,
            last_exception=self.last_exception,
        )


class _RunStatus:
    """The ``task_status`` handed to one call of a child function.

    Calling ``started()`` marks the child RUNNING and, on the first call only, completes the
    ``start_child`` that is waiting for it.
    """

    def __init__(
        self, supervisor: Supervisor, child: _Child, parent: trio.TaskStatus[Any] | None
    ) -> None:
        self._supervisor = supervisor
        self._child = child
        self._parent = parent
        self.called = False

    def started(self, value: object = None) -> None:
        if self.called:
            raise RuntimeError(f"child {self._child.name!r} called task_status.started() twice")
        self.called = True
        self._child.ever_started = True
        self._supervisor._set_state(self._child, ChildState.RUNNING)
        if self._parent is not None:
            self._parent.started(value)


def _accepts_keyword(fn: ChildFn, name: str) -> bool:
    try:
        parameters = inspect.signature(fn).parameters
    except (TypeError, ValueError):  # some builtins and C callables have no signature
        return False
    param = parameters.get(name)
    return param is not None and param.kind in (
        inspect.Parameter.KEYWORD_ONLY,
        inspect.Parameter.POSITIONAL_OR_KEYWORD,
    )


class Supervisor:
    """Runs named children, restarts them by policy, and stops them in reverse start order.

    Usage::

        sup = Supervisor("farmer")
        async with trio.open_nursery() as nursery:
            await nursery.start(sup.run)
            await sup.start_child("signage-loop", loop, policy=RestartPolicy.PERMANENT)
            ...
            await sup.shutdown()

    ``max_restarts`` restarts of one child within ``within_seconds`` are allowed; the next time
    it ends, the supervisor stops its other children and ``run()`` raises
    :class:`RestartIntensityExceeded`. The delay before a restart starts at ``backoff_initial``,
    doubles for each consecutive restart up to ``backoff_max``, and goes back to
    ``backoff_initial`` once a run lasted ``stable_after`` seconds (default: ``within_seconds``).
    When stopping, each child gets up to ``shutdown_timeout`` seconds for a graceful stop and,
    once cancelled, as long again to finish its cleanup. ``on_change``, if given, is called with
    a fresh :class:`ChildInfo` on every state change; it must not block.

    Intensity is counted per child, so the error always names the child that cannot recover.
    Cancelling ``run()`` from outside is a hard stop: trio cancels all children at once. Use
    :meth:`shutdown` for the ordered stop.
    """

    def __init__(
        self,
        name: str,
        *,
        max_restarts: int = 5,
        within_seconds: float = 60.0,
        backoff_initial: float = 0.5,
        backoff_max: float = 30.0,
        stable_after: float | None = None,
        shutdown_timeout: float = 5.0,
        on_change: StateObserver | None = None,
    ) -> None:
        if max_restarts < 0:
            raise ValueError(f"max_restarts must be >= 0, got {max_restarts}")
        if not within_seconds > 0:
            raise ValueError(f"within_seconds must be > 0, got {within_seconds}")
        if not 0 <= backoff_initial <= backoff_max:
            raise ValueError(
                f"need 0 <= backoff_initial <= backoff_max, got {backoff_initial}, {backoff_max}"
            )
        if not shutdown_timeout >= 0:
            raise ValueError(f"shutdown_timeout must be >= 0, got {shutdown_timeout}")
        self.name = name
        self.max_restarts = max_restarts
        self.within_seconds = within_seconds
        self.backoff_initial = backoff_initial
        self.backoff_max = backoff_max
        self.stable_after = within_seconds if stable_after is None else stable_after
        self.shutdown_timeout = shutdown_timeout
        self._on_change = on_change
        # Insertion order is start order; shutdown walks it backwards.
        self._children: dict[str, _Child] = {}
        self._nursery: trio.Nursery | None = None
        self._closing = False
        self._shutdown_requested = trio.Event()
        self._finished = trio.Event()
        self._fatal: RestartIntensityExceeded | None = None

    def __repr__(self) -> str:
        return f"<Supervisor {self.name!r} children={len(self._children)}>"

    # -- observing -------------------------------------------------------------------------

    @property
    def children(self) -> tuple[ChildInfo, ...]:
        """Snapshots of all known children, in start order.

        Children that ended stay listed (STOPPED or FAILED) until their name is reused, so a
        status command can show what died; TEMPORARY children are forgotten when they end, as
        there can be any number of them over a node's life (peer connections).
        """
        return tuple(child.info() for child in self._children.values())

    def child(self, name: str) -> ChildInfo:
        """A snapshot of the child called ``name``; LookupError if there is none."""
        return self._lookup(name).info()

    @property
    def running(self) -> bool:
        """True while ``run()`` accepts new children."""
        return self._nursery is not None and not self._closing

    # -- lifecycle -------------------------------------------------------------------------

    async def run(
        self, *, task_status: trio.TaskStatus[Supervisor] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Supervise children until :meth:`shutdown`, then stop them all and return.

        Reports itself through ``task_status`` once children can be started. Raises
        :class:`RestartIntensityExceeded` (after stopping the other children) when a child
        keeps failing. A supervisor runs once.
        """
        if self._nursery is not None or self._finished.is_set():
            raise RuntimeError(f"supervisor {self.name!r} can only run once")
        try:
            async with trio.open_nursery() as nursery:
                self._nursery = nursery
                log.debug("supervisor %s: running", self.name)
                task_status.started(self)
                await self._shutdown_requested.wait()
                self._closing = True
                await self._stop_all()
        finally:
            self._closing = True
            self._finished.set()
        if self._fatal is not None:
            raise self._fatal from self._fatal.last_exception
        log.debug("supervisor %s: stopped", self.name)

    def request_shutdown(self) -> None:
        """Ask ``run()`` to stop all children in reverse start order and return; don't wait."""
        self._shutdown_requested.set()

    async def shutdown(self) -> None:
        """Stop all children in reverse start order and wait until ``run()`` has finished.

        Each child gets ``shutdown_timeout`` seconds to stop gracefully before it is
        cancelled. Safe to call more than once and from any task, including a child.
        """
        self.request_shutdown()
        await self._finished.wait()

    # -- children --------------------------------------------------------------------------

    async def start_child(
        self,
        name: str,
        async_fn: ChildFn,
        *args: object,
        policy: RestartPolicy = RestartPolicy.PERMANENT,
    ) -> Any:
        """Start ``async_fn(*args)`` as child ``name`` and return once it is running.

        If ``async_fn`` accepts ``task_status``, this waits until the child calls
        ``task_status.started(value)`` and returns ``value``, like ``nursery.start``; otherwise
        it returns None at once. If it accepts ``stopping``, it gets a :class:`StopSignal`.
        Raises :class:`ChildStartFailed` if the child raises or returns before it started
        (it is then not restarted), ValueError if a live child already has this name, and
        RuntimeError if the supervisor is not running. Works from any task.
        """
        if self._nursery is None or self._closing:
            raise RuntimeError(
                f"supervisor {self.name!r} is not running; cannot start child {name!r}"
            )
        old = self._children.get(name)
        if old is not None:
            if not old.state.is_final:
                raise ValueError(f"supervisor {self.name!r} already has a child named {name!r}")
            del self._children[name]
        child = _Child(
            name=name,
            fn=async_fn,
            args=args,
            policy=policy,
            takes_task_status=_accepts_keyword(async_fn, "task_status"),
            stop_signal=StopSignal() if _accepts_keyword(async_fn, "stopping") else None,
        )
        self._children[name] = child
        return await self._nursery.start(self._supervise, child, name=f"{self.name}/{name}")

    async def stop_child(self, name: str) -> None:
        """Stop child ``name`` (graceful first, then cancelled) and wait until it has ended.

        A stopped child is not restarted. Stopping a child that already ended does nothing.
        """
        await self._stop(self._lookup(name))

    # -- internals -------------------------------------------------------------------------

    def _lookup(self, name: str) -> _Child:
        try:
            return self._children[name]
        except KeyError:
            raise LookupError(f"supervisor {self.name!r} has no child named {name!r}") from None

    def _set_state(self, child: _Child, state: ChildState) -> None:
        if state not in ALLOWED_TRANSITIONS[child.state]:
            raise AssertionError(
                f"supervisor bug: child {child.name!r} cannot go from {child.state} to {state}"
            )
        child.state = state
        log.debug("supervisor %s: child %s is %s", self.name, child.name, state.value)
        if self._on_change is not None:
            try:
                self._on_change(child.info())
            except Exception:
                # An observer (metrics, status display) must not break supervision itself.
                log.exception("supervisor %s: state observer failed", self.name)

    async def _stop_all(self) -> None:
        for child in reversed(list(self._children.values())):
            await self._stop(child)

    async def _stop(self, child: _Child) -> None:
        child.stop_requested = True
        if child.done.is_set():
            return
        if child.stop_signal is not None and child.state is ChildState.RUNNING:
            child.stop_signal._set()
            with trio.move_on_after(self.shutdown_timeout):
                await child.done.wait()
            if child.done.is_set():
                return
            log.warning(
                "supervisor %s: child %s did not stop within %gs of being asked; cancelling it",
                self.name,
                child.name,
                self.shutdown_timeout,
            )
        child.scope.cancel()
        with trio.move_on_after(self.shutdown_timeout):
            await child.done.wait()
        if not child.done.is_set():
            # trio cannot cancel shielded cleanup; all we can do is not let it hold up the rest.
            log.error(
                "supervisor %s: child %s is still cleaning up %gs after it was cancelled; "
                "carrying on without waiting for it",
                self.name,
                child.name,
                self.shutdown_timeout,
            )

    async def _supervise(self, child: _Child, task_status: trio.TaskStatus[Any]) -> None:
        """The runner task of one child: its whole life, all restarts included."""
        try:
            with child.scope:
                await self._restart_loop(child, task_status)
            if not child.ever_started:
                # stop_child() cancelled it while start_child() was still waiting for it.
                self._set_state(child, ChildState.FAILED)
                raise ChildStartFailed(self.name, child.name, "it was stopped before it started")
        finally:
            if not child.state.is_final:
                self._set_state(child, ChildState.STOPPED)
            child.done.set()
            forget = child.policy is RestartPolicy.TEMPORARY or not child.ever_started
            if forget and self._children.get(child.name) is child:
                del self._children[child.name]

    async def _restart_loop(self, child: _Child, task_status: trio.TaskStatus[Any]) -> None:
        consecutive = 0
        parent: trio.TaskStatus[Any] | None = task_status
        while True:
            began = trio.current_time()
            status = _RunStatus(self, child, parent)
            failure = await self._call(child, status)
            if parent is not None and not status.called:
                reason = "returned before calling task_status.started()"
                if failure is not None:
                    reason = f"raised {failure!r}"
                child.last_exception = failure
                self._set_state(child, ChildState.FAILED)
                raise ChildStartFailed(self.name, child.name, reason) from failure
            parent = None

            if child.stop_requested:
                # It ended because we asked it to; whatever it did is not a crash to restart.
                if failure is not None:
                    child.last_exception = failure
                    log.warning(
                        "supervisor %s: child %s raised while stopping: %r",
                        self.name,
                        child.name,
                        failure,
                    )
                    self._set_state(child, ChildState.FAILED)
                return

            if failure is None:
                if child.policy is not RestartPolicy.PERMANENT:
                    log.debug("supervisor %s: child %s finished", self.name, child.name)
                    self._set_state(child, ChildState.STOPPED)
                    return
                failure = ChildReturned(self.name, child.name)
                log.error("%s", failure)
            elif child.policy is RestartPolicy.TEMPORARY:
                child.last_exception = failure
                log.warning("supervisor %s: child %s failed: %r", self.name, child.name, failure)
                self._set_state(child, ChildState.FAILED)
                return
            else:
                log.error(
                    "supervisor %s: child %s failed",
                    self.name,
                    child.name,
                    exc_info=failure,
                )
            child.last_exception = failure

            now = trio.current_time()
            if now - began >= self.stable_after:
                consecutive = 0
            while child.restart_times and child.restart_times[0] <= now - self.within_seconds:
                child.restart_times.popleft()
            if len(child.restart_times) >= self.max_restarts:
                self._give_up(child)
                return
            child.restart_times.append(now)
            child.restart_count += 1
            delay = backoff_delay(
                consecutive, initial=self.backoff_initial, maximum=self.backoff_max
            )
            consecutive += 1
            log.warning(
                "supervisor %s: restarting child %s in %gs (restart %d)",
                self.name,
                child.name,
                delay,
                child.restart_count,
            )
            self._set_state(child, ChildState.RESTARTING)
            await trio.sleep(delay)
            self._set_state(child, ChildState.STARTING)

    async def _call(self, child: _Child, status: _RunStatus) -> BaseException | None:
        """Call the child function once; return the exception it raised, or None if it returned.

        Cancellation is never returned: it propagates, because a cancelled child was stopped.
        """
        kwargs: dict[str, object] = {}
        if child.takes_task_status:
            kwargs["task_status"] = status
        else:
            status.started()
        if child.stop_signal is not None:
            kwargs["stopping"] = child.stop_signal
        try:
            await child.fn(*child.args, **kwargs)
        except Exception as exc:
            return exc
        except BaseExceptionGroup as group:
            # A child with its own nursery can fail while it is being cancelled; the group then
            # holds Cancelled next to the failure. The cancellation wins (the child is being
            # stopped, and Cancelled must reach its scope); the failure is logged, not raised,
            # so it cannot take the siblings down.
            cancelled, rest = group.split(trio.Cancelled)
            if cancelled is None or not isinstance(rest, ExceptionGroup):
                raise
            child.last_exception = rest
            log.warning(
                "supervisor %s: child %s raised while being cancelled: %r",
                self.name,
                child.name,
                rest,
            )
            raise cancelled from None
        return None

    def _give_up(self, child: _Child) -> None:
        """The child hit the intensity limit: fail it, and stop the supervisor with the error."""
        self._set_state(child, ChildState.FAILED)
        error = RestartIntensityExceeded(
            self.name,
            child.name,
            max_restarts=self.max_restarts,
            within_seconds=self.within_seconds,
            last_exception=child.last_exception,
        )
        log.error("%s; stopping all children", error)
        if self._fatal is None:
            self._fatal = error
        self.request_shutdown()
