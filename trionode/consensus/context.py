"""What validation needs besides the block itself (the contract between consensus and storage).

The Blockchain (which owns the store) gathers a ``ValidationContext`` for a block; the
``validate_*`` functions are then pure functions of (constants, block, context) and can run in
worker threads. Nothing here does I/O.
"""

from __future__ import annotations

from collections.abc import Mapping

import attrs

from trionode.protocols.chain_types import Coin, HeaderBlock
from trionode.wire import bytes32


@attrs.frozen
class CoinRecord:
    """A coin as seen on one chain: where it was created and, if so, where it was spent."""

    coin: Coin
    confirmed_height: int  # height of the block that created it
    spent_height: int | None  # height of the block that spent it, None if unspent
    coinbase: bool  # created by a coinbase or a fees target

    @property
    def name(self) -> bytes32:
        """The coin id (``coin.name()``)."""
        return self.coin.name()

    @property
    def spent(self) -> bool:
        return self.spent_height is not None


@attrs.frozen
class ValidationContext:
    """Everything validate_* needs besides the block itself, gathered by the Blockchain
    (which has the store) so that validation can run as a pure function in a worker thread.

    ``coins`` holds every coin the block spends, as seen on the block's own chain at its parent
    (``spent_height`` set if it is spent there); a missing id means "does not exist on this
    chain". Coins created by the block itself are not in it: a block cannot spend its own
    additions.
    """

    parent: HeaderBlock | None  # None only for a block at height 0 (answers the genesis challenge)
    difficulty: int  # the difficulty this block must have (next_difficulty of parent)
    median_timestamp: int | None  # median of the last (up to) 11 ancestors' timestamps
    now: int  # wall-clock seconds, for MAX_FUTURE_TIME
    coins: Mapping[bytes32, CoinRecord] = attrs.field(factory=dict)
