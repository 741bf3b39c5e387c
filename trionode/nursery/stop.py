"""The cooperative stop request a child can opt into."""

from __future__ import annotations

import trio

__all__ = ["StopSignal"]


class StopSignal:
    """A read-only view of "please finish what you are doing and return".

    A child function that declares a keyword parameter ``stopping`` receives one. When the
    supervisor stops it, the signal is set first and the child has ``shutdown_timeout`` seconds
    to return on its own (say, after committing the block it is writing) before it is cancelled.
    Children that do not declare ``stopping`` are cancelled straight away: for them
    cancellation is the graceful stop, and their ``finally`` blocks do the cleanup.
    """

    def __init__(self) -> None:
        self._event = trio.Event()

    def is_set(self) -> bool:
        """True once a stop was requested."""
        return self._event.is_set()

    async def wait(self) -> None:
        """Return once a stop was requested."""
        await self._event.wait()

    def _set(self) -> None:
        self._event.set()

    def __repr__(self) -> str:
        return f"<StopSignal {'set' if self.is_set() else 'clear'}>"
