"""The message numbers, importable under their old name: they live in the message table
(``trionode.protocols.message_table``), next to each type's class, reply, route, cap and rate."""

from __future__ import annotations

from trionode.protocols.message_table import ProtocolMessageTypes

__all__ = ["ProtocolMessageTypes"]
