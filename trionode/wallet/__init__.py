"""trionode.wallet: spend the farm's rewards from the command line (``wallet send|balance``)."""

from trionode.wallet.payment import InsufficientFunds, build_payment, owned_puzzle_hashes

__all__ = ["InsufficientFunds", "build_payment", "owned_puzzle_hashes"]
