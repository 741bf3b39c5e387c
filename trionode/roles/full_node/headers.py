"""The full node's side of the farmer protocol: what to farm on, and the headers made for a
farmer's proof of space (signed by the farmer, then held as an unfinished block).

Conventions (PROTOCOL.md leaves them open):
- ``ProofOfSpaceFinalized.height`` is the height of the block to farm on the challenge (the
  finalized block's height + 1; 0 for the genesis challenge), ``weight`` the finalized block's
  weight, ``quality`` its proof of space quality (zeros for genesis), ``difficulty`` the
  difficulty of the block to farm.
- ``HeaderHash.header_hash`` is ``HeaderData.get_hash()``: what the plot key signs.
- Farmers and timelords hear of every tip, not only the heaviest: farming every tip is what
  keeps a small farm going when one challenge has no proof in any plot.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from blspy import AugSchemeMPL

from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import (
    ConsensusConstants,
    block_reward,
    challenge_hash_for_child,
    check_coinbase_owner,
    check_pos_proof,
    expected_pos_challenge,
    make_header_data,
    passes_plot_filter,
    plot_filter_input,
    quality_for,
    required_iterations,
)
from trionode.consensus.coins import body_cost, transaction_fee
from trionode.mempool import MempoolManager
from trionode.nursery.clock import wall_time
from trionode.nursery.offload import run_blocking
from trionode.protocols.chain_types import (
    Body,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    HeaderBlock,
    Transaction,
)
from trionode.protocols.farmer_protocol import (
    HeaderHash,
    HeaderSignature,
    ProofOfSpaceFinalized,
    ProofOfTimeRate,
    RequestHeaderHash,
)
from trionode.protocols.shared_protocol import NodeType
from trionode.protocols.timelord_protocol import ChallengeStart
from trionode.roles.full_node.farming import PendingHeader
from trionode.roles.full_node.outbox import Outbox
from trionode.roles.full_node.unfinished import MAX_U64, UnfinishedBlocks
from trionode.sync.intake import serialized_size
from trionode.wire import G2Element, bytes32, uint32, uint64

logger = logging.getLogger(__name__)


class RequestRejected(Exception):
    """A farmer's request this node will not serve (answered with Error)."""


class HeaderMaker:
    def __init__(
        self,
        constants: ConsensusConstants,
        blockchain: Blockchain,
        mempool: MempoolManager,
        unfinished: UnfinishedBlocks,
        outbox: Outbox,
    ) -> None:
        self.constants = constants
        self.blockchain = blockchain
        self.mempool = mempool
        self.unfinished = unfinished
        self.outbox = outbox

    # -- what to farm on -----------------------------------------------------------------------

    async def finalized_messages(self) -> list[ProofOfSpaceFinalized]:
        """One ProofOfSpaceFinalized per tip, heaviest first (the genesis challenge while the
        chain is empty)."""
        tips = self.blockchain.get_tips()
        if not tips:
            difficulty = await self.blockchain.get_next_difficulty()
            return [
                ProofOfSpaceFinalized(
                    self.constants.genesis_challenge,
                    uint32(0),
                    uint64(0),
                    bytes32(bytes(32)),
                    uint64(difficulty),
                )
            ]
        out = []
        for tip in tips:
            challenge = challenge_hash_for_child(self.constants, tip)
            if challenge is None:
                continue
            difficulty = await self.blockchain.get_next_difficulty(tip.header_hash)
            quality_string = check_pos_proof(tip.proof_of_space)
            quality = (
                quality_for(tip.proof_of_space.challenge, quality_string)
                if quality_string is not None
                else bytes32(bytes(32))
            )
            out.append(
                ProofOfSpaceFinalized(
                    challenge,
                    uint32(int(tip.height) + 1),
                    uint64(min(int(tip.weight), MAX_U64)),
                    quality,
                    uint64(difficulty),
                )
            )
        return out

    async def tell_farmers_and_timelords(self) -> None:
        """The challenges of the tips (and the proof of time rate) to every farmer and
        timelord connected (nothing computed when none is: most full nodes have neither, and
        this runs after every block)."""
        farmers, timelords = (
            self.outbox.peers(NodeType.FARMER),
            self.outbox.peers(NodeType.TIMELORD),
        )
        if not farmers and not timelords:
            return
        msgs = await self.finalized_messages()
        ips = await self.blockchain.get_next_ips()
        for conn in farmers:
            await self.outbox.send_quietly(conn, ProofOfTimeRate(uint64(ips)))
            for msg in msgs:
                await self.outbox.send_quietly(conn, msg)
        for conn in timelords:
            for msg in msgs:
                await self.outbox.send_quietly(conn, ChallengeStart(msg.challenge_hash, msg.weight))

    # -- headers for farmers -------------------------------------------------------------------

    def _parent_for_challenge(self, challenge_hash: bytes32) -> HeaderBlock | None | bool:
        """The tip whose child answers ``challenge_hash`` (None: genesis; False: unknown)."""
        if challenge_hash == self.constants.genesis_challenge:
            return None
        for tip in self.blockchain.get_tips():
            if challenge_hash_for_child(self.constants, tip) == challenge_hash:
                return tip
        return False

    async def make_header(self, req: RequestHeaderHash) -> HeaderHash:
        """Header data for the farmer's proof of space on one of our tips, with the mempool's
        best transactions; kept until the farmer signs it. Raises RequestRejected."""
        parent = self._parent_for_challenge(req.challenge_hash)
        if parent is False:
            raise RequestRejected(f"challenge {req.challenge_hash.hex()[:16]} is not on a tip")
        assert parent is not True
        pos = req.proof_of_space
        plot_id = pos.get_plot_id()
        f = plot_filter_input(plot_id, req.challenge_hash, req.challenge_hash)
        if not passes_plot_filter(f, self.constants.PLOT_FILTER_BITS):
            raise RequestRejected("the plot does not pass the filter for this challenge")
        if pos.challenge != expected_pos_challenge(plot_id, req.challenge_hash):
            raise RequestRejected("proof of space answers another challenge")
        quality_string = await run_blocking(check_pos_proof, pos)
        if quality_string is None:
            raise RequestRejected("invalid proof of space")
        parent_hash = None if parent is None else parent.header_hash
        difficulty = await self.blockchain.get_next_difficulty(parent_hash)
        iterations = required_iterations(self.constants, pos, quality_string, difficulty)
        height = 0 if parent is None else int(parent.height) + 1
        coinbase = req.coinbase
        if int(coinbase.height) != height or int(coinbase.amount) != block_reward(
            self.constants, height
        ):
            raise RequestRejected(f"coinbase must be for height {height} and the block reward")
        owner_err = check_coinbase_owner(pos, coinbase, req.coinbase_signature)
        if owner_err is not None:
            raise RequestRejected(
                f"coinbase not owned as the proof of space says: {owner_err.name}"
            )
        transactions = await self.mempool.select_for(parent_hash, self.constants.MAX_BLOCK_COST)
        body = make_body(
            coinbase, req.coinbase_signature, req.fees_target_puzzle_hash, transactions
        )
        timestamp = int(wall_time())
        if parent is not None:
            timestamp = max(timestamp, int(parent.header.data.timestamp) + 1)
        data = make_header_data(
            parent=parent,
            difficulty=difficulty,
            iterations=iterations,
            pos=pos,
            body=body,
            timestamp=timestamp,
        )
        header_hash = data.get_hash()
        self.unfinished.farming.add_pending(
            header_hash, PendingHeader(pos, body, data, req.challenge_hash, iterations)
        )
        logger.info(
            "header for height %d made for a farmer (%d iterations, %d transactions)",
            height,
            iterations,
            len(transactions),
        )
        return HeaderHash(pos.get_hash(), header_hash)

    async def header_signed(self, msg: HeaderSignature) -> None:
        """The farmer's signature of a header we made: the unfinished block is held."""
        pending = self.unfinished.farming.pending.pop(msg.header_hash, None)
        if pending is None:
            logger.info("signature for an unknown header %s ignored", msg.header_hash.hex()[:16])
            return
        block = FullBlock(
            pending.pos, None, None, Header(pending.data, msg.header_signature), pending.body
        )
        err = await self.blockchain.validate_unfinished(block)
        if err is not None:
            logger.warning("our own unfinished block is invalid: %s", err.name)
            return
        size = await run_blocking(serialized_size, block)
        await self.unfinished.hold(
            block, pending.challenge_hash, pending.iterations, source=None, size=size
        )


def make_body(
    coinbase: CoinbaseInfo,
    coinbase_signature: G2Element,
    fees_puzzle_hash: bytes32,
    transactions: Sequence[Transaction],
) -> Body:
    """A body as consensus validation expects it: the fees target collects every fee, the
    aggregated signature is the aggregate of the transactions' signatures in order (None
    without transactions), the cost is their serialized size."""
    aggregated = (
        G2Element(AugSchemeMPL.aggregate([tx.aggregated_signature.point for tx in transactions]))
        if transactions
        else None
    )
    return Body(
        coinbase=coinbase,
        coinbase_signature=coinbase_signature,
        fees_target=FeesTarget(
            fees_puzzle_hash, uint64(sum(transaction_fee(tx) for tx in transactions))
        ),
        transactions=list(transactions),
        aggregated_signature=aggregated,
        cost=uint64(body_cost(transactions)),
    )
