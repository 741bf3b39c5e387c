"""trionode.storage: the SQL chain store behind one async boundary (see ``engine``)."""

from trionode.storage.chain_reads import ChainReader, ForkCoins
from trionode.storage.chain_records import BlockCommit, BlockDelta, BlockInfo, ChainState
from trionode.storage.chain_store import ChainStore
from trionode.storage.engine import StoreRunner, default_db_path, default_db_url, make_engine
from trionode.storage.errors import SchemaVersionError, StoreCorruptError, StoreError
from trionode.storage.schema import SCHEMA_VERSION

__all__ = [
    "SCHEMA_VERSION",
    "BlockCommit",
    "BlockDelta",
    "BlockInfo",
    "ChainReader",
    "ForkCoins",
    "ChainState",
    "ChainStore",
    "SchemaVersionError",
    "StoreCorruptError",
    "StoreError",
    "StoreRunner",
    "default_db_path",
    "default_db_url",
    "make_engine",
]
