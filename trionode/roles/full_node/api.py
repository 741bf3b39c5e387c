"""Full node message handlers: farmer, timelord and peer protocols (seed 000), one method per
message, named after it. The work is in :class:`~trionode.roles.full_node.node.FullNode`."""

from __future__ import annotations

import logging

from trionode.consensus import challenge_hash_for_child
from trionode.peers.connection import PeerConnection
from trionode.protocols.farmer_protocol import HeaderHash, HeaderSignature, RequestHeaderHash
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    Block,
    HeaderBlocks,
    NewProofOfTime,
    RequestAllHeaderHashes,
    RequestBlock,
    RequestHeaderBlocks,
    RequestSyncBlocks,
    SyncBlocks,
    UnfinishedBlock,
)
from trionode.protocols.shared_protocol import Error, ErrorCode
from trionode.protocols.timelord_protocol import ProofOfTimeFinished
from trionode.roles.full_node.node import FullNode, InvalidBlockFromPeer, RequestRejected
from trionode.wire import int16

logger = logging.getLogger(__name__)

# Responders cap request sizes (PROTOCOL.md section 4: at most 32 heights a request).
MAX_BLOCKS_PER_REQUEST = 32


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
            return await self.full_node.make_header(msg)
        except RequestRejected as exc:
            logger.info("header request from %r refused: %s", peer, exc)
            return _error(ErrorCode.INVALID_REQUEST, str(exc))

    async def header_signature(self, msg: HeaderSignature, peer: PeerConnection) -> None:
        await self.full_node.header_signed(msg)

    # -- timelord protocol ----------------------------------------------------------------

    async def proof_of_time_finished(self, msg: ProofOfTimeFinished, peer: PeerConnection) -> None:
        added = await self.full_node.proof_of_time(msg.proof, source=None)
        logger.info(
            "proof of time for %s/%d from the timelord finished %d blocks",
            msg.proof.challenge_hash.hex()[:16],
            msg.proof.number_of_iterations,
            added,
        )

    # -- peer protocol --------------------------------------------------------------------

    async def new_proof_of_time(self, msg: NewProofOfTime, peer: PeerConnection) -> None:
        await self.full_node.proof_of_time(msg.proof, source=peer)

    async def unfinished_block(self, msg: UnfinishedBlock, peer: PeerConnection) -> None:
        fn = self.full_node
        block = msg.block
        if block.is_finished or fn.blockchain.contains_block(block.header_hash):
            return
        parent = (
            None
            if block.height == 0
            else await fn.blockchain.get_header_block(block.prev_header_hash)
        )
        if block.height != 0 and parent is None:
            return  # we cannot check it yet; the finished block will come as a Block
        challenge = challenge_hash_for_child(fn.constants, parent)
        if challenge is None:
            return
        err = await fn.blockchain.validate_unfinished(block)
        if err is not None:
            raise InvalidBlockFromPeer(f"invalid unfinished block: {err.name}")
        parent_iters = 0 if parent is None else int(parent.header.data.total_iters)
        iterations = int(block.header.data.total_iters) - parent_iters
        await fn.hold_unfinished(block, challenge, iterations, source=peer)

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Block | Error:
        block = await self.full_node.blockchain.get_block(msg.header_hash)
        if block is None:
            return _error(ErrorCode.NOT_FOUND, f"no block {msg.header_hash.hex()}")
        return Block(block)

    async def block(self, msg: Block, peer: PeerConnection) -> None:
        await self.full_node.block_from_peer(msg.block, peer)

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
    ) -> HeaderBlocks | Error:
        if len(msg.heights) > MAX_BLOCKS_PER_REQUEST:
            return _error(ErrorCode.TOO_MANY_ITEMS, f"at most {MAX_BLOCKS_PER_REQUEST} heights")
        try:
            headers = await self.full_node.blockchain.get_header_blocks_at(
                [int(h) for h in msg.heights], msg.tip_header_hash
            )
        except KeyError:
            return _error(ErrorCode.UNKNOWN_TIP, f"unknown tip {msg.tip_header_hash.hex()}")
        except ValueError as exc:
            return _error(ErrorCode.NOT_FOUND, str(exc))
        return HeaderBlocks(msg.tip_header_hash, headers)

    async def request_sync_blocks(
        self, msg: RequestSyncBlocks, peer: PeerConnection
    ) -> SyncBlocks | Error:
        if len(msg.heights) > MAX_BLOCKS_PER_REQUEST:
            return _error(ErrorCode.TOO_MANY_ITEMS, f"at most {MAX_BLOCKS_PER_REQUEST} heights")
        try:
            blocks = await self.full_node.blockchain.get_blocks_at(
                [int(h) for h in msg.heights], msg.tip_header_hash
            )
        except KeyError:
            return _error(ErrorCode.UNKNOWN_TIP, f"unknown tip {msg.tip_header_hash.hex()}")
        except ValueError as exc:
            return _error(ErrorCode.NOT_FOUND, str(exc))
        return SyncBlocks(msg.tip_header_hash, blocks)


__all__ = ["FullNodeAPI"]
