"""The chain store's start-up check: is what is stored one consistent chain?

:func:`check_integrity_sync` runs in one read hop when a store is opened and raises
:class:`~trionode.storage.StoreCorruptError` naming the first problem found (a tag an operator
or a test can match, and the height or hash where it is).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlalchemy import Connection

from trionode.storage import chain_sql as q
from trionode.storage import schema as s
from trionode.storage.errors import StoreCorruptError


def check_integrity_sync(conn: Connection) -> None:
    """Raise :class:`StoreCorruptError` if the stored chain is inconsistent.

    Checks: tips exist and are stored blocks; the height map runs from 0 without gaps; every
    height's block is stored, has that height and links to the previous height's hash; the
    heaviest tip (ties: seen first) is the top of the height map; every block has its header
    block; coin heights lie within the chain; every height has its coinbase coins.
    """
    n_blocks = conn.execute(q.COUNT_BLOCKS).scalar_one()
    n_chain, lo, hi = conn.execute(q.CHAIN_SPAN).one()
    n_tips = conn.execute(q.COUNT_TIPS).scalar_one()
    if n_blocks == 0:
        if n_chain or n_tips or conn.execute(q.COUNT_COINS).scalar_one():
            raise StoreCorruptError(
                "orphan_rows", "no blocks are stored but chain, tips or coins rows exist"
            )
        return
    if n_tips == 0:
        raise StoreCorruptError("no_tips", f"{n_blocks} blocks stored but the tip set is empty")
    tip_rows = conn.execute(q.SEL_TIP_ROWS).all()
    for tip, found, _, _ in tip_rows:
        if found is None:
            raise StoreCorruptError("tip_missing", f"tip {bytes(tip).hex()} is not a stored block")
    if n_chain == 0:
        raise StoreCorruptError("chain_empty", "blocks are stored but the height map is empty")
    if lo != 0 or n_chain != hi - lo + 1:
        have = {int(h) for h, _ in conn.execute(q.SEL_CHAIN)}
        gap = next(h for h in range(0, int(hi) + 1) if h not in have)
        raise StoreCorruptError(
            "height_gap", f"the height map has no entry for height {gap} (top height {hi})"
        )
    _check_height_map(conn)
    _check_heaviest_tip(conn, tip_rows, int(hi))
    _check_headers_and_coins(conn, int(hi))


def _check_height_map(conn: Connection) -> None:
    """Each height's block is stored, has that height and weight, and links to the one below."""
    bad = conn.execute(q.CHAIN_MISSING_BLOCK).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_block_missing", f"the block at height {bad} of the height map is not stored"
        )
    bad = conn.execute(q.CHAIN_WRONG_HEIGHT).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_height_mismatch", f"the block mapped at height {bad} has another height"
        )
    bad = conn.execute(q.CHAIN_WRONG_WEIGHT).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_weight_mismatch",
            f"the height map's weight at height {bad} is not its block's weight",
        )
    bad = conn.execute(q.CHAIN_BROKEN_LINK).scalar()
    if bad is not None:
        raise StoreCorruptError(
            "chain_link_broken",
            f"the block at height {bad} does not link to the block at height {bad - 1}",
        )


def _check_heaviest_tip(conn: Connection, tip_rows: Sequence[Any], hi: int) -> None:
    """The heaviest tip (ties: seen first) is the top of the height map."""
    heaviest = min(tip_rows, key=lambda r: (-s.weight_from_bytes(r[2]), r[3]))[0]
    top = conn.execute(q.SEL_HASH_AT, {"height": hi}).scalar_one()
    if bytes(heaviest) != bytes(top):
        raise StoreCorruptError(
            "heaviest_tip_mismatch",
            f"the heaviest tip {bytes(heaviest).hex()} is not the top of the height map "
            f"({bytes(top).hex()} at height {hi})",
        )


def _check_headers_and_coins(conn: Connection, hi: int) -> None:
    """Every block has its header block; coins fit the chain; every height has its coinbase."""
    row = conn.execute(q.HEADER_MISSING).first()
    if row is not None:
        raise StoreCorruptError(
            "header_block_missing",
            f"block {bytes(row[1]).hex()} at height {row[0]} has no header block",
        )
    coin_row = conn.execute(q.COIN_OUT_OF_RANGE, {"top": hi}).first()
    if coin_row is not None:
        raise StoreCorruptError(
            "coin_height",
            f"coin {bytes(coin_row[0]).hex()} (created at {coin_row[1]}, spent at "
            f"{coin_row[2]}) does not fit "
            f"a chain of top height {hi}",
        )
    coinbase_heights = conn.execute(q.COINBASE_HEIGHTS).scalar_one()
    if coinbase_heights != hi + 1:
        raise StoreCorruptError(
            "coins_missing",
            f"only {coinbase_heights} of the {hi + 1} chain heights have their coinbase coins",
        )
