"""trionode.consensus: the chain's rules as pure functions (PROTOCOL.md sections 2 and 3).

No I/O, no trio, no SQL: the Blockchain gathers a ``ValidationContext`` and calls these, possibly
from worker threads.
"""

from trionode.consensus.constants import (
    DEVNET,
    NETWORKS,
    SIM,
    TESTNET,
    ConsensusConstants,
    block_reward,
    get_constants,
    make_constants,
)
from trionode.consensus.context import CoinRecord, ValidationContext

__all__ = [
    "DEVNET",
    "NETWORKS",
    "SIM",
    "TESTNET",
    "CoinRecord",
    "ConsensusConstants",
    "ValidationContext",
    "block_reward",
    "get_constants",
    "make_constants",
]
