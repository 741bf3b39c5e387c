"""Block and unfinished-block relay to the other full nodes, per peer, from what each is known
to have (:mod:`trionode.peers.holdings`; the rules are docs/protocol.md 2.5).

- An unfinished block this node holds goes to every full node it has not been sent to,
  including the peer it came from: that copy tells the sender that we hold it (the protocol has
  no smaller acknowledgement), so each side of a link learns what the other holds.
- A proof of time that finishes unfinished blocks we hold goes, once verified and before we
  add the blocks, to the peers that hold one of them (they finish it themselves) and back to
  the peers that sent it to us (it tells them we have the block).
- A block added to a tip goes, per peer: to one that sent it to us or was sent it (or its
  proof) already, nothing; to one that holds its unfinished block and sent us the
  NewProofOfTime finishing it, that proof back; to one that holds its unfinished block, only
  the NewProofOfTime; to any other, the Block. A proof from a peer vouches only for the blocks
  whose unfinished block it showed us (one proof finishes every variant held for its challenge
  and iterations, and the peer's variants may not be ours).
- A peer sent only the proof must show it has the block (that proof or the Block comes back
  from it) within ``fallback_seconds``; otherwise it is sent the Block from our store. So a
  peer that claimed an unfinished block it did not keep (dropped from a full pool, or a liar)
  still gets the block, and its claim never made us withhold anything from another peer.
"""

from __future__ import annotations

import collections
import logging
from collections.abc import Sequence

import attrs
import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.peers.connection import PeerConnection
from trionode.peers.holdings import Held, HoldingsBook
from trionode.protocols import Encoded
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock, ProofOfTime
from trionode.protocols.peer_protocol import Block, NewProofOfTime, UnfinishedBlock
from trionode.protocols.shared_protocol import NodeType
from trionode.roles.full_node.outbox import Outbox
from trionode.wire import bytes32

logger = logging.getLogger(__name__)

#: How long a peer sent only the proof has to show it has the block. An honest peer needs
#: one proof verification and one block validation; a late answer costs a redundant Block.
FALLBACK_SECONDS = 2.0
#: Peers sent only the proof and not answered yet; when full, a holder is sent the Block.
MAX_PENDING = 1024
#: Times a fallback looks again for a block not stored yet (our commit still running).
FALLBACK_TRIES = 5


@attrs.frozen
class _Owed:
    deadline: float
    conn: PeerConnection
    header_hash: bytes32
    proof_hash: bytes32
    tries: int = 0


class BlockRelay:
    """See the module docstring. ``holdings`` is filled by the message handlers (what each
    peer sent us) and here (what we sent it); :meth:`fallback_loop` is one of the node's
    loops."""

    def __init__(
        self,
        outbox: Outbox,
        holdings: HoldingsBook,
        blockchain: Blockchain,
        *,
        fallback_seconds: float = FALLBACK_SECONDS,
        max_pending: int = MAX_PENDING,
    ) -> None:
        self.outbox = outbox
        self.holdings = holdings
        self.blockchain = blockchain
        self.fallback_seconds = fallback_seconds
        self.max_pending = max_pending
        self._owed: collections.deque[_Owed] = collections.deque()
        self._owed_added = trio.Event()
        self.fallbacks_sent = 0  # Blocks sent because a peer sent only the proof never answered

    async def unfinished(self, block: FullBlock) -> None:
        """Relay an unfinished block we hold (see the module docstring)."""
        header_hash = block.header_hash
        to = []
        for conn in self.outbox.peers(NodeType.FULL_NODE):
            record = self.holdings.of(conn)
            if not record.knows(header_hash, Held.UNFINISHED_SENT):
                record.note(header_hash, Held.UNFINISHED_SENT)
                to.append(conn)
        if to:
            await self.outbox.broadcast(UnfinishedBlock(block), to=to)

    async def block(self, block: FullBlock, *, source: PeerConnection | None = None) -> None:
        """Relay a block added to a tip (``source``: the peer it came from, if any)."""
        header_hash = block.header_hash
        pot = block.proof_of_time
        proof_hash = None if pot is None else pot.get_hash()
        if source is not None:
            self.holdings.of(source).note(header_hash, Held.BLOCK)
        to_block: list[PeerConnection] = []
        to_proof: list[PeerConnection] = []
        now = trio.current_time()
        for conn in self.outbox.peers(NodeType.FULL_NODE):
            record = self.holdings.of(conn)
            if record.knows(header_hash, Held.BLOCK | Held.BLOCK_SENT):
                continue
            record.note(header_hash, Held.BLOCK_SENT)
            if proof_hash is None or not record.knows(header_hash, Held.UNFINISHED):
                to_block.append(conn)
            elif record.knows(proof_hash, Held.PROOF):
                # It held this unfinished block and sent us the proof that finishes it: it
                # has the block (the proof back says we do too). The proof alone says
                # nothing about blocks whose unfinished block it never showed us: it may
                # have held another variant for the same challenge and iterations.
                to_proof.append(conn)
            elif self._owe(_Owed(now + self.fallback_seconds, conn, header_hash, proof_hash)):
                to_proof.append(conn)
            else:
                to_block.append(conn)
        if to_proof:
            assert pot is not None
            await self.outbox.broadcast(NewProofOfTime(pot), to=to_proof)
        if to_block:
            await self.outbox.broadcast(Block(block), to=to_block)

    async def proof(self, pot: ProofOfTime, finished: Sequence[bytes32]) -> None:
        """A verified proof of time that finishes our held unfinished blocks ``finished``
        (header hashes): sent at once to the peers that hold one of them (with the fallback) or
        sent us this proof (its acknowledgement), before we add the blocks ourselves. A held
        unfinished block passed every rule but the finished part, and a verified proof for its
        challenge and iterations passes that part (the challenge is made from it): the block
        it finishes is valid. The other peers get the Block from :meth:`block`."""
        proof_hash = pot.get_hash()
        to = []
        deadline = trio.current_time() + self.fallback_seconds
        for conn in self.outbox.peers(NodeType.FULL_NODE):
            record = self.holdings.of(conn)
            # Only blocks whose unfinished block it showed us it holds (see block()).
            hashes = [
                h
                for h in finished
                if record.knows(h, Held.UNFINISHED)
                and not record.knows(h, Held.BLOCK | Held.BLOCK_SENT)
            ]
            if not hashes:
                continue
            if not record.knows(proof_hash, Held.PROOF):
                if len(self._owed) + len(hashes) > self.max_pending:
                    continue  # no room to wait for its answer: it gets the Block
                for h in hashes:
                    self._owe(_Owed(deadline, conn, h, proof_hash))
            for h in hashes:
                record.note(h, Held.BLOCK_SENT)
            to.append(conn)
        if to:
            await self.outbox.broadcast(NewProofOfTime(pot), to=to)

    def _owe(self, owed: _Owed) -> bool:
        if len(self._owed) >= self.max_pending:
            return False
        self._owed.append(owed)
        self._owed_added.set()
        return True

    def pending(self) -> int:
        return len(self._owed)

    async def fallback_loop(
        self, *, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED
    ) -> None:
        """Send the Block to each peer sent only the proof that has not shown it has the
        block by its deadline (deadlines are in the order they were set)."""
        task_status.started()
        while True:
            if not self._owed:
                self._owed_added = trio.Event()
                await self._owed_added.wait()
                continue
            owed = self._owed[0]
            await trio.sleep_until(owed.deadline)
            self._owed.popleft()
            conn = owed.conn
            if conn.closed.is_set():
                continue
            record = self.holdings.of(conn)
            if record.knows(owed.header_hash, Held.BLOCK) or record.knows(
                owed.proof_hash, Held.PROOF
            ):
                continue
            # Sent as stored, like a RequestBlock reply. Relay comes before our commit, so on a
            # loaded node the block may not be stored yet: look again later (our own add may
            # also have failed; then there is nothing to send).
            data = await self.blockchain.get_block_bytes(owed.header_hash)
            if data is None:
                if owed.tries < FALLBACK_TRIES:
                    deadline = trio.current_time() + self.fallback_seconds
                    self._owed.append(attrs.evolve(owed, deadline=deadline, tries=owed.tries + 1))
                continue
            logger.info(
                "%r was sent only the proof of time of %s and did not show it had the block: "
                "sending the block",
                conn,
                owed.header_hash.hex()[:16],
            )
            self.fallbacks_sent += 1
            await self.outbox.send_quietly(conn, Encoded(T.block, data))
