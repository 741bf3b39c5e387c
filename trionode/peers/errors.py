"""Errors of the peer layer, split by who is at fault (STYLE.md 12).

- :class:`RemoteProtocolError`: the peer misbehaved. The connection is closed and the peer's IP
  may be banned for ``ban_seconds`` (0: no ban).
- :class:`PeerRequestError` and subclasses: a request of ours did not get a usable answer
  (peer gone, deadline passed, the peer replied with ``Error``). Nobody is necessarily at fault.
- Anything else raised inside the peer layer is a local bug.
"""

from __future__ import annotations

__all__ = [
    "BAN_INVALID_BLOCK_SECONDS",
    "BAN_PROTOCOL_SECONDS",
    "BAN_RATE_ABUSE_SECONDS",
    "ConnectionClosedError",
    "DialError",
    "HandlerFailed",
    "HandshakeError",
    "MessageTooLarge",
    "PeerErrorReply",
    "PeerRequestError",
    "RateLimitExceeded",
    "RemoteProtocolError",
    "RequestRefused",
    "RequestTimeout",
    "TransportClosed",
    "UnroutedMessage",
    "UnsolicitedReply",
]

# Ban lengths (PROTOCOL.md, Bans): protocol errors get a short ban, invalid blocks and rate
# abuse a longer one.
BAN_PROTOCOL_SECONDS = 60.0
BAN_RATE_ABUSE_SECONDS = 600.0
BAN_INVALID_BLOCK_SECONDS = 3600.0


class RemoteProtocolError(Exception):
    """The peer broke the protocol. ``ban_seconds`` says how long to ban its IP (0: no ban)."""

    ban_seconds: float = BAN_PROTOCOL_SECONDS

    def __init__(self, message: str, *, ban_seconds: float | None = None) -> None:
        super().__init__(message)
        if ban_seconds is not None:
            self.ban_seconds = ban_seconds


class HandshakeError(RemoteProtocolError):
    """The handshake failed: wrong network, version, node type, order, or deadline."""


class MessageTooLarge(RemoteProtocolError):
    """A message exceeded the size cap of its type (or the transport's maximum)."""


class RateLimitExceeded(RemoteProtocolError):
    """The peer sent a message type faster than its rate limit allows."""

    ban_seconds = BAN_RATE_ABUSE_SECONDS


class UnroutedMessage(RemoteProtocolError):
    """A message type the receiving role does not handle, or does not take from the peer's node
    type (trionode.protocols.routing). Refused on its first byte, before it is decoded."""

    ban_seconds = BAN_RATE_ABUSE_SECONDS


class UnsolicitedReply(RemoteProtocolError):
    """A reply whose id matches no open request, or of the wrong type for that request."""


class TransportClosed(Exception):
    """The underlying stream is closed (by either side). ``reason`` says why, if known."""

    def __init__(self, reason: str = "closed", code: int | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.code = code


class PeerRequestError(Exception):
    """A request did not get a usable reply."""


class ConnectionClosedError(PeerRequestError):
    """The connection closed before the reply came."""


class RequestTimeout(PeerRequestError):
    """The reply did not come before the request's deadline."""


class PeerErrorReply(PeerRequestError):
    """The peer answered the request with ``Error(code, message)``."""

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"peer replied Error {code}: {message}")
        self.code = code
        self.message = message


class DialError(Exception):
    """An outbound connection could not be set up (refused, TLS failed, upgrade failed, slow)."""


class RequestRefused(Exception):
    """Raise from a message handler to answer the request with ``Error(code, message)``.

    The connection stays open: refusing a request is normal protocol flow, not a failure.
    """

    def __init__(self, code: int, message: str) -> None:
        super().__init__(f"refused ({code}): {message}")
        self.code = code
        self.message = message


class HandlerFailed(Exception):
    """A message handler raised: a local bug (or bad data it did not catch). Closes the
    connection it ran on, and only that one. Carries the message type for the log."""

    def __init__(self, message_type: str, error: Exception) -> None:
        super().__init__(f"handler for {message_type} raised {error!r}")
        self.message_type = message_type
        self.error = error
