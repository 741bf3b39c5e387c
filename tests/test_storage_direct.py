"""Prepared statements (run straight on SQLite's driver) give what ``conn.execute`` gives: the
same rows with the same types, row counts, the transaction of the hop, SQLAlchemy's exception
classes; and on PostgreSQL they are ``conn.execute`` itself."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from tests.chain_store_helpers import BACKENDS, backend_url
from trionode.storage.direct import Prepared
from trionode.storage.engine import StoreRunner, make_engine

_md = sa.MetaData()
_t = sa.Table(
    "direct_t",
    _md,
    sa.Column("k", sa.LargeBinary(4), primary_key=True),
    sa.Column("n", sa.BigInteger, nullable=False),
    sa.Column("flag", sa.Boolean, nullable=False),
    sa.Column("f", sa.Float, nullable=True),
    sa.Column("s", sa.String(16), nullable=False, default=""),
)
_INS = Prepared(sa.insert(_t))
_SEL_IN = Prepared(
    sa.select(_t.c.k, _t.c.n, _t.c.flag, _t.c.f)
    .where(_t.c.k.in_(sa.bindparam("ks", expanding=True)))
    .order_by(_t.c.k)
)
_SEL_N_IN = Prepared(
    sa.select(_t.c.k)
    .where(_t.c.n >= sa.bindparam("low"), _t.c.k.in_(sa.bindparam("ks", expanding=True)))
    .order_by(_t.c.k)
    .limit(sa.bindparam("limit"))
)
_BUMP = Prepared(sa.update(_t).where(_t.c.n > sa.bindparam("above")).values(n=_t.c.n + 10))
_SET_FLAG = Prepared(sa.update(_t).where(_t.c.k == sa.bindparam("key")).values(flag=True))
_MAX = Prepared(sa.select(sa.func.max(_t.c.n)))


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


def _rows(n: int) -> list[dict[str, object]]:
    return [
        {"k": bytes([i]) * 4, "n": i, "flag": i % 2 == 0, "f": i / 2, "s": str(i)} for i in range(n)
    ]


async def test_prepared_matches_execute(url: str) -> None:
    runner = StoreRunner(make_engine(url))
    try:
        await runner.write(lambda conn: _md.create_all(conn))
        await runner.write(_INS.many, _rows(6))

        def both(conn: sa.Connection) -> tuple[list[tuple[object, ...]], list[tuple[object, ...]]]:
            for ks in ([b"\x01" * 4], [b"\x00" * 4, b"\x03" * 4, b"\x05" * 4, b"\xff" * 4]):
                fast = [tuple(r) for r in _SEL_IN.all(conn, {"ks": ks})]
                slow = [tuple(r) for r in conn.execute(_SEL_IN.stmt, {"ks": ks})]
                assert fast == slow
                assert [type(v) for r in fast for v in r] == [type(v) for r in slow for v in r]
            # Two lengths of one IN list, each its own cached SQL text; other binds around it.
            ks = [bytes([i]) * 4 for i in range(6)]
            assert [k for (k,) in _SEL_N_IN.all(conn, {"low": 2, "ks": ks, "limit": 2})] == [
                bytes([2]) * 4,
                bytes([3]) * 4,
            ]
            assert _SEL_N_IN.all(conn, {"low": 5, "ks": ks[4:], "limit": 9}) == [(ks[5],)]
            return fast, slow

        fast, _ = await runner.read(both)
        assert fast[0] == (b"\x00" * 4, 0, True, 0.0)  # Boolean as bool, as SQLAlchemy gives
        assert await runner.write(_BUMP.run, {"above": 3}) == 2  # row count
        assert await runner.read(_MAX.scalar) == 15
        assert await runner.write(_SET_FLAG.run, {"key": b"\x01" * 4}) == 1
        assert await runner.read(_SEL_IN.all, {"ks": [b"\x01" * 4]}) == [
            (b"\x01" * 4, 1, True, 0.5)
        ]
    finally:
        await runner.aclose()


async def test_prepared_writes_roll_back_with_their_hop(url: str) -> None:
    runner = StoreRunner(make_engine(url))
    try:
        await runner.write(lambda conn: _md.create_all(conn))

        def insert_then_fail(conn: sa.Connection) -> None:
            _INS.many(conn, _rows(3))
            raise RuntimeError("killed mid-hop")

        with pytest.raises(RuntimeError):
            await runner.write(insert_then_fail)
        assert await runner.read(_MAX.scalar) is None  # nothing of the failed hop stayed
        await runner.write(_INS.many, _rows(2))
        # A driver error is SQLAlchemy's exception class, and rolls its hop back too.
        with pytest.raises(IntegrityError):
            await runner.write(_INS.many, _rows(3))
        assert await runner.read(_MAX.scalar) == 1
    finally:
        await runner.aclose()


def test_missing_values_and_empty_lists(tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'x.sqlite'}")
    try:
        with engine.begin() as conn:
            _md.create_all(conn)
            with pytest.raises(KeyError):
                _SEL_N_IN.all(conn, {"low": 1, "ks": [b"x"]})
            # An empty IN list is left to SQLAlchemy's own rendering: no rows, no error.
            assert _SEL_IN.all(conn, {"ks": []}) == []
    finally:
        engine.dispose()
