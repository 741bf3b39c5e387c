"""Short sync: a block whose parent we lack, close to our tips, gets its parents one
``RequestBlock`` at a time from the peer that sent it (PROTOCOL.md section 4).

Every parent is checked before the next one is asked for (``check``: the detached checks and
the link to its child, in a worker thread), so a peer serving a fabricated chain is caught at
the first block, and what a fetch holds is bounded in blocks (``limit``) and bytes
(``max_bytes``). Requests are paced by the budget honest peers apply.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from trionode.peers.connection import PeerConnection
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import Block, RequestBlock
from trionode.sync.budget import RequestBudget
from trionode.sync.errors import InconsistentPeer
from trionode.wire import bytes32

#: ``check(child, parent)`` raises InconsistentPeer for a bad parent, returns its size.
CheckParent = Callable[[FullBlock, FullBlock], Awaitable[int]]


class TooFarBehind(Exception):
    """More than the allowed number (or bytes) of parents are missing: a long sync's job."""


async def fetch_missing_parents(
    peer: PeerConnection,
    block: FullBlock,
    have: Callable[[bytes32], bool],
    limit: int,
    *,
    check: CheckParent | None = None,
    max_bytes: int | None = None,
    budget: RequestBudget | None = None,
) -> list[FullBlock]:
    """``block`` preceded by its missing ancestors, oldest first, down to one whose parent we
    ``have``. Raises TooFarBehind after ``limit`` fetches or ``max_bytes`` fetched,
    InconsistentPeer if the peer answers with another block or one ``check`` rejects,
    PeerRequestError if it cannot answer."""
    chain = [block]
    held = 0
    while chain[-1].height > 0 and not have(chain[-1].prev_header_hash):
        if len(chain) > limit:
            raise TooFarBehind(f"more than {limit} blocks missing below height {block.height}")
        wanted = chain[-1].prev_header_hash
        if budget is not None:
            await budget.spend(peer, T.request_block)
        reply = await peer.request(RequestBlock(wanted))
        if not isinstance(reply, Block) or reply.block.header_hash != wanted:
            raise InconsistentPeer("answered RequestBlock with another block")
        if reply.block.height + 1 != chain[-1].height:
            raise InconsistentPeer("answered RequestBlock with a block at the wrong height")
        if check is not None:
            held += await check(chain[-1], reply.block)
        chain.append(reply.block)
        if max_bytes is not None and held > max_bytes:
            raise TooFarBehind(
                f"parents below height {block.height} exceed {max_bytes} bytes to short sync"
            )
    chain.reverse()
    return chain
