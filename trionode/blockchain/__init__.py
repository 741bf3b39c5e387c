"""trionode.blockchain: tips, the heaviest chain and its coin set, on top of the chain store."""

from trionode.blockchain.blockchain import Blockchain
from trionode.blockchain.chain_view import block_delta
from trionode.blockchain.results import AddBlockResult, AddBlockStatus, ChainEvent

__all__ = ["AddBlockResult", "AddBlockStatus", "Blockchain", "ChainEvent", "block_delta"]
