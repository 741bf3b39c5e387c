"""The chain store's SQL statements, built once at import (SQLAlchemy Core, both back ends).

Those of every block commit and lookup are :class:`~trionode.storage.direct.Prepared` (run
straight on SQLite's driver, compiled once); the rare ones (schema, integrity check) stay
plain statements run through ``conn.execute``.

Only the modules of :mod:`trionode.storage` that run them (``chain_reads``, ``chain_writes``,
``chain_integrity``) import this; nobody outside the store sees a statement or a connection.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TypeVar

from sqlalchemy import (
    BigInteger,
    Select,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    or_,
    select,
    union,
    update,
)

from trionode.storage import schema as s
from trionode.storage.direct import Prepared

T = TypeVar("T")

# Large IN lists are split: SQLite allows at most 32766 bound parameters per statement.
IN_CHUNK = 500


def chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    """``items`` in runs of at most :data:`IN_CHUNK` (one statement each)."""
    for i in range(0, len(items), IN_CHUNK):
        yield items[i : i + IN_CHUNK]


_fb, _hb, _ch, _tp, _cn = s.full_blocks, s.header_blocks, s.chain, s.tips, s.coins

SEL_VERSION = select(s.schema_version.c.version).where(s.schema_version.c.id == 1)
INS_VERSION = insert(s.schema_version)
SEL_INDEX = select(_fb.c.header_hash, _fb.c.height, _fb.c.prev_hash, _fb.c.weight, _fb.c.seen)
SEL_CHAIN = select(_ch.c.height, _ch.c.header_hash).order_by(_ch.c.height)
SEL_TIPS = select(_tp.c.header_hash)
SEL_FULL = Prepared(
    select(_fb.c.header_hash, _fb.c.block).where(
        _fb.c.header_hash.in_(bindparam("hashes", expanding=True))
    )
)
SEL_HEADER = Prepared(
    select(_hb.c.header_hash, _hb.c.block).where(
        _hb.c.header_hash.in_(bindparam("hashes", expanding=True))
    )
)
SEL_FULL_AT = Prepared(
    select(_ch.c.height, _fb.c.block)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .where(_ch.c.height.in_(bindparam("heights", expanding=True)))
)
SEL_HEADER_AT = Prepared(
    select(_ch.c.height, _hb.c.block)
    .join(_hb, _hb.c.header_hash == _ch.c.header_hash)
    .where(_ch.c.height.in_(bindparam("heights", expanding=True)))
)
COIN_COLS = (
    _cn.c.coin_id,
    _cn.c.parent,
    _cn.c.puzzle_hash,
    _cn.c.amount,
    _cn.c.confirmed_height,
    _cn.c.spent_height,
    _cn.c.coinbase,
)
SEL_COINS = Prepared(select(*COIN_COLS).where(_cn.c.coin_id.in_(bindparam("ids", expanding=True))))
_by_ph = select(*COIN_COLS).where(_cn.c.puzzle_hash == bindparam("ph"))
SEL_COINS_BY_PH = Prepared(_by_ph)
SEL_UNSPENT_BY_PH = Prepared(_by_ph.where(_cn.c.spent_height.is_(None)))

INS_FULL = Prepared(insert(_fb))
INS_HEADER = Prepared(insert(_hb))
# The chain row takes its weight from the stored block (deltas carry only height and hash).
INS_CHAIN = Prepared(
    insert(_ch)
    .from_select(
        ["height", "header_hash", "weight"],
        select(
            cast(bindparam("height"), BigInteger).label("height"), _fb.c.header_hash, _fb.c.weight
        ).where(_fb.c.header_hash == bindparam("header_hash")),
    )
    .returning(_ch.c.height)
)  # rowcount of INSERT ... SELECT is -1 through psycopg
DEL_TIPS = Prepared(delete(_tp))
INS_TIP = Prepared(insert(_tp))
DEL_CHAIN_ABOVE = Prepared(delete(_ch).where(_ch.c.height > bindparam("fork")))
DEL_COINS_ABOVE = Prepared(delete(_cn).where(_cn.c.confirmed_height > bindparam("fork")))
UNSPEND_ABOVE = Prepared(
    update(_cn).where(_cn.c.spent_height > bindparam("fork")).values(spent_height=None)
)
INS_COIN = Prepared(insert(_cn))
SPEND = Prepared(
    update(_cn)
    .where(and_(_cn.c.coin_id == bindparam("id"), _cn.c.spent_height.is_(None)))
    .values(spent_height=bindparam("h"))
)

# integrity checks
COUNT_BLOCKS = select(func.count()).select_from(_fb)
CHAIN_SPAN = select(func.count(), func.min(_ch.c.height), func.max(_ch.c.height))
SEL_TIP_ROWS = select(_tp.c.header_hash, _fb.c.header_hash, _fb.c.weight, _fb.c.seen).join(
    _fb, _fb.c.header_hash == _tp.c.header_hash, isouter=True
)
CHAIN_MISSING_BLOCK = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash, isouter=True)
    .where(_fb.c.header_hash.is_(None))
    .order_by(_ch.c.height)
    .limit(1)
)
CHAIN_WRONG_HEIGHT = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .where(_fb.c.height != _ch.c.height)
    .order_by(_ch.c.height)
    .limit(1)
)
CHAIN_WRONG_WEIGHT = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .where(or_(_ch.c.weight.is_(None), _ch.c.weight != _fb.c.weight))
    .order_by(_ch.c.height)
    .limit(1)
)
_prev = _ch.alias("prev")
CHAIN_BROKEN_LINK = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .join(_prev, _prev.c.height == _ch.c.height - 1)
    .where(_fb.c.prev_hash != _prev.c.header_hash)
    .order_by(_ch.c.height)
    .limit(1)
)
HEADER_MISSING = (
    select(_fb.c.height, _fb.c.header_hash)
    .join(_hb, _hb.c.header_hash == _fb.c.header_hash, isouter=True)
    .where(_hb.c.header_hash.is_(None))
    .limit(1)
)
COIN_OUT_OF_RANGE = (
    select(_cn.c.coin_id, _cn.c.confirmed_height, _cn.c.spent_height)
    .where(
        (_cn.c.confirmed_height > bindparam("top"))
        | (_cn.c.confirmed_height < 0)
        | (_cn.c.spent_height > bindparam("top"))
        | (_cn.c.spent_height < _cn.c.confirmed_height)
    )
    .limit(1)
)
COINBASE_HEIGHTS = select(func.count(func.distinct(_cn.c.confirmed_height))).where(
    _cn.c.coinbase.is_(True)
)
COUNT_COINS = select(func.count()).select_from(_cn)
COUNT_TIPS = select(func.count()).select_from(_tp)


def coin_heights_stmt(puzzle_hashes: Sequence[bytes], start: int, end: int, limit: int) -> Select:
    """Distinct heights in [start, end] where a coin of ``puzzle_hashes`` was created or spent,
    ascending, at most ``limit`` (the coins table's indexes serve both halves)."""
    phs = list(puzzle_hashes)
    created = select(_cn.c.confirmed_height.label("h")).where(
        _cn.c.puzzle_hash.in_(phs), _cn.c.confirmed_height.between(start, end)
    )
    spent = select(_cn.c.spent_height.label("h")).where(
        _cn.c.puzzle_hash.in_(phs), _cn.c.spent_height.between(start, end)
    )
    both = union(created, spent).subquery()
    return select(both.c.h).order_by(both.c.h).limit(limit)


SEL_HASH_AT = select(_ch.c.header_hash).where(_ch.c.height == bindparam("height"))
