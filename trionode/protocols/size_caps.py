"""The largest envelope each message type may have (docs/protocol.md section 1).

The caps, and the derivation of each from the message's fields, are columns of the message table
(``trionode.protocols.message_table``), where every type has its row; this module keeps their
old import path.
"""

from __future__ import annotations

from trionode.protocols.message_table import (
    MAX_BLOCK_MESSAGE,
    MESSAGE_SIZE_CAPS,
    UNBOUNDED,
    KiB,
    MiB,
)

__all__ = ["KiB", "MAX_BLOCK_MESSAGE", "MESSAGE_SIZE_CAPS", "MiB", "UNBOUNDED"]
