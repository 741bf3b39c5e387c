"""Helpers for the storage and blockchain tests: database URLs for each back end, hand-built blocks.

PostgreSQL cases use the server named by ``TRIONODE_TEST_POSTGRES_URL`` (``scripts/ci_postgres.sh``
prints one); each test gets a fresh schema of its own (``search_path``), dropped afterwards. Without
the variable those cases skip.
"""

from __future__ import annotations

import hashlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import quote

import pytest

from trionode.protocols.chain_types import (
    Body,
    Coin,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    HeaderData,
    ProofOfSpace,
)
from trionode.storage import BlockDelta
from trionode.wire import G1Element, G2Element, bytes32, uint8, uint32, uint64, uint128

POSTGRES_ENV = "TRIONODE_TEST_POSTGRES_URL"
BACKENDS = ["sqlite", "postgres"]
ZERO32 = bytes32(bytes(32))


@contextmanager
def backend_url(backend: str, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database URL for ``backend`` ("sqlite" or "postgres")."""
    if backend == "sqlite":
        yield f"sqlite:///{tmp_path / 'db' / 'chain.sqlite'}"
        return
    base = os.environ.get(POSTGRES_ENV, "").strip()
    if not base:
        pytest.skip(
            f"PostgreSQL case: {POSTGRES_ENV} is not set "
            "(scripts/ci_postgres.sh starts a server and prints the URL)"
        )
    import psycopg

    schema = "t_" + secrets.token_hex(6)
    plain = base.replace("postgresql+psycopg://", "postgresql://", 1)
    with psycopg.connect(plain, autocommit=True) as conn:
        conn.execute(f"CREATE SCHEMA {schema}")
    sep = "&" if "?" in base else "?"
    try:
        yield f"{base}{sep}options={quote(f'-csearch_path={schema}')}"
    finally:
        with psycopg.connect(plain, autocommit=True) as conn:
            conn.execute(f"DROP SCHEMA {schema} CASCADE")


def h32(*parts: object) -> bytes32:
    return bytes32(hashlib.sha256(repr(parts).encode()).digest())


def coinbase_coin(height: int, salt: int = 0) -> Coin:
    return Coin(h32("coinbase", height, salt), h32("ph", salt), uint64(1000 + height))


def fake_block(
    parent: FullBlock | None, *, difficulty: int = 10, salt: int = 0, timestamp: int | None = None
) -> FullBlock:
    """A structurally complete block with no valid proofs (pure storage tests only)."""
    height = 0 if parent is None else int(parent.height) + 1
    prev = ZERO32 if parent is None else parent.header_hash
    weight = difficulty + (0 if parent is None else int(parent.weight))
    pos = ProofOfSpace(h32("chal", height, salt), G1Element(), None, G1Element(), uint8(18), b"p")
    body = Body(
        CoinbaseInfo(uint32(height), uint64(1000 + height), h32("ph", salt)),
        G2Element(),
        FeesTarget(h32("fees", salt), uint64(0)),
        [],
        None,
        uint64(0),
    )
    data = HeaderData(
        uint32(height),
        prev,
        uint64(timestamp if timestamp is not None else 1_000_000 + 10 * height),
        ZERO32,
        pos.get_hash(),
        body.get_hash(),
        uint128(weight),
        uint128(1000 * (height + 1)),
        h32("ext", salt),
    )
    return FullBlock(pos, None, None, Header(data, G2Element()), body)


def fake_chain(n: int, *, parent: FullBlock | None = None, salt: int = 0) -> list[FullBlock]:
    blocks: list[FullBlock] = []
    for _ in range(n):
        parent = fake_block(parent, salt=salt)
        blocks.append(parent)
    return blocks


def fake_delta(block: FullBlock, salt: int = 0, removals: tuple[bytes32, ...] = ()) -> BlockDelta:
    """The coin change of a fake block: its coinbase coin, spending ``removals``."""
    coin = coinbase_coin(int(block.height), salt)
    return BlockDelta(int(block.height), block.header_hash, ((coin, True),), removals)


def reward_coin(block: FullBlock) -> Coin:
    """The coinbase coin ``block`` creates."""
    from trionode.consensus import block_additions

    return block_additions(block)[0]
