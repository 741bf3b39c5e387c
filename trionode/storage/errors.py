"""Errors of the chain store. Each names what is wrong so an operator can act on it."""

from __future__ import annotations


class StoreError(Exception):
    """Base of every error the chain store raises on purpose."""


class StoreCorruptError(StoreError):
    """The database exists but its content is inconsistent; start-up must stop.

    ``problem`` is a short machine-friendly tag (e.g. ``"height_gap"``), ``str(exc)`` says in
    words what is wrong and where.
    """

    def __init__(self, problem: str, detail: str) -> None:
        super().__init__(f"corrupt chain store ({problem}): {detail}")
        self.problem = problem
        self.detail = detail


class SchemaVersionError(StoreError):
    """The database was written by a different (newer, or unknown) schema version."""

    def __init__(self, found: int, supported: int) -> None:
        if found > supported:
            why = (
                f"database schema version {found} is newer than the version this trionode "
                f"supports ({supported}); upgrade trionode or use another database"
            )
        else:
            why = (
                f"database schema version {found} is older than {supported} and no migration "
                "exists for it"
            )
        super().__init__(why)
        self.found = found
        self.supported = supported
