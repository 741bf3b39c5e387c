"""The chain store: blocks, header blocks, the heaviest chain, tips and its coin set.

All SQL of the chain lives here. Statements are built once at import; every public coroutine is
one hop through :class:`~trionode.storage.engine.StoreRunner`. The ``*_sync`` functions take a
``Connection`` so a caller can do several lookups in a single hop (``await store.read(fn)``).

A block and everything it changes (its rows, the tip set, the height map and the coin set after a
reorg) are written by :meth:`ChainStore.commit` in one transaction, so a process killed at any
instant leaves either the state before the block or the state after it. :meth:`ChainStore.open`
checks the store before anyone uses it and raises :class:`StoreCorruptError` naming the problem.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from typing import Any, TypeVar

import attrs
from sqlalchemy import (
    BigInteger,
    Connection,
    and_,
    bindparam,
    cast,
    delete,
    func,
    insert,
    inspect,
    or_,
    select,
    update,
)
from sqlalchemy.exc import DatabaseError, OperationalError

from trionode.consensus.context import CoinRecord
from trionode.protocols.chain_types import Coin, FullBlock, HeaderBlock
from trionode.storage import schema as s
from trionode.storage.engine import StoreRunner, make_engine
from trionode.storage.errors import SchemaVersionError, StoreCorruptError, StoreError
from trionode.wire import bytes32, uint64

logger = logging.getLogger(__name__)

T = TypeVar("T")

# Large IN lists are split: SQLite allows at most 32766 bound parameters per statement.
_IN_CHUNK = 500


@attrs.frozen
class BlockInfo:
    """What the in-memory index keeps of every stored block."""

    header_hash: bytes32
    height: int
    prev_hash: bytes32
    weight: int
    seen: int  # order of first storage; equal weights go to the smaller


@attrs.frozen
class ChainState:
    """Everything :class:`~trionode.blockchain.Blockchain` loads at start, read in one snapshot."""

    blocks: dict[bytes32, BlockInfo]
    height_map: list[bytes32]  # index = height, on the heaviest chain
    tips: list[bytes32]


@attrs.frozen
class BlockDelta:
    """The coin-set change of one block joining the heaviest chain."""

    height: int
    header_hash: bytes32
    additions: tuple[tuple[Coin, bool], ...]  # (coin, created by coinbase or fees target)
    removals: tuple[bytes32, ...]  # ids of the coins the block spends


@attrs.frozen
class BlockCommit:
    """One transaction: store ``block``; optionally replace the tip set and move the chain.

    ``fork_height`` None keeps the heaviest chain as it is. Otherwise everything above
    ``fork_height`` (-1: everything) is rolled back (height rows, coins created above it deleted,
    coins spent above it unspent) and ``apply`` (the new heaviest chain's blocks above the fork,
    in height order) is applied.
    """

    block: FullBlock
    seen: int
    tips: tuple[bytes32, ...] | None = None
    fork_height: int | None = None
    apply: tuple[BlockDelta, ...] = ()


# -- statements, built once ----------------------------------------------------------------------

_fb, _hb, _ch, _tp, _cn = s.full_blocks, s.header_blocks, s.chain, s.tips, s.coins

_SEL_VERSION = select(s.schema_version.c.version).where(s.schema_version.c.id == 1)
_INS_VERSION = insert(s.schema_version)
_SEL_INDEX = select(_fb.c.header_hash, _fb.c.height, _fb.c.prev_hash, _fb.c.weight, _fb.c.seen)
_SEL_CHAIN = select(_ch.c.height, _ch.c.header_hash).order_by(_ch.c.height)
_SEL_TIPS = select(_tp.c.header_hash)
_SEL_FULL = select(_fb.c.header_hash, _fb.c.block).where(
    _fb.c.header_hash.in_(bindparam("hashes", expanding=True))
)
_SEL_HEADER = select(_hb.c.header_hash, _hb.c.block).where(
    _hb.c.header_hash.in_(bindparam("hashes", expanding=True))
)
_SEL_FULL_AT = (
    select(_ch.c.height, _fb.c.block)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .where(_ch.c.height.in_(bindparam("heights", expanding=True)))
)
_SEL_HEADER_AT = (
    select(_ch.c.height, _hb.c.block)
    .join(_hb, _hb.c.header_hash == _ch.c.header_hash)
    .where(_ch.c.height.in_(bindparam("heights", expanding=True)))
)
_COIN_COLS = (
    _cn.c.coin_id,
    _cn.c.parent,
    _cn.c.puzzle_hash,
    _cn.c.amount,
    _cn.c.confirmed_height,
    _cn.c.spent_height,
    _cn.c.coinbase,
)
_SEL_COINS = select(*_COIN_COLS).where(_cn.c.coin_id.in_(bindparam("ids", expanding=True)))
_SEL_COINS_BY_PH = select(*_COIN_COLS).where(_cn.c.puzzle_hash == bindparam("ph"))
_SEL_UNSPENT_BY_PH = _SEL_COINS_BY_PH.where(_cn.c.spent_height.is_(None))

_INS_FULL = insert(_fb)
_INS_HEADER = insert(_hb)
# The chain row takes its weight from the stored block (deltas carry only height and hash).
_INS_CHAIN = insert(_ch).from_select(
    ["height", "header_hash", "weight"],
    select(
        cast(bindparam("height"), BigInteger).label("height"), _fb.c.header_hash, _fb.c.weight
    ).where(_fb.c.header_hash == bindparam("header_hash")),
).returning(_ch.c.height)  # rowcount of INSERT ... SELECT is -1 through psycopg
_DEL_TIPS = delete(_tp)
_INS_TIP = insert(_tp)
_DEL_CHAIN_ABOVE = delete(_ch).where(_ch.c.height > bindparam("fork"))
_DEL_COINS_ABOVE = delete(_cn).where(_cn.c.confirmed_height > bindparam("fork"))
_UNSPEND_ABOVE = update(_cn).where(_cn.c.spent_height > bindparam("fork")).values(spent_height=None)
_INS_COIN = insert(_cn)
_SPEND = (
    update(_cn)
    .where(and_(_cn.c.coin_id == bindparam("id"), _cn.c.spent_height.is_(None)))
    .values(spent_height=bindparam("h"))
)

# integrity checks
_COUNT_BLOCKS = select(func.count()).select_from(_fb)
_CHAIN_SPAN = select(func.count(), func.min(_ch.c.height), func.max(_ch.c.height))
_SEL_TIP_ROWS = select(_tp.c.header_hash, _fb.c.header_hash, _fb.c.weight, _fb.c.seen).join(
    _fb, _fb.c.header_hash == _tp.c.header_hash, isouter=True
)
_CHAIN_MISSING_BLOCK = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash, isouter=True)
    .where(_fb.c.header_hash.is_(None))
    .order_by(_ch.c.height)
    .limit(1)
)
_CHAIN_WRONG_HEIGHT = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .where(_fb.c.height != _ch.c.height)
    .order_by(_ch.c.height)
    .limit(1)
)
_CHAIN_WRONG_WEIGHT = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .where(or_(_ch.c.weight.is_(None), _ch.c.weight != _fb.c.weight))
    .order_by(_ch.c.height)
    .limit(1)
)
_prev = _ch.alias("prev")
_CHAIN_BROKEN_LINK = (
    select(_ch.c.height)
    .join(_fb, _fb.c.header_hash == _ch.c.header_hash)
    .join(_prev, _prev.c.height == _ch.c.height - 1)
    .where(_fb.c.prev_hash != _prev.c.header_hash)
    .order_by(_ch.c.height)
    .limit(1)
)
_HEADER_MISSING = (
    select(_fb.c.height, _fb.c.header_hash)
    .join(_hb, _hb.c.header_hash == _fb.c.header_hash, isouter=True)
    .where(_hb.c.header_hash.is_(None))
    .limit(1)
)
_COIN_OUT_OF_RANGE = (
    select(_cn.c.coin_id, _cn.c.confirmed_height, _cn.c.spent_height)
    .where(
        (_cn.c.confirmed_height > bindparam("top"))
        | (_cn.c.confirmed_height < 0)
        | (_cn.c.spent_height > bindparam("top"))
        | (_cn.c.spent_height < _cn.c.confirmed_height)
    )
    .limit(1)
)
_COINBASE_HEIGHTS = select(func.count(func.distinct(_cn.c.confirmed_height))).where(
    _cn.c.coinbase.is_(True)
)
_COUNT_COINS = select(func.count()).select_from(_cn)
_COUNT_TIPS = select(func.count()).select_from(_tp)


# -- sync functions (run inside a hop) -----------------------------------------------------------


def _chunks(items: Sequence[T]) -> Iterable[Sequence[T]]:
    for i in range(0, len(items), _IN_CHUNK):
        yield items[i : i + _IN_CHUNK]


def init_schema_sync(conn: Connection) -> bool:
    """Create the schema in an empty database, or check the version of an existing one.

    Returns True when it created the schema. Tables of other stores (peers) may share the
    database and are ignored.
    """
    names = set(inspect(conn).get_table_names())
    ours = {t.name for t in s.ALL_TABLES}
    if s.schema_version.name not in names:
        present = sorted(ours & names)
        if present:
            raise StoreCorruptError(
                "no_schema_version",
                f"tables {', '.join(present)} exist but schema_version does not; "
                "this is not a trionode chain store",
            )
        s.metadata.create_all(conn)
        conn.execute(_INS_VERSION, {"id": 1, "version": s.SCHEMA_VERSION})
        return True
    version = conn.execute(_SEL_VERSION).scalar()
    if version is None:
        raise StoreCorruptError("no_schema_version", "the schema_version table is empty")
    if version == 1 and s.chain.name in names:
        _migrate_1_to_2(conn)
        version = 2
    if version != s.SCHEMA_VERSION:
        raise SchemaVersionError(int(version), s.SCHEMA_VERSION)
    missing = sorted(ours - names)
    if missing:
        raise StoreCorruptError("missing_table", f"table(s) {', '.join(missing)} missing")
    return False


def _migrate_1_to_2(conn: Connection) -> None:
    """Version 2 adds the chain's weight column, filled from the blocks (one transaction)."""
    blob = s.chain.c.weight.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {s.chain.name} ADD COLUMN weight {blob}")
    weight_of_block = (
        select(_fb.c.weight).where(_fb.c.header_hash == _ch.c.header_hash).scalar_subquery()
    )
    conn.execute(update(_ch).values(weight=weight_of_block))
    conn.execute(update(s.schema_version).values(version=2))
    logger.info("chain store migrated from schema v1 to v2 (chain weights)")


def load_state_sync(conn: Connection) -> ChainState:
    blocks = {
        bytes32(h): BlockInfo(bytes32(h), int(height), bytes32(prev), s.weight_from_bytes(w), seen)
        for h, height, prev, w, seen in conn.execute(_SEL_INDEX)
    }
    height_map = [bytes32(h) for _, h in conn.execute(_SEL_CHAIN)]
    tip_hashes = [bytes32(h) for (h,) in conn.execute(_SEL_TIPS)]
    return ChainState(blocks, height_map, tip_hashes)


def full_blocks_sync(conn: Connection, hashes: Sequence[bytes]) -> dict[bytes32, FullBlock]:
    out: dict[bytes32, FullBlock] = {}
    for part in _chunks(list(hashes)):
        for h, data in conn.execute(_SEL_FULL, {"hashes": list(part)}):
            out[bytes32(h)] = FullBlock.from_bytes(data)
    return out


def header_blocks_sync(conn: Connection, hashes: Sequence[bytes]) -> dict[bytes32, HeaderBlock]:
    out: dict[bytes32, HeaderBlock] = {}
    for part in _chunks(list(hashes)):
        for h, data in conn.execute(_SEL_HEADER, {"hashes": list(part)}):
            out[bytes32(h)] = HeaderBlock.from_bytes(data)
    return out


def full_blocks_at_sync(conn: Connection, heights: Sequence[int]) -> dict[int, FullBlock]:
    """Blocks of the heaviest chain at ``heights`` (missing heights are left out)."""
    out: dict[int, FullBlock] = {}
    for part in _chunks(list(heights)):
        for h, data in conn.execute(_SEL_FULL_AT, {"heights": list(part)}):
            out[int(h)] = FullBlock.from_bytes(data)
    return out


def header_blocks_at_sync(conn: Connection, heights: Sequence[int]) -> dict[int, HeaderBlock]:
    out: dict[int, HeaderBlock] = {}
    for part in _chunks(list(heights)):
        for h, data in conn.execute(_SEL_HEADER_AT, {"heights": list(part)}):
            out[int(h)] = HeaderBlock.from_bytes(data)
    return out


def _coin_record(row: Any) -> CoinRecord:
    coin_id, parent, ph, amount, confirmed, spent, coinbase = row
    coin = Coin(bytes32(parent), bytes32(ph), uint64(s.amount_from_bytes(amount)))
    return CoinRecord(coin, int(confirmed), None if spent is None else int(spent), bool(coinbase))


def coin_records_sync(conn: Connection, ids: Sequence[bytes]) -> dict[bytes32, CoinRecord]:
    """Coin records of the heaviest chain by coin id (unknown ids are left out)."""
    out: dict[bytes32, CoinRecord] = {}
    for part in _chunks(list(ids)):
        for row in conn.execute(_SEL_COINS, {"ids": list(part)}):
            out[bytes32(row[0])] = _coin_record(row)
    return out


def coin_records_by_puzzle_hash_sync(
    conn: Connection, puzzle_hash: bytes, include_spent: bool
) -> list[CoinRecord]:
    stmt = _SEL_COINS_BY_PH if include_spent else _SEL_UNSPENT_BY_PH
    records = [_coin_record(row) for row in conn.execute(stmt, {"ph": puzzle_hash})]
    records.sort(key=lambda r: (r.confirmed_height, r.name))
    return records


def commit_sync(conn: Connection, commit: BlockCommit) -> None:
    """Write one :class:`BlockCommit`. Raises (and so rolls back) if the coin set disagrees."""
    block = commit.block
    header_hash = block.header_hash
    conn.execute(
        _INS_FULL,
        {
            "header_hash": header_hash,
            "height": int(block.height),
            "weight": s.weight_to_bytes(int(block.weight)),
            "prev_hash": block.prev_header_hash,
            "seen": commit.seen,
            "block": bytes(block),
        },
    )
    conn.execute(
        _INS_HEADER,
        {
            "header_hash": header_hash,
            "height": int(block.height),
            "block": bytes(block.header_block()),
        },
    )
    if commit.tips is not None:
        conn.execute(_DEL_TIPS)
        conn.execute(_INS_TIP, [{"header_hash": h} for h in commit.tips])
    if commit.fork_height is None:
        return
    fork = commit.fork_height
    conn.execute(_DEL_CHAIN_ABOVE, {"fork": fork})
    conn.execute(_DEL_COINS_ABOVE, {"fork": fork})
    conn.execute(_UNSPEND_ABOVE, {"fork": fork})
    expected = fork + 1
    for delta in commit.apply:
        if delta.height != expected:
            raise ValueError(
                f"chain deltas not contiguous: got height {delta.height}, want {expected}"
            )
        expected += 1
        added = conn.execute(_INS_CHAIN, {"height": delta.height, "header_hash": delta.header_hash})
        if added.scalar() is None:
            raise ValueError(f"chain delta at height {delta.height} names a block not stored")
        if delta.additions:
            conn.execute(
                _INS_COIN,
                [
                    {
                        "coin_id": coin.name(),
                        "puzzle_hash": coin.puzzle_hash,
                        "parent": coin.parent_coin_info,
                        "amount": s.amount_to_bytes(int(coin.amount)),
                        "confirmed_height": delta.height,
                        "spent_height": None,
                        "coinbase": coinbase,
                    }
                    for coin, coinbase in delta.additions
                ],
            )
        for coin_id in delta.removals:
            result = conn.execute(_SPEND, {"id": coin_id, "h": delta.height})
            if result.rowcount != 1:
                raise StoreCorruptError(
                    "coin_set",
                    f"block {delta.header_hash.hex()} at height {delta.height} spends coin "
                    f"{coin_id.hex()}, which is not an unspent coin of the chain",
                )


def check_integrity_sync(conn: Connection) -> None:
    """Raise :class:`StoreCorruptError` if the stored chain is inconsistent.

    Checks: tips exist and are stored blocks; the height map runs from 0 without gaps; every
    height's block is stored, has that height and links to the previous height's hash; the
    heaviest tip (ties: seen first) is the top of the height map; every block has its header
    block; coin heights lie within the chain; every height has its coinbase coins.
    """
    n_blocks = conn.execute(_COUNT_BLOCKS).scalar_one()
    n_chain, lo, hi = conn.execute(_CHAIN_SPAN).one()
    n_tips = conn.execute(_COUNT_TIPS).scalar_one()
    if n_blocks == 0:
        if n_chain or n_tips or conn.execute(_COUNT_COINS).scalar_one():
            raise StoreCorruptError(
                "orphan_rows", "no blocks are stored but chain, tips or coins rows exist"
            )
        return
    if n_tips == 0:
        raise StoreCorruptError("no_tips", f"{n_blocks} blocks stored but the tip set is empty")
    tip_rows = conn.execute(_SEL_TIP_ROWS).all()
    for tip, found, _, _ in tip_rows:
        if found is None:
            raise StoreCorruptError("tip_missing", f"tip {bytes(tip).hex()} is not a stored block")
    if n_chain == 0:
        raise StoreCorruptError("chain_empty", "blocks are stored but the height map is empty")
    if lo != 0 or n_chain != hi - lo + 1:
        have = {int(h) for h, _ in conn.execute(_SEL_CHAIN)}
        gap = next(h for h in range(0, int(hi) + 1) if h not in have)
        raise StoreCorruptError(
            "height_gap", f"the height map has no entry for height {gap} (top height {hi})"
        )
    bad = conn.execute(_CHAIN_MISSING_BLOCK).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_block_missing", f"the block at height {bad} of the height map is not stored"
        )
    bad = conn.execute(_CHAIN_WRONG_HEIGHT).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_height_mismatch", f"the block mapped at height {bad} has another height"
        )
    bad = conn.execute(_CHAIN_WRONG_WEIGHT).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_weight_mismatch",
            f"the height map's weight at height {bad} is not its block's weight",
        )
    bad = conn.execute(_CHAIN_BROKEN_LINK).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_link_broken",
            f"the block at height {bad} does not link to the block at height {bad - 1}",
        )
    heaviest = min(tip_rows, key=lambda r: (-s.weight_from_bytes(r[2]), r[3]))[0]
    top = conn.execute(select(_ch.c.header_hash).where(_ch.c.height == hi)).scalar_one()
    if bytes(heaviest) != bytes(top):
        raise StoreCorruptError(
            "heaviest_tip_mismatch",
            f"the heaviest tip {bytes(heaviest).hex()} is not the top of the height map "
            f"({bytes(top).hex()} at height {hi})",
        )
    row = conn.execute(_HEADER_MISSING).first()
    if row is not None:
        raise StoreCorruptError(
            "header_block_missing",
            f"block {bytes(row[1]).hex()} at height {row[0]} has no header block",
        )
    coin_row = conn.execute(_COIN_OUT_OF_RANGE, {"top": hi}).first()
    if coin_row is not None:
        raise StoreCorruptError(
            "coin_height",
            f"coin {bytes(coin_row[0]).hex()} (created at {coin_row[1]}, spent at "
            f"{coin_row[2]}) does not fit "
            f"a chain of top height {hi}",
        )
    coinbase_heights = conn.execute(_COINBASE_HEIGHTS).scalar_one()
    if coinbase_heights != hi + 1:
        raise StoreCorruptError(
            "coins_missing",
            f"only {coinbase_heights} of the {hi + 1} chain heights have their coinbase coins",
        )


# -- the async store -----------------------------------------------------------------------------


class ChainStore:
    """Async access to the chain tables; open with :meth:`open`, close with :meth:`aclose`."""

    def __init__(self, runner: StoreRunner, url: str) -> None:
        self.runner = runner
        self.url = url

    @classmethod
    async def open(cls, url: str, *, readers: int = 4, check: bool = True) -> ChainStore:
        """Open (creating the schema on first use) and, with ``check``, verify the store.

        Raises :class:`SchemaVersionError` for a store of another schema version,
        :class:`StoreCorruptError` for an inconsistent or unreadable one (e.g. a file that is not
        a database) and :class:`StoreError` when the database cannot be reached or opened; the
        engine is disposed then.
        """
        engine = make_engine(url, pool_size=readers + 1)
        runner = StoreRunner(engine, readers=readers)
        store = cls(runner, url)
        try:
            created = await runner.write(init_schema_sync)
            if created:
                logger.info("created chain store schema v%d in %s", s.SCHEMA_VERSION, store.where)
            elif check:
                await store.check_integrity()
        except OperationalError as exc:
            runner.close_now()
            raise StoreError(f"cannot open the chain store {store.where}: {exc.orig}") from exc
        except DatabaseError as exc:
            runner.close_now()
            raise StoreCorruptError("unreadable", f"{store.where}: {exc.orig}") from exc
        except BaseException:
            runner.close_now()
            raise
        return store

    @property
    def where(self) -> str:
        """The URL with any password hidden, for logs."""
        return self.runner.engine.url.render_as_string(hide_password=True)

    async def aclose(self) -> None:
        await self.runner.aclose()

    async def __aenter__(self) -> ChainStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def read(self, fn: Any, *args: Any) -> Any:
        """Run ``fn(conn, *args)`` in one read hop (for batching several ``*_sync`` lookups)."""
        return await self.runner.read(fn, *args)

    async def check_integrity(self) -> None:
        await self.runner.read(check_integrity_sync)

    async def load_state(self) -> ChainState:
        return await self.runner.read(load_state_sync)

    async def commit(self, commit: BlockCommit) -> None:
        await self.runner.write(commit_sync, commit)

    async def get_full_block(self, header_hash: bytes32) -> FullBlock | None:
        return (await self.get_full_blocks([header_hash])).get(header_hash)

    async def get_full_blocks(self, hashes: Sequence[bytes32]) -> dict[bytes32, FullBlock]:
        return await self.runner.read(full_blocks_sync, hashes)

    async def get_header_block(self, header_hash: bytes32) -> HeaderBlock | None:
        return (await self.get_header_blocks([header_hash])).get(header_hash)

    async def get_header_blocks(self, hashes: Sequence[bytes32]) -> dict[bytes32, HeaderBlock]:
        return await self.runner.read(header_blocks_sync, hashes)

    async def get_full_blocks_at(self, heights: Sequence[int]) -> dict[int, FullBlock]:
        return await self.runner.read(full_blocks_at_sync, heights)

    async def get_header_blocks_at(self, heights: Sequence[int]) -> dict[int, HeaderBlock]:
        return await self.runner.read(header_blocks_at_sync, heights)

    async def get_coin_record(self, coin_id: bytes32) -> CoinRecord | None:
        return (await self.get_coin_records([coin_id])).get(coin_id)

    async def get_coin_records(self, ids: Sequence[bytes32]) -> dict[bytes32, CoinRecord]:
        return await self.runner.read(coin_records_sync, ids)

    async def get_coin_records_by_puzzle_hash(
        self, puzzle_hash: bytes32, *, include_spent: bool = True
    ) -> list[CoinRecord]:
        return await self.runner.read(coin_records_by_puzzle_hash_sync, puzzle_hash, include_spent)
