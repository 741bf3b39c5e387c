"""Wallet protocol, light wallet <-> full node (docs/protocol.md section 6).

A light wallet (node type WALLET) follows the heaviest chain by headers and learns its coins
from per-block coin lists it checks against each header's ``filter_hash`` (which already commits
to the block's addition and removal ids: :func:`trionode.consensus.filter_hash`). Every message
here is a request answered by one reply with the request's id (``REPLY_TYPES``); the node takes
the requests only from a WALLET peer, the wallet takes only the replies. Bounds (items per
request, reply byte budget) are the constants below; the size caps are in ``size_caps``.
"""

from __future__ import annotations

from trionode.protocols.chain_types import Coin, HeaderBlock
from trionode.wire import Streamable, bytes32, streamable, uint16, uint32

# Items a node serves per request (a request above them is answered Error(TOO_MANY_ITEMS)).
MAX_WALLET_HEADERS = 64
MAX_PUZZLE_HASHES = 64
MAX_COIN_HEIGHTS = 1000
MAX_BLOCK_COINS_BLOCKS = 32
# A RespondBlockCoins stops adding blocks once this many bytes are in it (the first block is
# always sent, so one block of MAX_BLOCK_COST transactions still goes through).
BLOCK_COINS_BYTE_BUDGET = 1024 * 1024


@streamable
class RequestWalletPeak(Streamable):
    """The node's heaviest peak, as a header block (90)."""


@streamable
class WalletPeak(Streamable):
    """(91) Answers RequestWalletPeak."""

    header_block: HeaderBlock


@streamable
class RequestWalletHeaders(Streamable):
    """(92) ``count`` (1..MAX_WALLET_HEADERS) header blocks from ``start_height`` up, on the chain
    ending at ``tip_header_hash`` (a tip the node stores)."""

    tip_header_hash: bytes32
    start_height: uint32
    count: uint16


@streamable
class WalletHeaders(Streamable):
    """(93) Answers RequestWalletHeaders: the headers at start_height, start_height + 1, ... (fewer
    than asked only where the tip's chain ends)."""

    tip_header_hash: bytes32
    start_height: uint32
    headers: list[HeaderBlock]


@streamable
class RequestCoinHeights(Streamable):
    """(94) Heights, from ``start_height`` up to the height of ``tip_header_hash`` (which must be
    on the node's heaviest chain), of the blocks that create or spend a coin of one of
    ``puzzle_hashes`` (1..MAX_PUZZLE_HASHES)."""

    tip_header_hash: bytes32
    start_height: uint32
    puzzle_hashes: list[bytes32]


@streamable
class CoinHeights(Streamable):
    """(95) Answers RequestCoinHeights: ascending distinct heights, at most MAX_COIN_HEIGHTS;
    ``complete`` is False when more follow (ask again from the last height + 1)."""

    tip_header_hash: bytes32
    heights: list[uint32]
    complete: bool


@streamable
class BlockCoins(Streamable):
    """One block's coin changes: every Coin it adds (coinbase coin, fees coin, then the
    outputs, in block order) and the id of every coin it spends, in order. A wallet recomputes
    ``sha256(ids of additions + removals)`` and compares it with the header's filter_hash."""

    header_hash: bytes32
    additions: list[Coin]
    removals: list[bytes32]


@streamable
class RequestBlockCoins(Streamable):
    """(96) The coin changes of the blocks ``header_hashes`` (1..MAX_BLOCK_COINS_BLOCKS)."""

    header_hashes: list[bytes32]


@streamable
class RespondBlockCoins(Streamable):
    """(97) Answers RequestBlockCoins: the first blocks asked for, in order (at least one, more
    while the reply stays under BLOCK_COINS_BYTE_BUDGET)."""

    blocks: list[BlockCoins]


__all__ = [
    "BLOCK_COINS_BYTE_BUDGET",
    "MAX_BLOCK_COINS_BLOCKS",
    "MAX_COIN_HEIGHTS",
    "MAX_PUZZLE_HASHES",
    "MAX_WALLET_HEADERS",
    "BlockCoins",
    "CoinHeights",
    "RequestBlockCoins",
    "RequestCoinHeights",
    "RequestWalletHeaders",
    "RequestWalletPeak",
    "RespondBlockCoins",
    "WalletHeaders",
    "WalletPeak",
]
