"""What a full node answers to sync requests: hash lists and batches of its chains, Error for
unknown tips, too many heights or heights above the tip (PROTOCOL.md section 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from trionode.peers.errors import PeerErrorReply
from trionode.protocols import Encoded
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    Block,
    HeaderBlocks,
    RequestAllHeaderHashes,
    RequestBlock,
    RequestHeaderBlocks,
    RequestSyncBlocks,
    SyncBlocks,
)
from trionode.protocols.shared_protocol import Error, ErrorCode
from trionode.roles.full_node.api import FullNodeAPI
from trionode.testing.full_node import TestNetwork
from trionode.wire import bytes32, uint32


async def test_sync_requests_are_capped_and_unknown_tips_refused(
    chain_30: list[FullBlock], tmp_path: Path
) -> None:
    tip = chain_30[-1].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_30)
        b = await net.start("b")
        assert b.service.node is not None
        with trio.fail_after(30):
            conn = await b.service.node.connect(*a.address)
            hashes = await conn.request(RequestAllHeaderHashes(tip))
            assert isinstance(hashes, AllHeaderHashes)
            assert list(hashes.header_hashes) == [blk.header_hash for blk in chain_30]
            headers = await conn.request(RequestHeaderBlocks(tip, [uint32(h) for h in (3, 4)]))
            assert isinstance(headers, HeaderBlocks)
            assert [h.header_hash for h in headers.header_blocks] == [
                chain_30[3].header_hash,
                chain_30[4].header_hash,
            ]
            blocks = await conn.request(RequestSyncBlocks(tip, [uint32(h) for h in range(30)]))
            assert isinstance(blocks, SyncBlocks) and list(blocks.blocks) == chain_30

            cases = [
                (RequestAllHeaderHashes(bytes32(b"\x05" * 32)), ErrorCode.UNKNOWN_TIP),
                (
                    RequestSyncBlocks(tip, [uint32(h % 30) for h in range(33)]),
                    ErrorCode.TOO_MANY_ITEMS,
                ),
                (
                    RequestHeaderBlocks(tip, [uint32(h % 30) for h in range(33)]),
                    ErrorCode.TOO_MANY_ITEMS,
                ),
                (RequestSyncBlocks(bytes32(b"\x05" * 32), [uint32(1)]), ErrorCode.UNKNOWN_TIP),
                (RequestSyncBlocks(tip, [uint32(30)]), ErrorCode.NOT_FOUND),
            ]
            for request, code in cases:
                with pytest.raises(PeerErrorReply) as info:
                    await conn.request(request)
                assert info.value.code == code, request
            assert not conn.closed.is_set()  # refusals are normal protocol flow
        nursery.cancel_scope.cancel()


async def test_blocks_are_served_from_their_stored_bytes(
    chain_30: list[FullBlock], tmp_path: Path
) -> None:
    """RequestBlock, RequestHeaderBlocks and RequestSyncBlocks are answered with the stored
    encodings, not decoded and encoded again: the reply's bytes are the stored ones (header
    blocks: the ones stored beside their blocks) and decode to the same blocks."""
    tip = chain_30[-1].header_hash
    heights = [uint32(h) for h in (0, 7, 29)]
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path)
        a = await net.start("a", chain=chain_30)
        b = await net.start("b")
        assert b.service.node is not None
        store = a.blockchain.store
        want = [chain_30[h] for h in heights]
        hashes = [blk.header_hash for blk in want]
        stored = await store.get_full_block_bytes(hashes)
        stored_headers = await store.get_header_block_bytes(hashes)
        assert [stored[h] for h in hashes] == [bytes(blk) for blk in want]
        assert [stored_headers[h] for h in hashes] == [bytes(blk.header_block()) for blk in want]

        api = FullNodeAPI(a.full_node)
        served = await api.request_block(RequestBlock(hashes[1]), None)  # type: ignore[arg-type]
        assert isinstance(served, Encoded) and served.mtype is T.block
        assert served.data == stored[hashes[1]] == bytes(Block(want[1]))
        served = await api.request_sync_blocks(RequestSyncBlocks(tip, heights), None)  # type: ignore[arg-type]
        assert isinstance(served, Encoded) and served.mtype is T.sync_blocks
        assert served.data == bytes(SyncBlocks(tip, want))
        served = await api.request_header_blocks(RequestHeaderBlocks(tip, heights), None)  # type: ignore[arg-type]
        assert isinstance(served, Encoded) and served.mtype is T.header_blocks
        assert served.data == bytes(HeaderBlocks(tip, [blk.header_block() for blk in want]))
        missing = await api.request_block(RequestBlock(bytes32(b"\x07" * 32)), None)  # type: ignore[arg-type]
        assert isinstance(missing, Error) and missing.code == ErrorCode.NOT_FOUND

        with trio.fail_after(30):  # and over a connection, decoded by the requester
            conn = await b.service.node.connect(*a.address)
            reply = await conn.request(RequestBlock(hashes[2]))
            assert isinstance(reply, Block) and reply.block == want[2]
            reply = await conn.request(RequestSyncBlocks(tip, heights))
            assert isinstance(reply, SyncBlocks) and list(reply.blocks) == want
            reply = await conn.request(RequestHeaderBlocks(tip, heights))
            assert isinstance(reply, HeaderBlocks)
            assert list(reply.header_blocks) == [blk.header_block() for blk in want]
        nursery.cancel_scope.cancel()
