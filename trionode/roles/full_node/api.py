"""Full node message handlers: farmer, timelord and peer protocols (seed 000), one method per
message, named after it. The work is in the parts of
:class:`~trionode.roles.full_node.node.FullNode`: blocks go to block intake
(:mod:`trionode.sync.intake`), the rest to the part for its job."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from trionode.peers.connection import PeerConnection
from trionode.peers.holdings import Held
from trionode.protocols import Encoded
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.farmer_protocol import HeaderHash, HeaderSignature, RequestHeaderHash
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    Block,
    NewProofOfTime,
    NewTransaction,
    RequestAllHeaderHashes,
    RequestBlock,
    RequestHeaderBlocks,
    RequestSyncBlocks,
    RequestTransaction,
    TransactionId,
    UnfinishedBlock,
)
from trionode.protocols.shared_protocol import Error, ErrorCode
from trionode.protocols.timelord_protocol import ProofOfTimeFinished
from trionode.roles.full_node.headers import RequestRejected
from trionode.roles.full_node.node import FullNode
from trionode.wire import bytes32, int16

logger = logging.getLogger(__name__)

# Responders cap request sizes (PROTOCOL.md section 4: at most 32 heights a request).
MAX_BLOCKS_PER_REQUEST = 32


def _batch_bytes(tip: bytes32, items: Sequence[bytes]) -> bytes:
    """The encoding of ``HeaderBlocks`` / ``SyncBlocks`` (a tip hash, then a list: a 4-byte
    big-endian count and the items) from the items' stored encodings."""
    return bytes(tip) + len(items).to_bytes(4, "big") + b"".join(items)


def _error(code: ErrorCode, message: str) -> Error:
    return Error(int16(code), message)


class FullNodeAPI:
    def __init__(self, full_node: FullNode) -> None:
        self.full_node = full_node

    # -- farmer protocol ------------------------------------------------------------------

    async def request_header_hash(
        self, msg: RequestHeaderHash, peer: PeerConnection
    ) -> HeaderHash | Error:
        try:
            return await self.full_node.headers.make_header(msg)
        except RequestRejected as exc:
            logger.info("header request from %r refused: %s", peer, exc)
            return _error(ErrorCode.INVALID_REQUEST, str(exc))

    async def header_signature(self, msg: HeaderSignature, peer: PeerConnection) -> None:
        await self.full_node.headers.header_signed(msg)

    # -- timelord protocol ----------------------------------------------------------------

    async def proof_of_time_finished(self, msg: ProofOfTimeFinished, peer: PeerConnection) -> None:
        added = await self.full_node.unfinished.proof_of_time(
            msg.proof, source=peer, from_timelord=True
        )
        logger.info(
            "proof of time for %s/%d from the timelord finished %d blocks",
            msg.proof.challenge_hash.hex()[:16],
            msg.proof.number_of_iterations,
            added,
        )

    # -- peer protocol --------------------------------------------------------------------

    async def new_proof_of_time(self, msg: NewProofOfTime, peer: PeerConnection) -> None:
        await self.full_node.unfinished.proof_of_time(msg.proof, source=peer)

    async def unfinished_block(self, msg: UnfinishedBlock, peer: PeerConnection) -> None:
        await self.full_node.unfinished.unfinished_from_peer(msg.block, peer)

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Encoded | Error:
        # Served from the stored bytes (Block is its one FullBlock): nothing decoded.
        data = await self.full_node.blockchain.get_block_bytes(msg.header_hash)
        if data is None:
            return _error(ErrorCode.NOT_FOUND, f"no block {msg.header_hash.hex()}")
        return Encoded(T.block, data)

    async def block(self, msg: Block, peer: PeerConnection) -> None:
        # It has this block (whatever it is worth): never relayed back to it.
        self.full_node.holdings.of(peer).note(msg.block.header_hash, Held.BLOCK)
        await self.full_node.intake.block_from_peer(msg.block, peer)

    async def request_all_header_hashes(
        self, msg: RequestAllHeaderHashes, peer: PeerConnection
    ) -> AllHeaderHashes | Error:
        try:
            hashes = self.full_node.blockchain.get_header_hashes(msg.tip_header_hash)
        except KeyError:
            return _error(ErrorCode.UNKNOWN_TIP, f"unknown tip {msg.tip_header_hash.hex()}")
        return AllHeaderHashes(hashes)

    async def request_header_blocks(
        self, msg: RequestHeaderBlocks, peer: PeerConnection
    ) -> Encoded | Error:
        if len(msg.heights) > MAX_BLOCKS_PER_REQUEST:
            return _error(ErrorCode.TOO_MANY_ITEMS, f"at most {MAX_BLOCKS_PER_REQUEST} heights")
        try:
            headers = await self.full_node.blockchain.get_blocks_bytes_at(
                [int(h) for h in msg.heights], msg.tip_header_hash, headers=True
            )
        except KeyError:
            return _error(ErrorCode.UNKNOWN_TIP, f"unknown tip {msg.tip_header_hash.hex()}")
        except ValueError as exc:
            return _error(ErrorCode.NOT_FOUND, str(exc))
        return Encoded(T.header_blocks, _batch_bytes(msg.tip_header_hash, headers))

    async def request_sync_blocks(
        self, msg: RequestSyncBlocks, peer: PeerConnection
    ) -> Encoded | Error:
        if len(msg.heights) > MAX_BLOCKS_PER_REQUEST:
            return _error(ErrorCode.TOO_MANY_ITEMS, f"at most {MAX_BLOCKS_PER_REQUEST} heights")
        try:
            blocks = await self.full_node.blockchain.get_blocks_bytes_at(
                [int(h) for h in msg.heights], msg.tip_header_hash
            )
        except KeyError:
            return _error(ErrorCode.UNKNOWN_TIP, f"unknown tip {msg.tip_header_hash.hex()}")
        except ValueError as exc:
            return _error(ErrorCode.NOT_FOUND, str(exc))
        return Encoded(T.sync_blocks, _batch_bytes(msg.tip_header_hash, blocks))

    # -- transactions ----------------------------------------------------------------------

    async def transaction_id(self, msg: TransactionId, peer: PeerConnection) -> None:
        await self.full_node.transactions.transaction_announced(msg.transaction_id, peer)

    async def request_transaction(
        self, msg: RequestTransaction, peer: PeerConnection
    ) -> NewTransaction | Error:
        tx = self.full_node.mempool.mempool.get(msg.transaction_id)
        if tx is None:
            return _error(
                ErrorCode.NOT_FOUND, f"no transaction {msg.transaction_id.hex()} in the mempool"
            )
        return NewTransaction(tx)

    async def new_transaction(self, msg: NewTransaction, peer: PeerConnection) -> None:
        await self.full_node.transactions.add_transaction(msg.transaction, source=peer)


__all__ = ["FullNodeAPI"]
