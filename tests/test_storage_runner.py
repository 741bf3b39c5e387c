"""The store runner keeps its SQLite connections between hops (no pool checkout per hop), and
that changes nothing a hop sees: a failed write still rolls back, the next hop starts clean,
and closing the runner closes every connection it kept."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from trionode.storage.engine import StoreRunner, make_engine


def _driver(conn: sa.Connection) -> object:
    return conn.connection.driver_connection


async def test_sqlite_connections_are_kept_between_hops(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'r.sqlite'}")
    runner = StoreRunner(engine, readers=2)
    await runner.write(lambda c: c.exec_driver_sql("CREATE TABLE t (x INTEGER)"))
    first = await runner.read(_driver)
    assert await runner.write(_driver) is first  # one connection serves hop after hop
    assert await runner.read(_driver) is first

    def insert_then_fail(conn: sa.Connection) -> None:
        conn.exec_driver_sql("INSERT INTO t VALUES (1)")
        raise RuntimeError("fails before its commit")

    with pytest.raises(RuntimeError):
        await runner.write(insert_then_fail)

    def count(conn: sa.Connection) -> int:
        assert conn.connection.driver_connection.in_transaction  # the hop's own, begun afresh
        return int(conn.exec_driver_sql("SELECT count(*) FROM t").scalar_one())

    assert await runner.read(count) == 0  # the failed hop rolled back
    assert await runner.read(_driver) is first  # and its connection was clean to keep

    # A hop that runs statements through SQLAlchemy (which begins a transaction of its own
    # around the driver's) and one that runs them on the driver both commit, once each.
    await runner.write(lambda c: c.exec_driver_sql("INSERT INTO t VALUES (2)"))
    await runner.write(lambda c: c.connection.driver_connection.execute("INSERT INTO t VALUES (3)"))
    assert await runner.read(count) == 2

    def open_transactions(conn: sa.Connection) -> tuple[bool, bool]:
        return conn.in_transaction(), conn.connection.driver_connection.in_transaction

    assert await runner.read(open_transactions) == (False, True)  # no leftover of those hops
    assert engine.pool.checkedout() == 1  # type: ignore[attr-defined]
    await runner.aclose()
    assert engine.pool.checkedout() == 0  # type: ignore[attr-defined]
