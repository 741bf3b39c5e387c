"""Short sync: a block whose parent we lack, close to our tips, gets its parents one
``RequestBlock`` at a time from the peer that sent it (PROTOCOL.md section 4)."""

from __future__ import annotations

from collections.abc import Callable

from trionode.peers.connection import PeerConnection
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import Block, RequestBlock
from trionode.sync.errors import InconsistentPeer
from trionode.wire import bytes32


class TooFarBehind(Exception):
    """More than the allowed number of parents are missing: a long sync's job."""


async def fetch_missing_parents(
    peer: PeerConnection,
    block: FullBlock,
    have: Callable[[bytes32], bool],
    limit: int,
) -> list[FullBlock]:
    """``block`` preceded by its missing ancestors, oldest first, down to one whose parent we
    ``have``. Raises TooFarBehind after ``limit`` fetches, InconsistentPeer if the peer answers
    with another block, PeerRequestError if it cannot answer."""
    chain = [block]
    while chain[-1].height > 0 and not have(chain[-1].prev_header_hash):
        if len(chain) > limit:
            raise TooFarBehind(f"more than {limit} blocks missing below height {block.height}")
        wanted = chain[-1].prev_header_hash
        reply = await peer.request(RequestBlock(wanted))
        if not isinstance(reply, Block) or reply.block.header_hash != wanted:
            raise InconsistentPeer("answered RequestBlock with another block")
        if reply.block.height + 1 != chain[-1].height:
            raise InconsistentPeer("answered RequestBlock with a block at the wrong height")
        chain.append(reply.block)
    chain.reverse()
    return chain
