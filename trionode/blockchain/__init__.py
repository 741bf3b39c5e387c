"""trionode.blockchain: tips, the heaviest chain and its coin set, on top of the chain store."""

from trionode.blockchain.blockchain import Blockchain, block_delta
from trionode.blockchain.results import AddBlockResult, AddBlockStatus, ChainEvent

__all__ = ["AddBlockResult", "AddBlockStatus", "Blockchain", "ChainEvent", "block_delta"]
