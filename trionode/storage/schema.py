"""The chain store's tables (schema version 2; version 1 stores are migrated at open).

Every hash is a 32-byte blob. Integers that can exceed a signed 64-bit column are stored as
fixed-width big-endian blobs: weights (uint128, 16 bytes) and coin amounts (uint64, 8 bytes);
fixed width keeps them comparable byte-wise on both SQLite and PostgreSQL. Heights are BIGINT
because PostgreSQL's INTEGER is signed 32-bit and heights are uint32.

Tables:

- ``schema_version``: one row, the version the rest was written with.
- ``full_blocks``: every stored block, valid and connected (orphans included), keyed by header
  hash, with height, weight, prev hash, ``seen`` (the order blocks were first stored: ties between
  equal weights go to the block seen first) and the serialized FullBlock.
- ``header_blocks``: the serialized HeaderBlock of each stored block, so header sync never decodes
  full blocks.
- ``chain``: height -> header hash and weight of the heaviest chain, from 0 to the heaviest
  tip. (Version 1 had no weight column; the migration adds it, filled from ``full_blocks``.)
- ``tips``: the (up to NUMBER_OF_TIPS) tip hashes.
- ``coins``: the coin set of the heaviest chain: created at ``confirmed_height``, spent at
  ``spent_height`` (NULL when unspent).
"""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    Table,
)

SCHEMA_VERSION = 2

metadata = MetaData()

schema_version = Table(
    "schema_version",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=False),
    Column("version", Integer, nullable=False),
)

full_blocks = Table(
    "full_blocks",
    metadata,
    Column("header_hash", LargeBinary(32), primary_key=True),
    Column("height", BigInteger, nullable=False),
    Column("weight", LargeBinary(16), nullable=False),
    Column("prev_hash", LargeBinary(32), nullable=False),
    Column("seen", BigInteger, nullable=False, unique=True),
    Column("block", LargeBinary, nullable=False),
)
Index("full_blocks_height", full_blocks.c.height)

header_blocks = Table(
    "header_blocks",
    metadata,
    Column("header_hash", LargeBinary(32), primary_key=True),
    Column("height", BigInteger, nullable=False),
    Column("block", LargeBinary, nullable=False),
)

chain = Table(
    "chain",
    metadata,
    Column("height", BigInteger, primary_key=True, autoincrement=False),
    Column("header_hash", LargeBinary(32), nullable=False, unique=True),
    # NULL only for a row of a migrated version 1 store that had no block (the integrity check
    # at open reports that); new rows always carry their block's weight.
    Column("weight", LargeBinary(16), nullable=True),
)

tips = Table(
    "tips",
    metadata,
    Column("header_hash", LargeBinary(32), primary_key=True),
)

coins = Table(
    "coins",
    metadata,
    Column("coin_id", LargeBinary(32), primary_key=True),
    Column("puzzle_hash", LargeBinary(32), nullable=False),
    Column("parent", LargeBinary(32), nullable=False),
    Column("amount", LargeBinary(8), nullable=False),
    Column("confirmed_height", BigInteger, nullable=False),
    Column("spent_height", BigInteger, nullable=True),
    Column("coinbase", Boolean, nullable=False),
)
Index("coins_puzzle_hash", coins.c.puzzle_hash)
Index("coins_confirmed_height", coins.c.confirmed_height)
Index("coins_spent_height", coins.c.spent_height)

ALL_TABLES = (schema_version, full_blocks, header_blocks, chain, tips, coins)


def weight_to_bytes(weight: int) -> bytes:
    return weight.to_bytes(16, "big")


def weight_from_bytes(data: bytes) -> int:
    return int.from_bytes(data, "big")


def amount_to_bytes(amount: int) -> bytes:
    return amount.to_bytes(8, "big")


def amount_from_bytes(data: bytes) -> int:
    return int.from_bytes(data, "big")
