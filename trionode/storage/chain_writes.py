"""Writes of the chain store: the schema at open (and its migration) and block commits.

Each function runs inside one write hop of the store runner: one transaction, so a process
killed at any instant leaves the state before or after it, never between. ``commit_many_sync``
writes several blocks (a sync window) in one transaction, so one fsync: a kill leaves all of
them or none, and what was stored before stays a prefix of validated blocks.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy import Connection, inspect, select, update

from trionode.protocols.chain_types import FullBlock
from trionode.storage import chain_sql as q
from trionode.storage import schema as s
from trionode.storage.chain_records import BlockCommit, BlockDelta
from trionode.storage.errors import SchemaVersionError, StoreCorruptError
from trionode.wire import bytes32

logger = logging.getLogger(__name__)


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
        conn.execute(q.INS_VERSION, {"id": 1, "version": s.SCHEMA_VERSION})
        return True
    version = conn.execute(q.SEL_VERSION).scalar()
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
    fb, ch = s.full_blocks, s.chain
    blob = ch.c.weight.type.compile(dialect=conn.dialect)
    conn.exec_driver_sql(f"ALTER TABLE {ch.name} ADD COLUMN weight {blob}")
    weight_of_block = (
        select(fb.c.weight).where(fb.c.header_hash == ch.c.header_hash).scalar_subquery()
    )
    conn.execute(update(ch).values(weight=weight_of_block))
    conn.execute(update(s.schema_version).values(version=2))
    logger.info("chain store migrated from schema v1 to v2 (chain weights)")


def commit_many_sync(conn: Connection, commits: Sequence[BlockCommit]) -> None:
    """Write ``commits`` in order, in the caller's one transaction (all or none).

    The state it leaves is the one ``commit_sync`` of each in turn leaves, in fewer statements
    (a sync window's commit is this thread's main cost, and it holds the GIL the verification
    workers need): the blocks and their headers go in one multi-row insert each; only the
    last tip set is written (the transaction hides those between); and a fork's deletions
    run only when something can be above the fork: once a commit of this run has extended
    the chain to height h, nothing (chain row, coin, spend) is above h, so the next block's
    deletions above h would remove nothing."""
    if not commits:
        return
    q.INS_FULL.many(conn, [_full_row(c) for c in commits])
    q.INS_HEADER.many(conn, [_header_row(c.block) for c in commits])
    tips = next((c.tips for c in reversed(commits) if c.tips is not None), None)
    if tips is not None:
        _write_tips(conn, tips)
    top: int | None = None  # the chain's top as this transaction left it (None: not known)
    for commit in commits:
        if commit.fork_height is not None:
            top = _apply_fork(conn, commit, top)


def commit_sync(conn: Connection, commit: BlockCommit) -> None:
    """Write one :class:`BlockCommit`. Raises (and so rolls back) if the coin set disagrees."""
    q.INS_FULL.run(conn, _full_row(commit))
    q.INS_HEADER.run(conn, _header_row(commit.block))
    if commit.tips is not None:
        _write_tips(conn, commit.tips)
    if commit.fork_height is not None:
        _apply_fork(conn, commit, None)


def _full_row(commit: BlockCommit) -> dict[str, object]:
    block = commit.block
    return {
        "header_hash": block.header_hash,
        "height": int(block.height),
        "weight": s.weight_to_bytes(int(block.weight)),
        "prev_hash": block.prev_header_hash,
        "seen": commit.seen,
        "block": bytes(block),
    }


def _header_row(block: FullBlock) -> dict[str, object]:
    return {
        "header_hash": block.header_hash,
        "height": int(block.height),
        "block": bytes(block.header_block()),
    }


def _write_tips(conn: Connection, tips: Sequence[bytes32]) -> None:
    q.DEL_TIPS.run(conn)
    q.INS_TIP.many(conn, [{"header_hash": h} for h in tips])


def _apply_fork(conn: Connection, commit: BlockCommit, top: int | None) -> int:
    """Cut the heaviest chain and coin set back to the commit's fork height (skipped when
    ``top``, the chain's known top, is not above it) and apply its deltas; the new top."""
    fork = commit.fork_height
    assert fork is not None
    if top is None or fork < top:
        q.DEL_CHAIN_ABOVE.run(conn, {"fork": fork})
        q.DEL_COINS_ABOVE.run(conn, {"fork": fork})
        q.UNSPEND_ABOVE.run(conn, {"fork": fork})
    expected = fork + 1
    for delta in commit.apply:
        if delta.height != expected:
            raise ValueError(
                f"chain deltas not contiguous: got height {delta.height}, want {expected}"
            )
        expected += 1
        _apply_delta(conn, delta)
    return expected - 1


def _apply_delta(conn: Connection, delta: BlockDelta) -> None:
    """Put ``delta``'s block on the height map and apply its coin changes."""
    added = q.INS_CHAIN.scalar(conn, {"height": delta.height, "header_hash": delta.header_hash})
    if added is None:
        raise ValueError(f"chain delta at height {delta.height} names a block not stored")
    if delta.additions:
        q.INS_COIN.many(
            conn,
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
        if q.SPEND.run(conn, {"id": coin_id, "h": delta.height}) != 1:
            raise StoreCorruptError(
                "coin_set",
                f"block {delta.header_hash.hex()} at height {delta.height} spends coin "
                f"{coin_id.hex()}, which is not an unspent coin of the chain",
            )
