"""Errors of the supervision library, each saying whose fault it is.

Misuse by the caller (a duplicate child name, an unknown name, starting a child on a supervisor
that is not running) raises the built-in ``ValueError``, ``LookupError`` or ``RuntimeError``: it is
a local bug. The classes here report what a *child* did.
"""

from __future__ import annotations

__all__ = [
    "ChildReturned",
    "ChildStartFailed",
    "RestartIntensityExceeded",
    "SupervisorError",
]


class SupervisorError(Exception):
    """Base class: something a supervised child did made supervision give up on it."""


class ChildStartFailed(SupervisorError):
    """A child raised or returned before it called ``task_status.started()``.

    Raised by ``Supervisor.start_child`` (with the child's exception as ``__cause__``). A child
    that cannot start is not restarted: the caller asked for it and should hear why it failed.
    """

    def __init__(self, supervisor: str, child: str, reason: str) -> None:
        super().__init__(f"supervisor {supervisor!r}: child {child!r} failed to start: {reason}")
        self.supervisor = supervisor
        self.child = child


class ChildReturned(SupervisorError):
    """Recorded (not raised) when a PERMANENT child returns: a daemon must run until stopped."""

    def __init__(self, supervisor: str, child: str) -> None:
        super().__init__(
            f"supervisor {supervisor!r}: permanent child {child!r} returned; "
            "a daemon must run until it is stopped"
        )
        self.supervisor = supervisor
        self.child = child


class RestartIntensityExceeded(SupervisorError):
    """A child needed more than ``max_restarts`` restarts within ``within_seconds``.

    Raised out of ``Supervisor.run()`` after the other children were stopped, with the child's
    last exception as ``__cause__``. It means the child cannot recover by restarting, so the
    supervisor (and whatever owns it) must stop rather than spin.
    """

    def __init__(
        self,
        supervisor: str,
        child: str,
        *,
        max_restarts: int,
        within_seconds: float,
        last_exception: BaseException | None,
    ) -> None:
        super().__init__(
            f"supervisor {supervisor!r}: child {child!r} ended again after {max_restarts} "
            f"restarts within {within_seconds:g}s, giving up; last exception: {last_exception!r}"
        )
        self.supervisor = supervisor
        self.child = child
        self.max_restarts = max_restarts
        self.within_seconds = within_seconds
        self.last_exception = last_exception
        self.__cause__ = last_exception
