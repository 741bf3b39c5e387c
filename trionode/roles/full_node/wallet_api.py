"""Full node handlers of the wallet protocol (docs/protocol.md section 6), one method per
request, named after it. Registered as an extra API object of the full node's PeerNode; the
routing table lets only WALLET peers send these.

Every request is bounded before any work: items per request (``wallet_protocol.MAX_*``), and
the coin lists of a reply stop at ``BLOCK_COINS_BYTE_BUDGET``. Store reads go through the
Blockchain's typed store methods (worker threads); computing a block's coin ids (a sha256 a
coin) runs in a worker thread too.
"""

from __future__ import annotations

import logging

from trionode.consensus import block_additions, block_removals
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.protocols.chain_types import FullBlock
from trionode.protocols.shared_protocol import Error, ErrorCode
from trionode.protocols.wallet_protocol import (
    BLOCK_COINS_BYTE_BUDGET,
    MAX_BLOCK_COINS_BLOCKS,
    MAX_COIN_HEIGHTS,
    MAX_PUZZLE_HASHES,
    MAX_WALLET_HEADERS,
    BlockCoins,
    CoinHeights,
    RequestBlockCoins,
    RequestCoinHeights,
    RequestWalletHeaders,
    RequestWalletPeak,
    RespondBlockCoins,
    WalletHeaders,
    WalletPeak,
)
from trionode.roles.full_node.node import FullNode
from trionode.wire import int16, uint32

logger = logging.getLogger(__name__)

# Bytes of one Coin (parent, puzzle hash, amount) and one id in a BlockCoins.
_COIN_BYTES = 72
_ID_BYTES = 32


def _error(code: ErrorCode, message: str) -> Error:
    return Error(int16(code), message)


def block_coins(block: FullBlock) -> BlockCoins:
    """The coin changes of ``block`` as the wallet protocol sends them (pure; thread-safe)."""
    return BlockCoins(block.header_hash, block_additions(block), block_removals(block))


class WalletAPI:
    """Answers a light wallet's requests from the node's chain (it trusts nothing it sends)."""

    def __init__(self, full_node: FullNode) -> None:
        self.full_node = full_node

    async def request_wallet_peak(
        self, msg: RequestWalletPeak, peer: PeerConnection
    ) -> WalletPeak | Error:
        peak = self.full_node.blockchain.get_peak()
        if peak is None:
            return _error(ErrorCode.NOT_FOUND, "the node has no chain yet")
        return WalletPeak(peak)

    async def request_wallet_headers(
        self, msg: RequestWalletHeaders, peer: PeerConnection
    ) -> WalletHeaders | Error:
        count = int(msg.count)
        if not 1 <= count <= MAX_WALLET_HEADERS:
            return _error(ErrorCode.TOO_MANY_ITEMS, f"1 to {MAX_WALLET_HEADERS} headers a request")
        chain = self.full_node.blockchain
        info = chain.block_info(msg.tip_header_hash)
        if info is None:
            return _error(ErrorCode.UNKNOWN_TIP, f"unknown tip {msg.tip_header_hash.hex()}")
        start = int(msg.start_height)
        end = min(start + count - 1, int(info.height))
        if start > end:
            return _error(ErrorCode.NOT_FOUND, f"height {start} is above the tip ({info.height})")
        try:
            headers = await chain.get_header_blocks_at(
                list(range(start, end + 1)), msg.tip_header_hash
            )
        except KeyError:
            return _error(ErrorCode.UNKNOWN_TIP, f"unknown tip {msg.tip_header_hash.hex()}")
        except ValueError as exc:
            return _error(ErrorCode.NOT_FOUND, str(exc))
        return WalletHeaders(msg.tip_header_hash, msg.start_height, headers)

    async def request_coin_heights(
        self, msg: RequestCoinHeights, peer: PeerConnection
    ) -> CoinHeights | Error:
        if not 1 <= len(msg.puzzle_hashes) <= MAX_PUZZLE_HASHES:
            return _error(ErrorCode.TOO_MANY_ITEMS, f"1 to {MAX_PUZZLE_HASHES} puzzle hashes")
        chain = self.full_node.blockchain
        info = chain.block_info(msg.tip_header_hash)
        if info is None or not chain.is_on_heaviest_chain(msg.tip_header_hash):
            return _error(
                ErrorCode.UNKNOWN_TIP,
                f"{msg.tip_header_hash.hex()} is not on this node's heaviest chain",
            )
        heights = await chain.get_coin_heights(
            msg.puzzle_hashes,
            int(msg.start_height),
            int(info.height),
            MAX_COIN_HEIGHTS + 1,
        )
        complete = len(heights) <= MAX_COIN_HEIGHTS
        return CoinHeights(
            msg.tip_header_hash, [uint32(h) for h in heights[:MAX_COIN_HEIGHTS]], complete
        )

    async def request_block_coins(
        self, msg: RequestBlockCoins, peer: PeerConnection
    ) -> RespondBlockCoins | Error:
        if not 1 <= len(msg.header_hashes) <= MAX_BLOCK_COINS_BLOCKS:
            return _error(
                ErrorCode.TOO_MANY_ITEMS, f"1 to {MAX_BLOCK_COINS_BLOCKS} blocks a request"
            )
        chain = self.full_node.blockchain
        out: list[BlockCoins] = []
        size = 0
        for header_hash in msg.header_hashes:
            block = await chain.get_block(header_hash)
            if block is None:
                if not out:
                    return _error(ErrorCode.NOT_FOUND, f"no block {header_hash.hex()}")
                break
            coins = await run_blocking(block_coins, block)
            out.append(coins)
            size += _COIN_BYTES * len(coins.additions) + _ID_BYTES * len(coins.removals) + 40
            if size >= BLOCK_COINS_BYTE_BUDGET:
                break
        return RespondBlockCoins(out)


__all__ = ["WalletAPI", "block_coins"]
