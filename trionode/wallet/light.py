"""The light wallet: follows the heaviest chain by headers and proves its coins against them.

It trusts the full node it talks to for nothing it can check (docs/protocol.md section 6):

- **Headers.** Every header block is verified as a full node verifies a header without its
  body (:func:`trionode.consensus.validate_header_block`: position in the chain, timestamp,
  proof of space, plot signature, weight from the difficulty it computes itself from its own
  verified ancestors, total iterations, proof of time and challenge). Verification runs in
  worker threads (chiapos, chiavdf and blspy release the GIL). The wallet switches to a chain
  only once every header of it up to its tip verified and it is heavier than the one it has.
- **Coins.** A block's coin changes (every Coin it adds, the id of every coin it spends) are
  hashed as the header's ``filter_hash`` is; a list that does not hash to the verified header's
  filter_hash is refused: a withheld coin, a forged one, or a changed amount or owner all break
  it. The wallet takes its coins only from verified lists (the additions of its puzzle hashes;
  the removals of its coin ids).
- **What it cannot detect.** Which blocks concern it comes from the node
  (``RequestCoinHeights``): a node can leave a block out of that answer (the wallet then misses
  that coin change until it asks an honest node) but cannot change a block it names. With
  ``scan_all`` the wallet asks the coin lists of every block instead and misses nothing (about
  100 bytes more a block on a chain of empty blocks, and the node does not learn its puzzle
  hashes). A node can also withhold its newest blocks (serve an older peak): headers are
  checked, freshness is not.

Any reply that does not verify raises :class:`UntrustedNode`; nothing of it is stored (the
caller disconnects and bans the node). Memory: the last ``WINDOW`` verified headers (what
difficulty and median-timestamp need), one batch of headers being verified, and a reorg's
headers up to ``MAX_REORG`` (deeper reorgs are refused).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable, Sequence
from typing import TypeVar

import attrs
import trio

from trionode.consensus import (
    CoinRecord,
    ConsensusConstants,
    Err,
    ValidationContext,
    median_timestamp,
    next_difficulty,
    validate_header_block,
)
from trionode.nursery.offload import run_blocking
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import PeerErrorReply
from trionode.protocols.chain_types import Coin, HeaderBlock
from trionode.protocols.shared_protocol import ErrorCode
from trionode.protocols.wallet_protocol import (
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
from trionode.storage.wallet_store import ChainUpdate, CoinUpdate, WalletStore
from trionode.wire import Streamable, bytes32, uint16, uint32

logger = logging.getLogger(__name__)

# Deepest reorg the wallet follows (headers held in memory until the new chain verified).
MAX_REORG = 2000
# Headers verified at once (worker threads).
DEFAULT_VERIFY_WORKERS = 2
REPLY_WITHIN = 30.0
# Syncs one call makes when the node's chain keeps moving under it (each reorg seen between the
# peak and the coin requests costs one); bounded so that a node that always answers "unknown
# tip" cannot keep the wallet busy.
SYNC_ATTEMPTS = 4

R = TypeVar("R", bound=Streamable)


class WalletError(Exception):
    """A wallet command cannot proceed (missing store, node unreachable, refused)."""


class UntrustedNode(WalletError):
    """The node sent something that does not verify; the reason names the lie."""


class ChainMoved(WalletError):
    """The node's heaviest chain moved away from the tip this sync follows (a reorg between
    two of its requests): the sync starts again from the node's new peak."""


def window(constants: ConsensusConstants) -> int:
    """Verified ancestors a header's checks need: difficulty looks back an epoch, the median
    timestamp MEDIAN_TIMESTAMP_COUNT blocks."""
    return max(constants.EPOCH, constants.MEDIAN_TIMESTAMP_COUNT) + 2


def coins_hash(coins: BlockCoins) -> bytes32:
    """What the header's filter_hash must be for these coin changes (consensus.coins)."""
    data = b"".join(bytes(c.name()) for c in coins.additions)
    data += b"".join(bytes(cid) for cid in coins.removals)
    return bytes32(hashlib.sha256(data).digest())


def check_block_coins(header: HeaderBlock, coins: BlockCoins) -> str | None:
    """None if ``coins`` are exactly the coin changes ``header`` commits to, else why not."""
    if coins.header_hash != header.header_hash:
        return f"coin lists of block {coins.header_hash.hex()} for {header.header_hash.hex()}"
    if len(coins.additions) < 2:
        return f"block at height {header.height}: fewer than its two reward coins"
    if coins_hash(coins) != header.header.data.filter_hash:
        return (
            f"block at height {header.height}: its {len(coins.additions)} additions and "
            f"{len(coins.removals)} removals do not hash to the header's filter_hash "
            "(a coin withheld, forged or changed)"
        )
    return None


@attrs.define
class SyncStats:
    """What one wallet downloaded (payload bytes of the replies)."""

    headers: int = 0  # new headers verified
    header_bytes: int = 0
    probe_headers: int = 0  # headers fetched to find the fork point (compared, not stored)
    coin_blocks: int = 0  # blocks whose coin lists were verified
    coin_bytes: int = 0
    header_seconds: float = 0.0  # spent fetching and verifying headers

    @property
    def total_bytes(self) -> int:
        return self.header_bytes + self.coin_bytes


class LightWallet:
    """One wallet on one store: ``await wallet.sync(conn)`` against a node, then ``coins()``.

    ``puzzle_hashes``: the addresses it owns (at most MAX_PUZZLE_HASHES when it asks the node
    which blocks concern them; any number with ``scan_all``).
    """

    def __init__(
        self,
        constants: ConsensusConstants,
        store: WalletStore,
        puzzle_hashes: Iterable[bytes32],
        *,
        scan_all: bool = False,
        verify_workers: int = DEFAULT_VERIFY_WORKERS,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.constants = constants
        self.store = store
        self.puzzle_hashes = frozenset(bytes32(ph) for ph in puzzle_hashes)
        if not self.puzzle_hashes:
            raise ValueError("a wallet needs at least one puzzle hash")
        if not scan_all and len(self.puzzle_hashes) > MAX_PUZZLE_HASHES:
            raise ValueError(f"more than {MAX_PUZZLE_HASHES} puzzle hashes need scan_all")
        self.scan_all = scan_all
        digest = hashlib.sha256(b"".join(sorted(self.puzzle_hashes))).digest()
        self.owner = int.from_bytes(digest[:8], "big", signed=True)  # fits a BigInteger
        self.stats = SyncStats()
        self._clock = clock
        self._limiter = trio.CapacityLimiter(verify_workers)

    async def coins(self, *, include_spent: bool = False) -> list[CoinRecord]:
        return await self.store.coins(include_spent=include_spent)

    async def tip(self) -> HeaderBlock | None:
        return await self.store.tip()

    async def sync(self, conn: PeerConnection) -> HeaderBlock | None:
        """Follow ``conn``'s heaviest chain (if heavier than ours) and apply the coin changes
        of its blocks; returns our tip. Raises UntrustedNode on anything that does not verify
        (nothing of that reply is stored), WalletError if the node cannot answer."""
        if await self.store.claim(self.owner):
            logger.info("wallet: other puzzle hashes than last time; rescanning coins")
        for attempt in range(1, SYNC_ATTEMPTS + 1):
            try:
                began = trio.current_time()
                tip = await self._sync_headers(conn)
                self.stats.header_seconds += trio.current_time() - began
                if tip is not None:
                    await self._sync_coins(conn, tip)
                return tip
            except ChainMoved as exc:
                # What was verified and applied so far stays: the next round starts from it.
                if attempt == SYNC_ATTEMPTS:
                    raise ChainMoved(f"{exc} ({SYNC_ATTEMPTS} times in a row)") from None
                logger.info("wallet: %s; syncing again from its new peak", exc)
        raise AssertionError("unreachable")

    # -- requests --------------------------------------------------------------------------

    async def _ask(self, conn: PeerConnection, request: Streamable, expected: type[R]) -> R:
        try:
            reply = await conn.request(request, reply_within=REPLY_WITHIN)
        except PeerErrorReply as exc:
            if exc.code == ErrorCode.UNKNOWN_TIP:
                raise ChainMoved(
                    f"{conn!r}'s chain moved during the sync ({type(request).__name__}: {exc})"
                ) from None
            raise WalletError(f"{conn!r} refused {type(request).__name__}: {exc}") from None
        if not isinstance(reply, expected):  # the connection layer matched the type already
            raise UntrustedNode(f"{type(reply).__name__} in reply to {type(request).__name__}")
        return reply

    async def _headers(
        self, conn: PeerConnection, tip_hash: bytes32, start: int, count: int
    ) -> list[HeaderBlock]:
        reply = await self._ask(
            conn, RequestWalletHeaders(tip_hash, uint32(start), uint16(count)), WalletHeaders
        )
        if (
            reply.tip_header_hash != tip_hash
            or reply.start_height != start
            or len(reply.headers) != count
        ):
            raise UntrustedNode(
                f"asked {count} headers from height {start}, got {len(reply.headers)} from "
                f"height {int(reply.start_height)}"
            )
        for i, header in enumerate(reply.headers):
            if header.height != start + i:
                raise UntrustedNode(f"header at height {header.height} in place of {start + i}")
        return list(reply.headers)

    # -- headers ---------------------------------------------------------------------------

    async def _sync_headers(self, conn: PeerConnection) -> HeaderBlock | None:
        tip = await self.store.tip()
        try:
            reply = await conn.request(RequestWalletPeak(), reply_within=REPLY_WITHIN)
        except PeerErrorReply as exc:
            if exc.code != ErrorCode.NOT_FOUND:
                raise WalletError(f"{conn!r} refused RequestWalletPeak: {exc}") from None
            # A node without a chain yet (a devnet before its first block) proves nothing and
            # takes nothing away: the wallet keeps what it verified (nothing, the first time).
            logger.info("wallet: %r has no chain yet", conn)
            return tip
        if not isinstance(reply, WalletPeak):  # the connection layer matched the type already
            raise UntrustedNode(f"{type(reply).__name__} in reply to RequestWalletPeak")
        peak = reply.header_block
        if tip is not None and (
            peak.header_hash == tip.header_hash or int(peak.weight) <= int(tip.weight)
        ):
            return tip  # nothing heavier than what we verified (the peak's weight is a claim)
        peak_hash, peak_height = peak.header_hash, int(peak.height)
        fork = await self._find_fork(conn, peak_hash, peak_height, tip)
        reorg = tip is not None and fork < int(tip.height)
        if reorg and peak_height - fork > MAX_REORG:
            raise WalletError(
                f"the node's chain forks from ours at height {fork}, "
                f"{peak_height - fork} blocks deep (more than {MAX_REORG})"
            )
        keep = window(self.constants)
        view = {
            int(h.height): h for h in await self.store.headers_between(max(0, fork - keep), fork)
        }
        pending: list[HeaderBlock] = []
        height = fork + 1
        while height <= peak_height:
            count = min(MAX_WALLET_HEADERS, peak_height - height + 1)
            headers = await self._headers(conn, peak_hash, height, count)
            if height + count - 1 == peak_height and headers[-1].header_hash != peak_hash:
                raise UntrustedNode(f"the headers do not end at the peak {peak_hash.hex()}")
            await self._verify(view, headers)
            self.stats.headers += len(headers)
            self.stats.header_bytes += sum(len(bytes(h)) for h in headers)
            if reorg:
                pending.extend(headers)
            else:
                await self.store.apply_chain(ChainUpdate(height - 1, headers))
            for h in [h for h in view if h < height + count - keep]:
                del view[h]
            height += count
        if reorg:
            assert tip is not None
            if not pending or int(pending[-1].weight) <= int(tip.weight):
                raise UntrustedNode("its peak claimed more weight than its headers carry")
            await self.store.apply_chain(ChainUpdate(fork, pending))
            logger.info("wallet reorg: fork at height %d, new tip at height %d", fork, peak_height)
        return await self.store.tip()

    async def _find_fork(
        self, conn: PeerConnection, peak_hash: bytes32, peak_height: int, tip: HeaderBlock | None
    ) -> int:
        """The highest height (probing back 1, 2, 4... blocks) where the peak's chain and ours
        have the same block; -1 if none (or we have no chain)."""
        if tip is None:
            return -1
        probe = min(int(tip.height), peak_height)
        step = 1
        while probe >= 0:
            (theirs,) = await self._headers(conn, peak_hash, probe, 1)
            self.stats.probe_headers += 1
            self.stats.header_bytes += len(bytes(theirs))
            if theirs.header_hash == await self.store.hash_at(probe):
                return probe
            probe -= step
            step *= 2
        return -1

    async def _verify(self, view: dict[int, HeaderBlock], headers: Sequence[HeaderBlock]) -> None:
        """Verify ``headers`` (consecutive, following ``view``'s top) and add them to ``view``."""
        now = int(self._clock())
        contexts: list[ValidationContext] = []
        for header in headers:
            height = int(header.height)
            parent = view.get(height - 1) if height > 0 else None
            if height > 0 and parent is None:
                raise UntrustedNode(f"header at height {height} does not follow our chain")

            def ancestor(h: int) -> HeaderBlock:
                return view[h]

            contexts.append(
                ValidationContext(
                    parent=parent,
                    difficulty=next_difficulty(self.constants, parent, ancestor),
                    median_timestamp=median_timestamp(self.constants, parent, ancestor),
                    now=now,
                )
            )
            view[height] = header  # removed again below if anything fails
        errors: list[Err | None] = [None] * len(headers)

        async def verify(i: int) -> None:
            errors[i] = await run_blocking(
                validate_header_block,
                self.constants,
                headers[i],
                contexts[i],
                limiter=self._limiter,
            )

        async with trio.open_nursery() as nursery:
            for i in range(len(headers)):
                nursery.start_soon(verify, i)
        for header, err in zip(headers, errors, strict=True):
            if err is not None:
                for h in headers:
                    view.pop(int(h.height), None)
                raise UntrustedNode(
                    f"header {header.header_hash.hex()[:16]} at height {header.height} "
                    f"does not verify: {err.name}"
                )

    # -- coins -----------------------------------------------------------------------------

    async def _sync_coins(self, conn: PeerConnection, tip: HeaderBlock) -> None:
        start = await self.store.coins_height() + 1
        top = int(tip.height)
        if start > top:
            return
        if self.scan_all:
            heights: list[int] = list(range(start, top + 1))
        else:
            heights = await self._coin_heights(conn, tip.header_hash, start, top)
        known = {r.name for r in await self.store.coins()}
        for i in range(0, len(heights), MAX_BLOCK_COINS_BLOCKS):
            batch = heights[i : i + MAX_BLOCK_COINS_BLOCKS]
            by_height = {
                int(h.height): h for h in await self.store.headers_between(batch[0], batch[-1])
            }
            headers = [by_height[h] for h in batch]
            while headers:
                done = await self._block_coins(conn, headers, known)
                headers = headers[done:]
        await self.store.apply_coins(CoinUpdate(top, (), ()))

    async def _coin_heights(
        self, conn: PeerConnection, tip_hash: bytes32, start: int, top: int
    ) -> list[int]:
        phs = sorted(self.puzzle_hashes)
        out: list[int] = []
        low = start
        while low <= top:
            reply = await self._ask(
                conn, RequestCoinHeights(tip_hash, uint32(low), phs), CoinHeights
            )
            heights = [int(h) for h in reply.heights]
            if len(heights) > MAX_COIN_HEIGHTS:
                raise UntrustedNode(f"{len(heights)} coin heights (at most {MAX_COIN_HEIGHTS})")
            if (
                reply.tip_header_hash != tip_hash
                or any(not low <= h <= top for h in heights)
                or heights != sorted(set(heights))
            ):
                raise UntrustedNode(f"coin heights out of order or outside {low}..{top}")
            out.extend(heights)
            if reply.complete:
                break
            if not heights:
                raise UntrustedNode("an incomplete answer with no heights")
            low = heights[-1] + 1
        return out

    async def _block_coins(
        self, conn: PeerConnection, headers: Sequence[HeaderBlock], known: set[bytes32]
    ) -> int:
        """Ask, verify and apply the coin lists of ``headers`` (a prefix may come back);
        returns how many blocks were applied."""
        reply = await self._ask(
            conn, RequestBlockCoins([h.header_hash for h in headers]), RespondBlockCoins
        )
        blocks = list(reply.blocks)
        if not 1 <= len(blocks) <= len(headers):
            raise UntrustedNode(f"{len(blocks)} coin lists for {len(headers)} blocks")
        for header, coins in zip(headers, blocks, strict=False):
            why = await run_blocking(check_block_coins, header, coins)
            if why is not None:
                raise UntrustedNode(why)
        added: list[tuple[Coin, int, bool]] = []
        spent: list[tuple[bytes32, int]] = []
        for header, coins in zip(headers, blocks, strict=False):
            height = int(header.height)
            for index, coin in enumerate(coins.additions):
                if coin.puzzle_hash in self.puzzle_hashes:
                    added.append((coin, height, index < 2))
                    known.add(coin.name())
            for coin_id in coins.removals:
                if coin_id in known:
                    spent.append((coin_id, height))
            self.stats.coin_blocks += 1
            self.stats.coin_bytes += len(bytes(coins))
        # Heights are applied in order, so every block up to the last one of this reply that
        # concerns us is applied: an interrupted run resumes after it.
        last = int(headers[len(blocks) - 1].height)
        await self.store.apply_coins(CoinUpdate(last, added, spent))
        return len(blocks)


__all__ = [
    "MAX_REORG",
    "SYNC_ATTEMPTS",
    "ChainMoved",
    "LightWallet",
    "SyncStats",
    "UntrustedNode",
    "WalletError",
    "check_block_coins",
    "coins_hash",
    "window",
]
