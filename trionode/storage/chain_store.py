"""The chain store: blocks, header blocks, the heaviest chain, tips and its coin set.

:class:`ChainStore` is the chain's typed boundary: every coroutine is one hop through
:class:`~trionode.storage.engine.StoreRunner` and returns blocks, headers or coin records. The
SQL is in the modules beside it: ``chain_sql`` (statements), ``chain_reads`` (the
:class:`~trionode.storage.chain_reads.ChainReader` of one read snapshot), ``chain_writes``
(schema and commit) and ``chain_integrity`` (the start-up check).

A block and everything it changes (its rows, the tip set, the height map and the coin set after a
reorg) are written by :meth:`ChainStore.commit` in one transaction, so a process killed at any
instant leaves either the state before the block or the state after it. :meth:`ChainStore.open`
checks the store before anyone uses it and raises :class:`StoreCorruptError` naming the problem.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from typing import Any, Concatenate, ParamSpec, TypeVar

import trio
from sqlalchemy import Connection
from sqlalchemy.exc import DatabaseError, OperationalError

from trionode.consensus.context import CoinRecord
from trionode.protocols.chain_types import FullBlock, HeaderBlock
from trionode.storage import schema as s
from trionode.storage.chain_integrity import check_integrity_sync
from trionode.storage.chain_reads import ChainReader
from trionode.storage.chain_records import BlockCommit, BlockDelta, BlockInfo, ChainState
from trionode.storage.chain_writes import commit_many_sync, commit_sync, init_schema_sync
from trionode.storage.engine import StoreRunner, make_engine
from trionode.storage.errors import StoreCorruptError, StoreError
from trionode.wire import bytes32

__all__ = ["BlockCommit", "BlockDelta", "BlockInfo", "ChainReader", "ChainState", "ChainStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
R = TypeVar("R")
P = ParamSpec("P")


class ChainStore:
    """Async access to the chain tables; open with :meth:`open`, close with :meth:`aclose`.

    ``runner`` is the database's one :class:`StoreRunner` (one engine, one writer); other stores
    of the same database (the peers table) share it rather than open a second engine.
    """

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
        return self.runner.where

    async def aclose(self) -> None:
        await self.runner.aclose()

    async def __aenter__(self) -> ChainStore:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def snapshot(
        self, fn: Callable[Concatenate[ChainReader, P], T], *args: P.args, **kwargs: P.kwargs
    ) -> T:
        """Run ``fn(reader, *args, **kwargs)`` in a worker thread on one read snapshot.

        For a caller whose lookups depend on each other (which ancestor's header is needed
        next is decided by consensus as it goes): they share one hop instead of one each.
        ``fn`` runs off the event loop; it must touch only thread-safe state.
        """

        def run(conn: Connection) -> T:
            return fn(ChainReader(conn), *args, **kwargs)

        return await self.runner.read(run)

    async def snapshot_then(
        self,
        fn: Callable[..., R],
        args: tuple[Any, ...],
        then: Callable[[R], T],
        *,
        limiter: trio.CapacityLimiter,
        read_done: trio.Event,
    ) -> T:
        """``then(fn(reader, *args))`` in one worker thread: ``fn`` on one read snapshot as
        :meth:`snapshot`, ``then`` after the snapshot ended, under ``limiter``; ``read_done``
        is set once the snapshot ended (:meth:`StoreRunner.read_then`)."""

        def run(conn: Connection) -> R:
            return fn(ChainReader(conn), *args)

        return await self.runner.read_then(run, (), then, limiter=limiter, read_done=read_done)

    async def check_integrity(self) -> None:
        await self.runner.read(check_integrity_sync)

    async def load_state(self) -> ChainState:
        return await self.snapshot(ChainReader.load_state)

    async def commit(self, commit: BlockCommit) -> None:
        await self.runner.write(commit_sync, commit)

    async def commit_many(self, commits: Sequence[BlockCommit]) -> None:
        """Several commits (each built on the state the previous leaves) in one transaction:
        one fsync for a sync window; a kill leaves all of them or none."""
        await self.runner.write(commit_many_sync, list(commits))

    async def get_full_block(self, header_hash: bytes32) -> FullBlock | None:
        return (await self.get_full_blocks([header_hash])).get(header_hash)

    async def get_full_blocks(self, hashes: Sequence[bytes32]) -> dict[bytes32, FullBlock]:
        return await self.snapshot(ChainReader.full_blocks, hashes)

    async def get_full_block_bytes(self, hashes: Sequence[bytes32]) -> dict[bytes32, bytes]:
        """Stored blocks as stored (their encodings), for serving without decoding."""
        return await self.snapshot(ChainReader.full_block_bytes, hashes)

    async def get_header_block_bytes(self, hashes: Sequence[bytes32]) -> dict[bytes32, bytes]:
        """Stored header blocks (kept beside their blocks) as stored."""
        return await self.snapshot(ChainReader.header_block_bytes, hashes)

    async def get_header_block(self, header_hash: bytes32) -> HeaderBlock | None:
        return (await self.get_header_blocks([header_hash])).get(header_hash)

    async def get_header_blocks(self, hashes: Sequence[bytes32]) -> dict[bytes32, HeaderBlock]:
        return await self.snapshot(ChainReader.header_blocks, hashes)

    async def get_full_blocks_at(self, heights: Sequence[int]) -> dict[int, FullBlock]:
        """Blocks of the heaviest chain at ``heights`` (missing heights are left out)."""
        return await self.snapshot(ChainReader.full_blocks_at, heights)

    async def get_header_blocks_at(self, heights: Sequence[int]) -> dict[int, HeaderBlock]:
        """Header blocks of the heaviest chain at ``heights`` (missing heights are left out)."""
        return await self.snapshot(ChainReader.header_blocks_at, heights)

    async def get_coin_record(self, coin_id: bytes32) -> CoinRecord | None:
        return (await self.get_coin_records([coin_id])).get(coin_id)

    async def get_coin_records(self, ids: Sequence[bytes32]) -> dict[bytes32, CoinRecord]:
        return await self.snapshot(ChainReader.coin_records, ids)

    async def get_coin_records_by_puzzle_hash(
        self, puzzle_hash: bytes32, *, include_spent: bool = True
    ) -> list[CoinRecord]:
        return await self.snapshot(
            ChainReader.coin_records_by_puzzle_hash, puzzle_hash, include_spent
        )

    async def get_coin_heights(
        self, puzzle_hashes: Sequence[bytes32], start: int, end: int, limit: int
    ) -> list[int]:
        """Distinct heights in [start, end] where a coin of ``puzzle_hashes`` was created or
        spent on the heaviest chain, ascending, at most ``limit`` (the wallet protocol's
        ``request_coin_heights``)."""
        return await self.snapshot(ChainReader.coin_heights, puzzle_hashes, start, end, limit)
