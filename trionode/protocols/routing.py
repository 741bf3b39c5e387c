"""Which messages each role handles, and from which node types (STYLE.md 5).

``ROUTES[receiver][message type]`` is the set of node types (from the peer's Handshake) a node of
role ``receiver`` takes that message from. It is derived from the route column of the message
table (``trionode.protocols.message_table``), so each type is handled by at most one role. A connection checks it on the message's first byte,
before decoding anything (docs/protocol.md section 1): a type its role does not handle, or one
the peer's node type may not send, closes the connection and bans the peer.

Not in the table, because they are matched separately:

- a *reply* (a type of ``REPLY_TYPES``' values or ``error``, carrying an id) answers one of our
  open requests on that connection; one that answers none is a protocol violation;
- ``error`` without an id may come from anyone (it is logged, within its rate limit).

Some reply types are also announcements in their own right (``block``, ``new_transaction``,
``respond_plots``, ``proof_of_space_arrived``...): without an id they are routed like any other.

A role's registered handlers must be a subset of its row (``PeerNode.register_api`` refuses
others); a routed type without a handler is answered ``Error(NOT_SUPPORTED)`` (a request) or
ignored (an announcement), not punished: the table says what the protocol allows, the handlers
what this build serves.
"""

from __future__ import annotations

from trionode.protocols.message_table import ROUTES
from trionode.protocols.message_table import ProtocolMessageTypes as T
from trionode.protocols.shared_protocol import NodeType

__all__ = ["ROUTES", "accepted_from", "handled_by", "why_refused"]


def handled_by(receiver: NodeType) -> frozenset[T]:
    """The message types a node of role ``receiver`` handles (from some node type)."""
    return frozenset(ROUTES[receiver])


def accepted_from(receiver: NodeType, sender: NodeType) -> frozenset[T]:
    """The message types a ``receiver`` node takes (as announcements or requests) from a peer
    whose Handshake said ``sender``. ``error`` without an id is always accepted."""
    row = ROUTES[receiver]
    return frozenset(t for t, senders in row.items() if sender in senders) | {T.error}


def why_refused(receiver: NodeType, sender: NodeType, mtype: T) -> str:
    """The specific reason a ``receiver`` refuses ``mtype`` from ``sender`` (for the ban)."""
    who = receiver.name.lower()
    senders = ROUTES[receiver].get(mtype)
    if senders is None:
        return f"{mtype.name} is not handled by a {who}"
    allowed = " or ".join(sorted(s.name.lower() for s in senders))
    return f"{mtype.name} from a {sender.name.lower()}: a {who} takes it only from a {allowed}"
