"""Reads of the chain store: :class:`ChainReader`, one read snapshot seen through typed methods.

A reader lives for one hop of the store runner (one worker thread, one transaction): the
:class:`~trionode.storage.ChainStore` coroutines each open one, and
:meth:`ChainStore.snapshot` hands one to a caller that needs several dependent lookups in a
single hop (the Blockchain gathering a batch's validation contexts walks ancestors lazily, as
consensus asks for them, so it cannot name every row up front). The connection stays private:
callers get headers, blocks and coin records, never SQL.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from sqlalchemy import Connection

from trionode.consensus.context import CoinRecord
from trionode.protocols.chain_types import Coin, FullBlock, HeaderBlock
from trionode.storage import chain_sql as q
from trionode.storage import schema as s
from trionode.storage.chain_records import BlockDelta, BlockInfo, ChainState
from trionode.storage.direct import Prepared
from trionode.wire import bytes32, uint64


def coin_record(row: Any) -> CoinRecord:
    """A coins-table row (the columns of ``chain_sql.COIN_COLS``) as a :class:`CoinRecord`."""
    _coin_id, parent, ph, amount, confirmed, spent, coinbase = row
    coin = Coin(bytes32(parent), bytes32(ph), uint64(s.amount_from_bytes(amount)))
    return CoinRecord(coin, int(confirmed), None if spent is None else int(spent), bool(coinbase))


class ChainReader:
    """Typed lookups in one read transaction; only valid inside the hop that made it."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def load_state(self) -> ChainState:
        """The block index, the height map and the tips (what the Blockchain keeps in memory)."""
        conn = self._conn
        blocks = {
            bytes32(h): BlockInfo(
                bytes32(h), int(height), bytes32(prev), s.weight_from_bytes(w), seen
            )
            for h, height, prev, w, seen in conn.execute(q.SEL_INDEX)
        }
        height_map = [bytes32(h) for _, h in conn.execute(q.SEL_CHAIN)]
        tip_hashes = [bytes32(h) for (h,) in conn.execute(q.SEL_TIPS)]
        return ChainState(blocks, height_map, tip_hashes)

    def full_blocks(self, hashes: Sequence[bytes]) -> dict[bytes32, FullBlock]:
        """Stored blocks by header hash (unknown hashes are left out)."""
        out: dict[bytes32, FullBlock] = {}
        for part in q.chunks(list(hashes)):
            for h, data in q.SEL_FULL.all(self._conn, {"hashes": part}):
                out[bytes32(h)] = FullBlock.from_bytes(data)
        return out

    def full_block_bytes(self, hashes: Sequence[bytes]) -> dict[bytes32, bytes]:
        """Stored blocks' encodings by header hash, not decoded (served as they are)."""
        return self._blobs(q.SEL_FULL, hashes)

    def header_block_bytes(self, hashes: Sequence[bytes]) -> dict[bytes32, bytes]:
        """Stored header blocks' encodings by header hash, not decoded."""
        return self._blobs(q.SEL_HEADER, hashes)

    def _blobs(self, stmt: Prepared, hashes: Sequence[bytes]) -> dict[bytes32, bytes]:
        out: dict[bytes32, bytes] = {}
        for part in q.chunks(list(hashes)):
            for h, data in stmt.all(self._conn, {"hashes": part}):
                out[bytes32(h)] = bytes(data)
        return out

    def header_blocks(self, hashes: Sequence[bytes]) -> dict[bytes32, HeaderBlock]:
        """Stored header blocks by header hash (unknown hashes are left out)."""
        out: dict[bytes32, HeaderBlock] = {}
        for part in q.chunks(list(hashes)):
            for h, data in q.SEL_HEADER.all(self._conn, {"hashes": part}):
                out[bytes32(h)] = HeaderBlock.from_bytes(data)
        return out

    def full_blocks_at(self, heights: Sequence[int]) -> dict[int, FullBlock]:
        """Blocks of the heaviest chain at ``heights`` (missing heights are left out)."""
        out: dict[int, FullBlock] = {}
        for part in q.chunks(list(heights)):
            for h, data in q.SEL_FULL_AT.all(self._conn, {"heights": part}):
                out[int(h)] = FullBlock.from_bytes(data)
        return out

    def header_blocks_at(self, heights: Sequence[int]) -> dict[int, HeaderBlock]:
        """Header blocks of the heaviest chain at ``heights`` (missing heights left out)."""
        out: dict[int, HeaderBlock] = {}
        for part in q.chunks(list(heights)):
            for h, data in q.SEL_HEADER_AT.all(self._conn, {"heights": part}):
                out[int(h)] = HeaderBlock.from_bytes(data)
        return out

    def coin_records(self, ids: Iterable[bytes]) -> dict[bytes32, CoinRecord]:
        """Coin records of the heaviest chain by coin id (unknown ids are left out)."""
        out: dict[bytes32, CoinRecord] = {}
        for part in q.chunks(list(ids)):
            for row in q.SEL_COINS.all(self._conn, {"ids": part}):
                out[bytes32(row[0])] = coin_record(row)
        return out

    def coin_records_by_puzzle_hash(
        self, puzzle_hash: bytes, include_spent: bool
    ) -> list[CoinRecord]:
        """The heaviest chain's coins of ``puzzle_hash``, by confirmed height then coin id."""
        stmt = q.SEL_COINS_BY_PH if include_spent else q.SEL_UNSPENT_BY_PH
        records = [coin_record(row) for row in stmt.all(self._conn, {"ph": puzzle_hash})]
        records.sort(key=lambda r: (r.confirmed_height, r.name))
        return records

    def coin_heights(
        self, puzzle_hashes: Sequence[bytes], start: int, end: int, limit: int
    ) -> list[int]:
        """Distinct heights in [start, end] where a coin of ``puzzle_hashes`` was created or
        spent on the heaviest chain, ascending, at most ``limit``."""
        stmt = q.coin_heights_stmt(puzzle_hashes, start, end, limit)
        return [int(row[0]) for row in self._conn.execute(stmt)]

    def coin_records_on_fork(
        self, ids: Iterable[bytes32], fork_height: int, fork: Sequence[BlockDelta]
    ) -> dict[bytes32, CoinRecord]:
        """The coins ``ids`` as a chain sees it that is the heaviest chain up to
        ``fork_height``, then the blocks of ``fork`` (their coin changes, ascending). Coins that
        do not exist on that chain are left out."""
        changes = ForkCoins()
        for delta in fork:
            changes.extend(delta)
        return self.coin_records_with(ids, fork_height, changes)

    def coin_records_with(
        self, ids: Iterable[bytes32], fork_height: int, changes: ForkCoins
    ) -> dict[bytes32, CoinRecord]:
        """As :meth:`coin_records_on_fork`, with the fork's coin changes already gathered (a
        sync window's blocks extend one running :class:`ForkCoins`: linear in the window)."""
        wanted = set(ids)
        created, spent = changes.created, changes.spent
        heaviest = self.coin_records([c for c in wanted if c not in created])
        out: dict[bytes32, CoinRecord] = {}
        for coin_id in wanted:
            if coin_id in created:
                coin, height, coinbase = created[coin_id]
                out[coin_id] = CoinRecord(coin, height, spent.get(coin_id), coinbase)
                continue
            record = heaviest.get(coin_id)
            if record is None or record.confirmed_height > fork_height:
                continue  # does not exist on this chain
            spent_height = record.spent_height
            if spent_height is not None and spent_height > fork_height:
                spent_height = None  # spent only on the heaviest chain after the fork
            spent_height = spent.get(coin_id, spent_height)
            out[coin_id] = CoinRecord(
                record.coin, record.confirmed_height, spent_height, record.coinbase
            )
        return out


class ForkCoins:
    """The coins created and spent by the blocks of a fork above the heaviest chain, as running
    maps (coin id -> (coin, height, coinbase) and coin id -> spent height): a child's fork is
    its parent's plus the parent, so a window's contexts extend one map instead of replaying
    every ancestor's changes for every block."""

    def __init__(self) -> None:
        self.created: dict[bytes32, tuple[Coin, int, bool]] = {}
        self.spent: dict[bytes32, int] = {}

    def extend(self, delta: BlockDelta) -> None:
        for coin, coinbase in delta.additions:
            self.created[coin.name()] = (coin, delta.height, coinbase)
        for coin_id in delta.removals:
            self.spent[coin_id] = delta.height
