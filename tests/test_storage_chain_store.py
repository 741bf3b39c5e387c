"""The chain store on SQLite and (when available) PostgreSQL: round trips, schema versioning,
one-transaction commits and the integrity check that stops start-up on a corrupt store."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
import trio
from sqlalchemy import Connection, delete, insert, select, update

from tests.chain_store_helpers import (
    BACKENDS,
    backend_url,
    coinbase_coin,
    fake_block,
    fake_chain,
    fake_delta,
    h32,
)
from trionode.consensus.context import CoinRecord
from trionode.protocols.chain_types import FullBlock
from trionode.storage import (
    SCHEMA_VERSION,
    BlockCommit,
    ChainReader,
    ChainStore,
    SchemaVersionError,
    StoreCorruptError,
    StoreError,
    default_db_path,
    default_db_url,
    make_engine,
)
from trionode.storage import schema as s
from trionode.wire import bytes32


@pytest.fixture(params=BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


@pytest.fixture
async def store(store_url: str) -> AsyncIterator[ChainStore]:
    st = await ChainStore.open(store_url)
    try:
        yield st
    finally:
        await st.aclose()


async def commit_linear(store: ChainStore, blocks: list[FullBlock], seen0: int = 0) -> None:
    """Commit blocks that each extend the heaviest chain (tips: the last three)."""
    for i, block in enumerate(blocks):
        tips = tuple(b.header_hash for b in blocks[max(0, i - 2) : i + 1])
        await store.commit(
            BlockCommit(
                block,
                seen0 + i,
                tips=tips,
                fork_height=int(block.height) - 1,
                apply=(fake_delta(block),),
            )
        )


async def execute(store: ChainStore, stmt: object) -> None:
    def run(conn: object) -> None:
        conn.execute(stmt)  # type: ignore[attr-defined]

    await store.runner.write(run)


async def test_empty_store_opens_and_loads(store: ChainStore) -> None:
    state = await store.load_state()
    assert state.blocks == {} and state.height_map == [] and state.tips == []
    await store.check_integrity()
    assert await store.get_full_block(h32("nothing")) is None
    assert await store.get_coin_record(h32("nothing")) is None


async def test_round_trip_blocks_chain_and_coins(store: ChainStore) -> None:
    blocks = fake_chain(6)
    await commit_linear(store, blocks)
    await store.check_integrity()

    state = await store.load_state()
    assert state.height_map == [b.header_hash for b in blocks]
    assert set(state.tips) == {b.header_hash for b in blocks[-3:]}
    info = state.blocks[blocks[4].header_hash]
    assert (info.height, info.prev_hash, info.weight, info.seen) == (
        4,
        blocks[3].header_hash,
        int(blocks[4].weight),
        4,
    )

    for b in blocks:
        assert await store.get_full_block(b.header_hash) == b
        assert await store.get_header_block(b.header_hash) == b.header_block()
    by_height = await store.get_full_blocks_at([0, 3, 5, 99])
    assert by_height == {0: blocks[0], 3: blocks[3], 5: blocks[5]}
    headers = await store.get_header_blocks_at([1, 2])
    assert headers == {1: blocks[1].header_block(), 2: blocks[2].header_block()}

    coin = coinbase_coin(2)
    record = await store.get_coin_record(coin.name())
    assert record is not None
    assert (record.coin, record.confirmed_height, record.spent_height, record.coinbase) == (
        coin,
        2,
        None,
        True,
    )
    by_ph = await store.get_coin_records_by_puzzle_hash(coin.puzzle_hash)
    assert [r.confirmed_height for r in by_ph] == [0, 1, 2, 3, 4, 5]


async def test_large_amount_and_weight_round_trip(store: ChainStore) -> None:
    # uint64 amounts and uint128 weights above the signed 64-bit range survive both back ends.
    from trionode.protocols.chain_types import Coin
    from trionode.storage import BlockDelta
    from trionode.wire import uint64

    block = fake_block(None, difficulty=2**100)
    big = Coin(h32("big"), h32("ph-big"), uint64(2**64 - 1))
    await store.commit(
        BlockCommit(
            block,
            0,
            tips=(block.header_hash,),
            fork_height=-1,
            apply=(BlockDelta(0, block.header_hash, ((big, True),), ()),),
        )
    )
    state = await store.load_state()
    assert state.blocks[block.header_hash].weight == 2**100
    record = await store.get_coin_record(big.name())
    assert record is not None and record.coin.amount == 2**64 - 1


async def test_spend_and_reorg_rolls_coins_back(store: ChainStore) -> None:
    main = fake_chain(3)  # heights 0..2
    await commit_linear(store, main)
    spent = coinbase_coin(1).name()
    b3 = fake_block(main[-1])
    await store.commit(
        BlockCommit(b3, 3, tips=None, fork_height=2, apply=(fake_delta(b3, removals=(spent,)),))
    )
    record = await store.get_coin_record(spent)
    assert record is not None and record.spent_height == 3

    # A heavier fork from height 1: heights 2..4 replaced, the spend at 3 undone.
    fork = fake_chain(3, parent=main[1], salt=7)
    deltas = tuple(fake_delta(b, salt=7) for b in fork)
    for i, b in enumerate(fork[:-1]):
        await store.commit(BlockCommit(b, 10 + i))
    await store.commit(
        BlockCommit(
            fork[-1],
            20,
            tips=(fork[-1].header_hash, b3.header_hash, fork[-2].header_hash),
            fork_height=1,
            apply=deltas,
        )
    )
    await store.check_integrity()
    state = await store.load_state()
    assert state.height_map == [main[0].header_hash, main[1].header_hash] + [
        b.header_hash for b in fork
    ]
    record = await store.get_coin_record(spent)
    assert record is not None and record.spent_height is None
    assert await store.get_coin_record(coinbase_coin(2).name()) is None  # main's height-2 coin
    assert await store.get_coin_record(coinbase_coin(3).name()) is None
    assert (await store.get_coin_record(coinbase_coin(4, 7).name())) is not None
    # Orphaned blocks stay stored.
    assert await store.get_full_block(main[2].header_hash) == main[2]


async def test_coins_seen_from_a_fork_and_coin_heights(store: ChainStore) -> None:
    """The typed reads the Blockchain and the wallet protocol use: coins as a fork sees them
    (the heaviest chain up to the fork, then the fork's own changes) and coin heights."""
    main = fake_chain(3)  # heights 0..2
    await commit_linear(store, main)
    c0, c1, c2 = (coinbase_coin(h).name() for h in range(3))
    b3 = fake_block(main[-1])
    await store.commit(
        BlockCommit(b3, 3, tips=None, fork_height=2, apply=(fake_delta(b3, removals=(c1,)),))
    )
    # A fork from height 1: a block at 2 creating its own coin, one at 3 spending c0.
    fork = fake_chain(2, parent=main[1], salt=7)
    fork_deltas = (fake_delta(fork[0], salt=7), fake_delta(fork[1], salt=7, removals=(c0,)))
    c2_fork = coinbase_coin(2, 7).name()
    unknown = h32("no such coin")

    def on_fork(reader: ChainReader) -> dict[bytes32, CoinRecord]:
        return reader.coin_records_on_fork([c0, c1, c2, c2_fork, unknown], 1, fork_deltas)

    seen = await store.snapshot(on_fork)
    assert set(seen) == {c0, c1, c2_fork}  # main's c2 is above the fork; unknown is nowhere
    assert (seen[c0].confirmed_height, seen[c0].spent_height) == (0, 3)  # spent on the fork
    assert (seen[c1].confirmed_height, seen[c1].spent_height) == (1, None)  # main spent it at 3
    assert (seen[c2_fork].confirmed_height, seen[c2_fork].spent_height) == (2, None)

    ph = coinbase_coin(0).puzzle_hash  # every salt-0 coinbase coin pays it
    assert await store.get_coin_heights([ph], 0, 10, 10) == [0, 1, 2, 3]
    assert await store.get_coin_heights([ph], 0, 10, 2) == [0, 1]
    assert await store.get_coin_heights([ph], 2, 2, 10) == [2]
    assert await store.get_coin_heights([h32("nobody")], 0, 10, 10) == []


async def test_failed_commit_leaves_nothing(store: ChainStore) -> None:
    main = fake_chain(2)
    await commit_linear(store, main)
    bad = fake_block(main[-1])
    with pytest.raises(StoreCorruptError, match="coin_set"):
        await store.commit(
            BlockCommit(
                bad,
                5,
                tips=(bad.header_hash,),
                fork_height=1,
                apply=(fake_delta(bad, removals=(h32("no such coin"),)),),
            )
        )
    assert await store.get_full_block(bad.header_hash) is None
    state = await store.load_state()
    assert state.height_map == [b.header_hash for b in main]
    assert bad.header_hash not in state.tips
    await store.check_integrity()


async def test_reads_run_while_writing(store: ChainStore) -> None:
    blocks = fake_chain(20)
    seen: list[int] = []

    async def reader() -> None:
        for _ in range(20):
            state = await store.load_state()
            # Each read is one snapshot: a non-empty height map always ends at a tip.
            assert not state.height_map or state.height_map[-1] in state.tips
            assert len(state.blocks) == len(state.height_map)
            seen.append(len(state.height_map))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(reader)
        nursery.start_soon(reader)
        await commit_linear(store, blocks)
    assert len(seen) == 40 and max(seen) <= 20


async def test_reopen_keeps_everything(store_url: str) -> None:
    blocks = fake_chain(4)
    async with await ChainStore.open(store_url) as st:
        await commit_linear(st, blocks)
    async with await ChainStore.open(store_url) as st:
        state = await st.load_state()
        assert state.height_map == [b.header_hash for b in blocks]


async def test_newer_schema_version_is_refused(store_url: str) -> None:
    async with await ChainStore.open(store_url) as st:
        await execute(st, update(s.schema_version).values(version=SCHEMA_VERSION + 1))
    with pytest.raises(SchemaVersionError, match="newer than the version this trionode supports"):
        await ChainStore.open(store_url)


async def test_foreign_tables_without_version_are_refused(store_url: str) -> None:
    async with await ChainStore.open(store_url) as st:
        await execute(st, delete(s.schema_version))
    with pytest.raises(StoreCorruptError, match="schema_version table is empty"):
        await ChainStore.open(store_url)

    engine = make_engine(store_url)
    try:
        with engine.begin() as conn:
            s.schema_version.drop(conn)
    finally:
        engine.dispose()
    with pytest.raises(StoreCorruptError, match="no_schema_version"):
        await ChainStore.open(store_url)


CORRUPTIONS = {
    "height_gap": lambda blocks: delete(s.chain).where(s.chain.c.height == 2),
    "tip_missing": lambda blocks: insert(s.tips).values(header_hash=h32("ghost")),
    "no_tips": lambda blocks: delete(s.tips),
    "chain_block_missing": lambda blocks: (
        update(s.chain).where(s.chain.c.height == 1).values(header_hash=h32("ghost"))
    ),
    "chain_link_broken": lambda blocks: (
        update(s.full_blocks)
        .where(s.full_blocks.c.header_hash == blocks[3].header_hash)
        .values(prev_hash=h32("elsewhere"))
    ),
    "heaviest_tip_mismatch": lambda blocks: delete(s.chain).where(s.chain.c.height == 4),
    "chain_weight_mismatch": lambda blocks: (
        update(s.chain).where(s.chain.c.height == 2).values(weight=bytes(16))
    ),
    "header_block_missing": lambda blocks: delete(s.header_blocks).where(
        s.header_blocks.c.height == 1
    ),
    "coin_height": lambda blocks: (
        update(s.coins).where(s.coins.c.confirmed_height == 1).values(spent_height=0)
    ),
    "coins_missing": lambda blocks: delete(s.coins).where(s.coins.c.confirmed_height == 3),
}


@pytest.mark.parametrize("problem", sorted(CORRUPTIONS))
async def test_corrupt_store_is_refused_at_open(store_url: str, problem: str) -> None:
    blocks = fake_chain(5)
    async with await ChainStore.open(store_url) as st:
        await commit_linear(st, blocks)
        await execute(st, CORRUPTIONS[problem](blocks))
    with pytest.raises(StoreCorruptError) as info:
        await ChainStore.open(store_url)
    assert info.value.problem == problem
    assert "corrupt chain store" in str(info.value)


async def test_version_1_store_is_migrated(store_url: str) -> None:
    """A store written before the chain table had weights opens, gains them, and keeps its
    blocks."""
    blocks = fake_chain(5)
    async with await ChainStore.open(store_url) as st:
        await commit_linear(st, blocks)

        def downgrade(conn: Connection) -> None:
            conn.exec_driver_sql("ALTER TABLE chain DROP COLUMN weight")
            conn.execute(update(s.schema_version).values(version=1))

        await st.runner.write(downgrade)
    async with await ChainStore.open(store_url) as st:

        def chain_rows(conn: Connection) -> list[tuple[int, bytes, bytes]]:
            query = select(s.chain.c.height, s.chain.c.header_hash, s.chain.c.weight)
            return [tuple(row) for row in conn.execute(query.order_by(s.chain.c.height))]

        def version(conn: Connection) -> int:
            return int(conn.execute(select(s.schema_version.c.version)).scalar_one())

        rows = await st.runner.read(chain_rows)
        assert [(h, bytes(hh), s.weight_from_bytes(w)) for h, hh, w in rows] == [
            (int(b.height), b.header_hash, int(b.weight)) for b in blocks
        ]
        assert await st.runner.read(version) == SCHEMA_VERSION == 2
        assert len((await st.load_state()).blocks) == 5


async def test_closed_store_refuses_calls(store: ChainStore) -> None:
    await store.aclose()
    with pytest.raises(StoreError, match="closed"):
        await store.load_state()


def test_default_location_and_bad_urls(tmp_path: Path) -> None:
    assert default_db_path(tmp_path, "devnet") == tmp_path / "db" / "blockchain_devnet.sqlite"
    assert default_db_url(tmp_path, "sim").endswith("/db/blockchain_sim.sqlite")
    with pytest.raises(ValueError, match="in-memory"):
        make_engine("sqlite://")
    with pytest.raises(ValueError, match="psycopg"):
        make_engine("postgresql+psycopg2://u:p@127.0.0.1/db")
    with pytest.raises(ValueError, match="unsupported"):
        make_engine("mysql+pymysql://u:p@127.0.0.1/db")


async def test_sqlite_file_uses_wal(tmp_path: Path) -> None:
    url = default_db_url(tmp_path, "sim")
    async with await ChainStore.open(url) as st:

        def pragmas(conn: object) -> tuple[str, int]:
            journal = conn.exec_driver_sql("PRAGMA journal_mode").scalar()  # type: ignore[attr-defined]
            sync = conn.exec_driver_sql("PRAGMA synchronous").scalar()  # type: ignore[attr-defined]
            return journal, sync

        journal, sync = await st.runner.read(pragmas)
    assert journal == "wal"
    assert sync == 2  # FULL
    assert default_db_path(tmp_path, "sim").exists()


async def test_garbage_file_is_a_corrupt_store(tmp_path: Path) -> None:
    path = tmp_path / "db" / "chain.sqlite"
    path.parent.mkdir()
    path.write_bytes(b"this is not a database, just some bytes" * 100)
    with pytest.raises(StoreCorruptError) as info:
        await ChainStore.open(f"sqlite:///{path}")
    assert info.value.problem == "unreadable"


async def test_unreachable_database_is_a_store_error(tmp_path: Path) -> None:
    (tmp_path / "dir.sqlite").mkdir()  # a directory where the database file should be
    with pytest.raises(StoreError, match="cannot open the chain store"):
        await ChainStore.open(f"sqlite:///{tmp_path / 'dir.sqlite'}")
    # Nothing listens on port 1 of the loopback: connection refused.
    with pytest.raises(StoreError, match="cannot open the chain store"):
        await ChainStore.open("postgresql+psycopg://nobody:secret@127.0.0.1:1/none")
