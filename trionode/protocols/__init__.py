"""Every protocol message of the seeds, the chain types, and the message number tables."""

from trionode.protocols.message_table import (
    MESSAGE_CLASSES,
    MESSAGE_TYPES,
    REPLY_TYPES,
    Encoded,
    ProtocolMessageTypes,
    decode_message,
    decoded,
    make_message,
    message_type_of,
)

__all__ = [
    "MESSAGE_CLASSES",
    "MESSAGE_TYPES",
    "REPLY_TYPES",
    "Encoded",
    "ProtocolMessageTypes",
    "decode_message",
    "decoded",
    "make_message",
    "message_type_of",
]
