"""The light wallet's own store: the header chain it verified and its coins on that chain.

A database of its own (not the node's): one SQLite file per network under the wallet's root
(``ROOT/wallet/wallet_<network>.sqlite``, :func:`default_wallet_db_url`), through the same engine
helpers as the node's stores (WAL, one writer thread, readers in threads). It lives in
:mod:`trionode.storage` with the other stores so that SQL stays there; the light wallet
(:mod:`trionode.wallet.light`) calls its typed methods. Tables:

- ``wallet_headers``: the verified heaviest chain, one header block per height (the wallet
  follows one chain: a reorg deletes the heights above the fork and writes the new ones in the
  same transaction). About 1,250 bytes a block on disk.
- ``wallet_coins``: the coins of the wallet's puzzle hashes created on that chain, with the
  height that spent them (None: unspent).
- ``wallet_meta``: ``coins_height``, the last height whose coin changes were applied (headers
  may be ahead of it after an interrupted run; the next run scans from there), and ``owner``,
  a fingerprint of the puzzle hashes the coins are tracked for (another set rescans).

Nothing here trusts the node: only verified headers and verified coin lists are written.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import attrs
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    LargeBinary,
    MetaData,
    String,
    Table,
    delete,
    insert,
    select,
    update,
)

from trionode.consensus import CoinRecord
from trionode.protocols.chain_types import Coin, HeaderBlock
from trionode.storage.engine import StoreRunner, make_engine
from trionode.wire import bytes32, uint64

metadata = MetaData()

headers_table = Table(
    "wallet_headers",
    metadata,
    Column("height", BigInteger, primary_key=True, autoincrement=False),
    Column("header_hash", LargeBinary(32), nullable=False, unique=True),
    Column("block", LargeBinary, nullable=False),
)

coins_table = Table(
    "wallet_coins",
    metadata,
    Column("coin_id", LargeBinary(32), primary_key=True),
    Column("parent", LargeBinary(32), nullable=False),
    Column("puzzle_hash", LargeBinary(32), nullable=False, index=True),
    Column("amount", LargeBinary(8), nullable=False),  # uint64 big endian
    Column("confirmed_height", BigInteger, nullable=False),
    Column("spent_height", BigInteger, nullable=True),
    Column("coinbase", Boolean, nullable=False),
)

meta_table = Table(
    "wallet_meta",
    metadata,
    Column("key", String(32), primary_key=True),
    Column("value", BigInteger, nullable=False),
)


def default_wallet_db_path(root: Path, network: str) -> Path:
    return Path(root) / "wallet" / f"wallet_{network}.sqlite"


def default_wallet_db_url(root: Path, network: str) -> str:
    return f"sqlite:///{default_wallet_db_path(root, network)}"


@attrs.frozen
class ChainUpdate:
    """One atomic change of the stored chain: drop heights above ``fork_height`` (and the coin
    changes of those blocks), then append ``headers`` (ascending from fork_height + 1)."""

    fork_height: int
    headers: Sequence[HeaderBlock]


@attrs.frozen
class CoinUpdate:
    """Verified coin changes of the blocks up to ``height``: new coins of the wallet (with the
    height and coinbase flag) and (coin id, spending height) of its spent coins."""

    height: int
    added: Sequence[tuple[Coin, int, bool]]
    spent: Sequence[tuple[bytes32, int]]


def _record(row: Any) -> CoinRecord:
    _cid, parent, ph, amount, confirmed, spent, coinbase = row
    coin = Coin(bytes32(parent), bytes32(ph), uint64(int.from_bytes(amount, "big")))
    return CoinRecord(coin, int(confirmed), None if spent is None else int(spent), bool(coinbase))


class WalletStore:
    """Async access to the wallet's tables; ``await WalletStore.open(url)``, then ``aclose``."""

    def __init__(self, runner: StoreRunner) -> None:
        self.runner = runner

    @classmethod
    async def open(cls, url: str) -> WalletStore:
        runner = StoreRunner(make_engine(url, pool_size=2), readers=1)
        try:
            await runner.write(lambda conn: metadata.create_all(conn))
        except BaseException:
            runner.close_now()
            raise
        return cls(runner)

    async def aclose(self) -> None:
        await self.runner.aclose()

    # -- reads -----------------------------------------------------------------------------

    async def tip(self) -> HeaderBlock | None:
        def read(conn: Connection) -> HeaderBlock | None:
            row = conn.execute(
                select(headers_table.c.block).order_by(headers_table.c.height.desc()).limit(1)
            ).first()
            return None if row is None else HeaderBlock.from_bytes(row[0])

        result: HeaderBlock | None = await self.runner.read(read)
        return result

    async def headers_between(self, low: int, high: int) -> list[HeaderBlock]:
        """Stored header blocks at heights low..high (ascending)."""

        def read(conn: Connection) -> list[HeaderBlock]:
            rows = conn.execute(
                select(headers_table.c.block)
                .where(headers_table.c.height.between(low, high))
                .order_by(headers_table.c.height)
            )
            return [HeaderBlock.from_bytes(r[0]) for r in rows]

        result: list[HeaderBlock] = await self.runner.read(read)
        return result

    async def hash_at(self, height: int) -> bytes32 | None:
        def read(conn: Connection) -> bytes32 | None:
            row = conn.execute(
                select(headers_table.c.header_hash).where(headers_table.c.height == height)
            ).first()
            return None if row is None else bytes32(row[0])

        result: bytes32 | None = await self.runner.read(read)
        return result

    async def coins_height(self) -> int:
        def read(conn: Connection) -> int:
            row = conn.execute(
                select(meta_table.c.value).where(meta_table.c.key == "coins_height")
            ).first()
            return -1 if row is None else int(row[0])

        result: int = await self.runner.read(read)
        return result

    async def coins(self, *, include_spent: bool = False) -> list[CoinRecord]:
        def read(conn: Connection) -> list[CoinRecord]:
            stmt = select(*coins_table.c)
            if not include_spent:
                stmt = stmt.where(coins_table.c.spent_height.is_(None))
            return sorted(
                (_record(r) for r in conn.execute(stmt)),
                key=lambda r: (r.confirmed_height, bytes(r.name)),
            )

        result: list[CoinRecord] = await self.runner.read(read)
        return result

    # -- writes ----------------------------------------------------------------------------

    async def claim(self, owner: int) -> bool:
        """Record which puzzle hashes the coins are tracked for (``owner``, a fingerprint of
        the set). If another set was tracked, its coins are dropped and ``coins_height`` goes
        back to -1 (the next sync scans from genesis for the new set); returns True then."""

        def write(conn: Connection) -> bool:
            row = conn.execute(
                select(meta_table.c.value).where(meta_table.c.key == "owner")
            ).first()
            if row is not None and int(row[0]) == owner:
                return False
            conn.execute(delete(coins_table))
            conn.execute(delete(meta_table).where(meta_table.c.key.in_(["owner", "coins_height"])))
            conn.execute(insert(meta_table).values(key="owner", value=owner))
            return row is not None

        result: bool = await self.runner.write(write)
        return result

    async def apply_chain(self, update: ChainUpdate) -> None:
        def write(conn: Connection) -> None:
            fork = update.fork_height
            conn.execute(delete(headers_table).where(headers_table.c.height > fork))
            conn.execute(delete(coins_table).where(coins_table.c.confirmed_height > fork))
            conn.execute(_unspend_above(fork))
            _set_coins_height(conn, fork, only_lower=True)
            if update.headers:
                conn.execute(
                    insert(headers_table),
                    [
                        {
                            "height": int(h.height),
                            "header_hash": bytes(h.header_hash),
                            "block": bytes(h),
                        }
                        for h in update.headers
                    ],
                )

        await self.runner.write(write)

    async def apply_coins(self, update: CoinUpdate) -> None:
        def write(conn: Connection) -> None:
            for coin, height, coinbase in update.added:
                conn.execute(delete(coins_table).where(coins_table.c.coin_id == coin.name()))
                conn.execute(
                    insert(coins_table).values(
                        coin_id=bytes(coin.name()),
                        parent=bytes(coin.parent_coin_info),
                        puzzle_hash=bytes(coin.puzzle_hash),
                        amount=int(coin.amount).to_bytes(8, "big"),
                        confirmed_height=height,
                        spent_height=None,
                        coinbase=coinbase,
                    )
                )
            for coin_id, height in update.spent:
                conn.execute(_mark_spent(coin_id, height))
            _set_coins_height(conn, update.height, only_lower=False)

        await self.runner.write(write)


def _unspend_above(fork: int) -> Any:
    """Coins spent above the fork are unspent on the chain up to it."""
    return update(coins_table).where(coins_table.c.spent_height > fork).values(spent_height=None)


def _mark_spent(coin_id: bytes32, height: int) -> Any:
    return (
        update(coins_table)
        .where(coins_table.c.coin_id == bytes(coin_id))
        .values(spent_height=height)
    )


def _set_coins_height(conn: Connection, height: int, *, only_lower: bool) -> None:
    """Set ``coins_height`` to ``height`` (with ``only_lower``: only if that lowers it; a
    store that never applied coins stays at -1)."""
    row = conn.execute(select(meta_table.c.value).where(meta_table.c.key == "coins_height")).first()
    if row is None:
        value = min(height, -1) if only_lower else height
        conn.execute(insert(meta_table).values(key="coins_height", value=value))
        return
    if only_lower and int(row[0]) <= height:
        return
    conn.execute(update(meta_table).where(meta_table.c.key == "coins_height").values(value=height))


__all__ = [
    "ChainUpdate",
    "CoinUpdate",
    "WalletStore",
    "default_wallet_db_path",
    "default_wallet_db_url",
]
