"""Introducer protocol, full node -> introducer (seed 002)."""

from __future__ import annotations

from trionode.protocols.peer_protocol import PeerInfo
from trionode.wire import Streamable, streamable


@streamable
class RequestPeersIntroducer(Streamable):
    pass


@streamable
class RespondPeersIntroducer(Streamable):
    peer_list: list[PeerInfo]
