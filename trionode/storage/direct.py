"""Hot statements run straight on SQLite's driver: compiled once, executed on its cursor.

SQLAlchemy's per-statement machinery (compiled-cache lookup, execution context, parameter and
result processing) costs 10-30 microseconds of Python per statement, several times SQLite's own
work for the small statements of a block commit, a block or coin lookup, or a peer-table
update; a node makes tens of thousands of them, and the simulator runs 50 nodes in one
process. A :class:`Prepared` statement is a Core statement compiled once for SQLite and run on
the DBAPI connection under the caller's SQLAlchemy connection: the same connection, so the
same transaction the store runner began, and the same SQL SQLAlchemy would have sent. Bind
and result processors of the compiled statement are applied as SQLAlchemy applies them (on
SQLite only ``Boolean`` has any), and a driver error is raised as SQLAlchemy's wrapper of it
(an ``IntegrityError`` stays an ``IntegrityError``). On any other back end
(PostgreSQL) the statement goes through ``conn.execute`` unchanged.

A Prepared is built once, at import: a value written into its statement is a constant of it,
every other value is a named bind parameter given at each call. Expanding ``IN`` parameters
are expanded here, one SQL text per list length, cached.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Mapping, Sequence
from typing import Any, cast

from sqlalchemy import Connection, LargeBinary
from sqlalchemy.exc import DBAPIError, StatementError
from sqlalchemy.sql.expression import Executable

Params = Mapping[str, Any]
_Row = tuple[Any, ...]


class Prepared:
    """One Core statement, executed directly on SQLite (see the module docstring)."""

    def __init__(self, stmt: Executable) -> None:
        self.stmt = stmt
        self._compiled_for: object = None  # the dialect class compiled for
        self._sql = ""
        self._names: tuple[str, ...] = ()
        self._defaults: dict[str, Any] = {}
        self._binds: dict[str, Callable[[Any], Any]] = {}
        self._expanding: frozenset[str] = frozenset()
        self._results: list[tuple[int, Callable[[Any], Any]]] = []
        self._expanded: dict[tuple[int, ...], str] = {}

    # -- the calls -------------------------------------------------------------------------

    def all(self, conn: Connection, params: Params | None = None) -> list[Any]:
        """Every row (tuples on SQLite, Rows elsewhere: both unpack alike)."""
        driver = self._driver(conn)
        bound = None if driver is None else self._bind(params or {})
        if driver is None or bound is None:
            return list(conn.execute(self.stmt, dict(params or {})))
        sql, args = bound
        rows: list[_Row] = self._run(driver, sql, args).fetchall()
        if self._results:
            rows = [self._process(row) for row in rows]
        return rows

    def scalar(self, conn: Connection, params: Params | None = None) -> Any:
        """The first column of the first row; None without rows."""
        driver = self._driver(conn)
        bound = None if driver is None else self._bind(params or {})
        if driver is None or bound is None:
            return conn.execute(self.stmt, dict(params or {})).scalar()
        sql, args = bound
        row = self._run(driver, sql, args).fetchone()
        if row is None:
            return None
        return self._process(row)[0] if self._results else row[0]

    def run(self, conn: Connection, params: Params | None = None) -> int:
        """Execute a statement without rows; the driver's row count."""
        driver = self._driver(conn)
        bound = None if driver is None else self._bind(params or {})
        if driver is None or bound is None:
            return int(conn.execute(self.stmt, dict(params or {})).rowcount)
        sql, args = bound
        return int(self._run(driver, sql, args).rowcount)

    def many(self, conn: Connection, rows: Sequence[Params]) -> None:
        """Execute once per parameter set (``executemany``; no expanding parameters)."""
        if not rows:
            return
        driver = self._driver(conn)
        if driver is None:
            conn.execute(self.stmt, [dict(r) for r in rows])
            return
        assert not self._expanding, "executemany takes no expanding IN parameters"
        sql = self._sql
        args = [self._args(r) for r in rows]
        try:
            driver.executemany(sql, args)
        except sqlite3.Error as exc:
            raise wrap_driver_error(sql, args, exc) from exc

    # -- SQLite ----------------------------------------------------------------------------

    def _driver(self, conn: Connection) -> sqlite3.Connection | None:
        dialect = conn.dialect
        if dialect.name != "sqlite":
            return None
        if self._compiled_for is not type(dialect):
            self._compile(dialect)
        driver = conn.connection.driver_connection
        assert isinstance(driver, sqlite3.Connection)
        return driver

    def _compile(self, dialect: Any) -> None:
        compiled: Any = cast(Any, self.stmt).compile(dialect=dialect)
        if compiled.literal_execute_params:
            raise ValueError(f"literal-execute parameters cannot be prepared: {self.stmt}")
        if dialect.paramstyle != "qmark" or compiled.positiontup is None:
            raise ValueError(f"expected qmark parameters from {dialect.name}")
        self._sql = compiled.string
        self._names = tuple(compiled.positiontup)
        # Values written into the statement (``values(failures=0)``) are its constants.
        self._defaults = {
            name: bind.effective_value for name, bind in compiled.binds.items() if not bind.required
        }
        # LargeBinary's processor only wraps bytes in sqlite3.Binary (a memoryview), which the
        # driver binds as the same BLOB as the bytes themselves: skipped, it cost a call per
        # hash bound.
        self._binds = {
            name: proc
            for name, proc in compiled._bind_processors.items()
            if proc is not None and not isinstance(compiled.binds[name].type, LargeBinary)
        }
        self._expanding = frozenset(p.key for p in compiled.post_compile_params)
        self._results = []
        for i, column in enumerate(compiled._result_columns):
            proc = column.type._cached_result_processor(dialect, None)
            if proc is not None:
                self._results.append((i, proc))
        self._expanded = {}
        self._compiled_for = type(dialect)

    def _args(self, params: Params) -> list[Any]:
        defaults, binds = self._defaults, self._binds
        args = [params[n] if n in params else defaults[n] for n in self._names]
        if binds:
            for i, name in enumerate(self._names):
                proc = binds.get(name)
                if proc is not None:
                    args[i] = proc(args[i])
        return args

    def _bind(self, params: Params) -> tuple[str, list[Any]] | None:
        """The SQL text and its arguments; None when SQLAlchemy must render it."""
        if not self._expanding:
            return self._sql, self._args(params)
        # Expanding IN: one "?" per item, the items flattened in the parameter's place.
        args: list[Any] = []
        lengths: list[int] = []
        for name in self._names:
            value = params[name] if name in params else self._defaults[name]
            if name in self._expanding:
                items = list(value)
                if not items:
                    return None  # SQLAlchemy's own rendering of an empty IN (rare)
                proc = self._binds.get(name)
                args.extend([proc(v) for v in items] if proc else items)
                lengths.append(len(items))
            else:
                proc = self._binds.get(name)
                args.append(proc(value) if proc else value)
        key = tuple(lengths)
        sql = self._expanded.get(key)
        if sql is None:
            sql = self._sql
            for name, n in zip(
                (x for x in self._names if x in self._expanding), lengths, strict=True
            ):
                sql = sql.replace(f"__[POSTCOMPILE_{name}]", ", ".join("?" * n), 1)
            self._expanded[key] = sql
        return sql, args

    def _process(self, row: _Row) -> _Row:
        values = list(row)
        for i, proc in self._results:
            values[i] = proc(values[i])
        return tuple(values)

    @staticmethod
    def _run(driver: sqlite3.Connection, sql: str, args: list[Any]) -> sqlite3.Cursor:
        try:
            return driver.execute(sql, args)
        except sqlite3.Error as exc:
            raise wrap_driver_error(sql, args, exc) from exc


def wrap_driver_error(sql: str, args: Any, exc: sqlite3.Error) -> StatementError:
    """SQLAlchemy's exception for a driver error (the class callers of ``execute`` expect)."""
    return DBAPIError.instance(sql, args, exc, sqlite3.Error)
