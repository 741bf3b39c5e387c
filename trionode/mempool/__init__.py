"""trionode.mempool: transactions waiting for a block, valid against the heaviest tip."""

from trionode.mempool.manager import MempoolManager
from trionode.mempool.mempool import (
    AddResult,
    AddStatus,
    Mempool,
    MempoolItem,
    check_transaction,
    check_transaction_alone,
)

__all__ = [
    "AddResult",
    "AddStatus",
    "Mempool",
    "MempoolItem",
    "MempoolManager",
    "check_transaction",
    "check_transaction_alone",
]
