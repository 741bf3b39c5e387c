"""Why a sync step failed, split by who is at fault (STYLE.md 12)."""

from __future__ import annotations

from trionode.peers.errors import BAN_INVALID_BLOCK_SECONDS, RemoteProtocolError


class InconsistentPeer(RemoteProtocolError):
    """A peer's sync answer contradicts itself or the chain rules: a hash list longer than its
    tip's height allows or not ending at the tip, headers or blocks that do not hash to its own
    list, an invalid header or block. The peer is banned."""

    ban_seconds = BAN_INVALID_BLOCK_SECONDS


class NoSyncPeers(Exception):
    """No connected peer can (or will) serve the chain of the sync target."""


class InvalidChain(Exception):
    """The chain being synced holds an invalid block; its server was banned."""
