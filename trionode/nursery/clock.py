"""Wall-clock time and randomness for node code, replaceable per context.

A node reads the wall clock (block timestamps, peer ages, pool deadlines) and draws random
choices (which peer to ask, which addresses to share) only through :func:`wall_time` and
:func:`rng`. By default they are ``time.time`` and one process-wide ``random.Random``. The
network simulator sets both in its root task (:func:`using_world`): wall time then follows
trio's virtual clock plus each node's skew, and every random choice comes from the run's seed,
so a run replays exactly.
"""

from __future__ import annotations

import contextlib
import contextvars
import random
import time
from collections.abc import Callable, Iterator
from typing import Any

_SYSTEM_RNG = random.Random()
_WALL: contextvars.ContextVar[Callable[[], float] | None] = contextvars.ContextVar(
    "trionode_wall_clock", default=None
)
_RNG: contextvars.ContextVar[random.Random | None] = contextvars.ContextVar(
    "trionode_rng", default=None
)


def wall_time() -> float:
    """Seconds since the epoch, as this context's world sees them."""
    clock = _WALL.get()
    return time.time() if clock is None else clock()


def rng() -> random.Random:
    """This context's source of random choices (not for keys or secrets)."""
    return _RNG.get() or _SYSTEM_RNG


@contextlib.contextmanager
def using_world(
    *, wall: Callable[[], float] | None = None, rand: random.Random | None = None
) -> Iterator[None]:
    """Use ``wall`` as the wall clock and ``rand`` for random choices in this context and the
    tasks spawned from it (``None`` keeps the current one)."""
    tokens: list[tuple[Any, Any]] = []
    if wall is not None:
        tokens.append((_WALL, _WALL.set(wall)))
    if rand is not None:
        tokens.append((_RNG, _RNG.set(rand)))
    try:
        yield
    finally:
        for var, token in reversed(tokens):
            var.reset(token)
