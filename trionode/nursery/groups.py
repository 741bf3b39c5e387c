"""Unwrapping exception groups at the API edge, in one tested place.

trio nurseries always raise ``ExceptionGroup`` (strict exception groups). Inside a component
that is right: several tasks can fail at once. At the edge of an API, a caller that expects
``RestartIntensityExceeded`` or ``ConnectionError`` should get that exception, not a group of
one wrapped in a group of one. Groups that really hold several exceptions are left alone:
flattening them would hide failures.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator

__all__ = ["unwrap_exception_group", "unwrapped_exception_groups"]


def unwrap_exception_group(exc: BaseException) -> BaseException:
    """Return the single exception inside ``exc`` if it is a (nested) group of exactly one.

    Any other exception, including a group that holds several exceptions anywhere inside it,
    is returned unchanged.
    """
    while isinstance(exc, BaseExceptionGroup) and len(exc.exceptions) == 1:
        exc = exc.exceptions[0]
    return exc


@contextlib.contextmanager
def unwrapped_exception_groups() -> Iterator[None]:
    """Re-raise a group of one exception escaping the block as that exception itself.

    The inner exception keeps its traceback, ``__cause__`` and ``__context__``: it is re-raised
    without being chained to the group that carried it, so tracebacks read as if no nursery
    had been in the way. Use it around the outermost nursery of a public API::

        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                ...
    """
    try:
        yield
    except BaseExceptionGroup as group:
        inner = unwrap_exception_group(group)
        if inner is group:
            raise
        context = inner.__context__
        try:
            raise inner  # noqa: B904 - chaining to the carrier group is what we avoid
        finally:
            inner.__context__ = context
            del inner, context, group
