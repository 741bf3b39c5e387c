"""trionode.mempool: transactions waiting for a block, valid against the heaviest tip."""

from trionode.mempool.manager import MempoolManager
from trionode.mempool.mempool import (
    AddResult,
    AddStatus,
    Mempool,
    MempoolItem,
)

__all__ = [
    "AddResult",
    "AddStatus",
    "Mempool",
    "MempoolItem",
    "MempoolManager",
]
