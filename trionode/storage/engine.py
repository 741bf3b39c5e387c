"""The one async boundary of the store: a SQLAlchemy sync engine run in worker threads.

Every database call goes through :class:`StoreRunner`: ``read(fn, *args)`` and ``write(fn,
*args)`` run ``fn(connection, *args)`` in one ``run_blocking`` hop (a worker thread) inside one
transaction. Writes are serialized (a CapacityLimiter of 1: one writer); reads run concurrently
(up to ``readers`` threads) on their own pooled connections. A hop costs ~0.2 ms, so callers batch:
one hop per block, never one per row.

SQLite (the default, a file in the node's root): WAL journal, so readers see a consistent
snapshot while the writer commits, and ``synchronous=FULL``: each commit fsyncs the WAL, so a
committed block survives a power cut as well as a killed process. ``NORMAL`` would be safe against
a killed process too and commits faster, but may lose the last commits on a power cut; for the
chain we take FULL (the node can refetch blocks, but an operator should never see a block that was
reported committed go missing). pysqlite's own transaction handling is switched off and each
hop emits ``BEGIN`` itself, so reads of several statements see one snapshot. On SQLite the
runner keeps its connections between hops and begins and ends each hop's transaction on the
driver (``StoreRunner._hop``): SQLAlchemy's pool checkout and Transaction objects cost several
times the hop's own BEGIN and COMMIT.

PostgreSQL: ``postgresql+psycopg://user:password@host/db`` (psycopg 3, synchronous). Reads run at
REPEATABLE READ so a multi-statement read is one snapshot; writes at the default READ COMMITTED
are serialized by the single writer.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import trio
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from trionode.nursery.offload import run_blocking
from trionode.storage.direct import wrap_driver_error
from trionode.storage.errors import StoreError

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")

SQLITE_BUSY_TIMEOUT_MS = 30_000


def default_db_path(root: Path, network: str) -> Path:
    """Where a node keeps its chain by default: ``<root>/db/blockchain_<network>.sqlite``."""
    return Path(root) / "db" / f"blockchain_{network}.sqlite"


def default_db_url(root: Path, network: str) -> str:
    """The SQLAlchemy URL of :func:`default_db_path`."""
    return f"sqlite:///{default_db_path(root, network)}"


def check_db_url(url: str) -> URL:
    """Parse ``url`` and check it names a back end the stores run on; ValueError says why."""
    try:
        parsed = make_url(url)
    except ArgumentError as exc:
        raise ValueError(f"not a database URL: {url!r} ({exc})") from None
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        database = parsed.database or ""
        if database in ("", ":memory:") or database.startswith("file::memory:"):
            raise ValueError("an in-memory SQLite database cannot be shared between threads")
        return parsed
    if backend == "postgresql":
        if parsed.get_driver_name() != "psycopg":
            raise ValueError("PostgreSQL URLs must use psycopg 3: postgresql+psycopg://...")
        return parsed
    raise ValueError(
        f"unsupported database URL {parsed.render_as_string(hide_password=True)!r} "
        "(sqlite:///PATH or postgresql+psycopg://USER:PASS@HOST/DB)"
    )


def make_engine(url: str, *, pool_size: int = 5) -> Engine:
    """Create the sync engine for ``url`` (``sqlite:///path`` or ``postgresql+psycopg://...``).

    Raises ValueError for an in-memory SQLite URL (each thread would get its own empty database)
    and for other back ends than SQLite and PostgreSQL via psycopg (:func:`check_db_url`).
    """
    parsed = check_db_url(url)
    if parsed.get_backend_name() == "sqlite":
        Path(parsed.database or "").parent.mkdir(parents=True, exist_ok=True)
        engine = create_engine(
            parsed,
            pool_size=pool_size,
            max_overflow=0,
            connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000},
        )
        event.listen(engine, "connect", _sqlite_on_connect)
        event.listen(engine, "begin", _sqlite_on_begin)
        return engine
    return create_engine(parsed, pool_size=pool_size, max_overflow=0, pool_pre_ping=True)


def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    # Take transaction control away from pysqlite (it delays BEGIN until the first write, so a
    # read of several statements would not be one snapshot); the "begin" hook below emits BEGIN.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("PRAGMA journal_mode=WAL")
        cursor.execute("PRAGMA synchronous=FULL")
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        cursor.execute("PRAGMA foreign_keys=ON")
    finally:
        cursor.close()


def _sqlite_on_begin(conn: Connection) -> None:
    # Straight to the driver: BEGIN returns no rows and needs none of SQLAlchemy's statement
    # machinery (events, result set-up), which cost as much again as an empty transaction
    # (every store hop begins one; a node makes thousands of hops). The runner's hops begin
    # on the driver themselves; a statement run through SQLAlchemy inside one then finds the
    # transaction open, and SQLAlchemy's own (auto)begin must not begin a second.
    driver = conn.connection.driver_connection
    assert isinstance(driver, sqlite3.Connection)
    if not driver.in_transaction:
        driver.execute("BEGIN")


def _driver_call(call: Callable[..., object], *args: Any) -> None:
    """A transaction statement on the driver, its error raised as SQLAlchemy's wrapper (the
    class the stores' callers catch, as when SQLAlchemy ran it)."""
    try:
        call(*args)
    except sqlite3.Error as exc:
        raise wrap_driver_error(" ".join(map(str, args)) or call.__name__, (), exc) from exc


class StoreRunner:
    """Runs sync database functions in worker threads: many readers, one writer."""

    def __init__(self, engine: Engine, *, readers: int = 4) -> None:
        if readers < 1:
            raise ValueError("readers must be at least 1")
        self.engine = engine
        self._read_limiter = trio.CapacityLimiter(readers)
        self._write_limiter = trio.CapacityLimiter(1)
        self._read_options: dict[str, Any] = {}
        if engine.dialect.name == "postgresql":
            self._read_options = {"isolation_level": "REPEATABLE READ"}
        # SQLite: connections stay checked out between hops (at most readers + 1 at once, the
        # limiters' bound, within the pool's size). A checkout and its return (the pool's reset
        # rolls back) cost twice a hop's own BEGIN and COMMIT, and a node makes thousands of
        # hops. list.append and list.pop are atomic, so worker threads share the list as it is.
        # Not for PostgreSQL: the pool's pre-ping at checkout is what notices a server that
        # went away.
        self._keep = engine.dialect.name == "sqlite"
        self._idle: list[tuple[Connection, sqlite3.Connection]] = []
        self._closed = False

    @property
    def dialect(self) -> str:
        return self.engine.dialect.name

    @property
    def url(self) -> str:
        """The database URL, password included (to tell whether two stores share a database)."""
        return self.engine.url.render_as_string(hide_password=False)

    @property
    def where(self) -> str:
        """The URL with any password hidden, for logs."""
        return self.engine.url.render_as_string(hide_password=True)

    async def read(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` in a worker thread inside one read transaction (rolled back)."""
        self._check_open()
        return await run_blocking(self._run_read, fn, args, limiter=self._read_limiter)

    async def read_then(
        self,
        fn: Callable[..., R],
        args: tuple[Any, ...],
        then: Callable[[R], T],
        *,
        limiter: trio.CapacityLimiter,
        read_done: trio.Event,
    ) -> T:
        """``then(fn(conn, *args))`` in one worker thread (under ``limiter``): ``fn`` inside one
        read transaction as :meth:`read`, then ``then`` in the same thread once the transaction
        ended. ``read_done`` is set, and the reader's slot given back, as soon as the read
        ended (or failed, or never ran), while ``then`` goes on: the caller may act on it (a
        lock held for the read) without ``then`` waiting for the event loop. One thread
        hand-off where a read and work on what it read would take two."""
        self._check_open()
        slot = object()
        await self._read_limiter.acquire_on_behalf_of(slot)
        token = trio.lowlevel.current_trio_token()
        ran = False

        def done() -> None:
            self._read_limiter.release_on_behalf_of(slot)
            read_done.set()

        def work() -> T:
            nonlocal ran
            ran = True
            try:
                got = self._run_read(fn, args)
            finally:
                # Not waiting for the loop: queued before this thread's own completion, so
                # it has run by the time the caller resumes.
                token.run_sync_soon(done)
            return then(got)

        try:
            return await run_blocking(work, limiter=limiter)
        finally:
            if not ran:  # cancelled before a thread took it
                done()

    async def write(self, fn: Callable[..., T], *args: Any) -> T:
        """Run ``fn(conn, *args)`` in the writer thread inside one transaction, then commit.

        If ``fn`` raises, nothing of it is committed. The call is not abandoned on cancellation:
        it returns once the transaction has committed or rolled back, so the caller's view of
        the database never runs ahead of or behind it.
        """
        self._check_open()
        return await run_blocking(self._run_write, fn, args, limiter=self._write_limiter)

    def _run_read(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._keep:
            return self._hop(fn, args, commit=False)
        with self.engine.connect() as conn:
            if self._read_options:
                conn = conn.execution_options(**self._read_options)
            with conn.begin() as trans:
                try:
                    return fn(conn, *args)
                finally:
                    trans.rollback()

    def _run_write(self, fn: Callable[..., T], args: tuple[Any, ...]) -> T:
        if self._keep:
            return self._hop(fn, args, commit=True)
        with self.engine.begin() as conn:
            return fn(conn, *args)

    def _hop(self, fn: Callable[..., T], args: tuple[Any, ...], *, commit: bool) -> T:
        """One SQLite hop on a kept connection, its transaction begun and ended on the driver
        (SQLAlchemy's Transaction objects and events cost more than the BEGIN and COMMIT).
        If ``fn`` ran a statement through SQLAlchemy, SQLAlchemy began a transaction of its
        own around the driver's (the begin hook adds no BEGIN) and ends it, so it never
        thinks one is open between hops."""
        conn, driver = self._checkout()
        try:
            _driver_call(driver.execute, "BEGIN")
            try:
                result = fn(conn, *args)
            except BaseException:
                if conn.in_transaction():
                    conn.rollback()
                else:
                    _driver_call(driver.rollback)
                raise
            if conn.in_transaction():
                if commit:
                    conn.commit()
                else:
                    conn.rollback()
            else:
                _driver_call(driver.commit if commit else driver.rollback)
            return result
        finally:
            self._checkin(conn, driver)

    def _checkout(self) -> tuple[Connection, sqlite3.Connection]:
        try:
            return self._idle.pop()
        except IndexError:
            pass
        conn = self.engine.connect()
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        return conn, driver

    def _checkin(self, conn: Connection, driver: sqlite3.Connection) -> None:
        # A connection whose transaction did not end (its rollback failed) goes back to the
        # pool, which resets it; so does any connection once the runner is closed.
        if self._closed or conn.invalidated or conn.in_transaction() or driver.in_transaction:
            conn.close()
        else:
            self._idle.append((conn, driver))

    def _dispose(self) -> None:
        while self._idle:
            self._idle.pop()[0].close()
        self.engine.dispose()

    def _check_open(self) -> None:
        if self._closed:
            raise StoreError("the store is closed")

    def close_now(self) -> None:
        """Dispose of the engine without waiting (when nothing can be running, e.g. on error)."""
        self._closed = True
        self._dispose()

    async def aclose(self) -> None:
        """Close the pooled connections (after a running write has finished); idempotent."""
        if self._closed:
            return
        self._closed = True
        await run_blocking(self._dispose, limiter=self._write_limiter)
