"""What :meth:`Blockchain.add_block` answers, and what subscribers to chain changes receive."""

from __future__ import annotations

import enum

import attrs

from trionode.consensus import Err
from trionode.protocols.chain_types import HeaderBlock
from trionode.wire import bytes32


class AddBlockStatus(enum.Enum):
    ADDED_TO_TIP = "added_to_tip"  # stored and now one of the tips (maybe the new heaviest)
    ADDED_AS_ORPHAN = "added_as_orphan"  # valid and stored, but lighter than every tip
    ALREADY_HAVE = "already_have"  # stored before; nothing changed
    DISCONNECTED = "disconnected"  # the parent is unknown; not stored (fetch the parent first)
    INVALID = "invalid"  # breaks a consensus rule (``error`` says which); not stored


@attrs.frozen
class AddBlockResult:
    """The outcome of adding one block.

    ``new_peak`` is True when the block became the heaviest tip; ``fork_height`` then is the
    height of the last block the old and new heaviest chains share (-1 when they share none), so
    a mempool knows which coins came back.
    """

    status: AddBlockStatus
    error: Err | None = None
    new_peak: bool = False
    fork_height: int | None = None

    @property
    def added(self) -> bool:
        return self.status in (AddBlockStatus.ADDED_TO_TIP, AddBlockStatus.ADDED_AS_ORPHAN)


@attrs.frozen
class ChainEvent:
    """Sent to subscribers when the tip set changes."""

    peak: HeaderBlock  # the heaviest tip after the change
    tips: tuple[bytes32, ...]  # heaviest first
    new_peak: bool  # the heaviest tip changed
    fork_height: int | None  # with new_peak: last height shared with the previous heaviest chain
