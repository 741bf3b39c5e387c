"""What a full node answers to sync requests: hash lists and batches of its chains, Error for
unknown tips, too many heights or heights above the tip (PROTOCOL.md section 4)."""

from __future__ import annotations

from pathlib import Path

import pytest
import trio

from trionode.peers.errors import PeerErrorReply
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.peer_protocol import (
    AllHeaderHashes,
    HeaderBlocks,
    RequestAllHeaderHashes,
    RequestHeaderBlocks,
    RequestSyncBlocks,
    SyncBlocks,
)
from trionode.protocols.shared_protocol import ErrorCode
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
