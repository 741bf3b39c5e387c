"""The light wallet over real loopback connections (TLS websockets, in-process full nodes on
127.0.0.1 port 0, network ``sim``): it follows a node's chain by verified headers, proves its
coins against each header's filter_hash, resumes from its own store, sends a payment that
lands, and refuses a node that lies (a withheld coin, a forged coin, a tampered header)."""

from __future__ import annotations

import argparse
import hashlib
from collections.abc import AsyncIterator, Iterable
from contextlib import asynccontextmanager
from pathlib import Path

import pytest
import trio
from mnemonic import Mnemonic

from trionode.cli.wallet import cmd_balance
from trionode.consensus import CoinRecord, block_reward, coinbase_coin
from trionode.keys.keychain import FarmKeys, Keychain
from trionode.peers.connection import PeerConnection
from trionode.peers.errors import ConnectionClosedError, PeerErrorReply
from trionode.peers.limits import DEFAULT_SIZE_CAPS
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols import make_message
from trionode.protocols.chain_types import (
    Coin,
    FullBlock,
    Header,
    HeaderBlock,
    ProofOfSpace,
    Spend,
    Transaction,
)
from trionode.protocols.shared_protocol import Error, ErrorCode, NodeType
from trionode.protocols.wallet_protocol import (
    BLOCK_COINS_BYTE_BUDGET,
    MAX_WALLET_HEADERS,
    BlockCoins,
    CoinHeights,
    RequestBlockCoins,
    RequestCoinHeights,
    RequestWalletHeaders,
    RespondBlockCoins,
    WalletHeaders,
)
from trionode.roles.full_node.main import FullNodeService
from trionode.roles.full_node.wallet_api import WalletAPI
from trionode.storage.wallet_store import WalletStore, default_wallet_db_url
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import LOCAL, NodeHandle, TestNetwork
from trionode.wallet import build_payment
from trionode.wallet.client import UntrustedNode, WalletSession, wallet_session
from trionode.wallet.light import SYNC_ATTEMPTS, ChainMoved
from trionode.wire import G1Element, G2Element, bytes32, int16, uint8, uint16, uint32, uint64

RECIPIENT = bytes32(hashlib.sha256(b"light wallet recipient").digest())


@pytest.fixture
def keys(block_tools: BlockTools) -> FarmKeys:
    """The farm keys of block_tools' chains: the coinbase rewards go to their pool address."""
    return FarmKeys.from_master(block_tools.master_sk)


def owned(keys: FarmKeys) -> list[bytes32]:
    return [keys.pool_puzzle_hash, keys.farmer_puzzle_hash]


@asynccontextmanager
async def session(
    root: Path, node: NodeHandle, puzzle_hashes: Iterable[bytes32], *, scan_all: bool = False
) -> AsyncIterator[WalletSession]:
    async with wallet_session(root, "sim", LOCAL, node.port, puzzle_hashes, scan_all=scan_all) as s:
        yield s


def rewards(chain: list[FullBlock]) -> int:
    return sum(int(b.body.coinbase.amount) + int(b.body.fees_target.amount) for b in chain)


async def test_wallet_follows_the_chain_and_resumes_from_its_store(
    block_tools: BlockTools, chain_30: list[FullBlock], keys: FarmKeys, tmp_path: Path
) -> None:
    wallet_root = tmp_path / "wallet"
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        a = await net.start("a", chain=chain_30)
        with trio.fail_after(60):
            async with session(wallet_root, a, owned(keys)) as s:
                coins = await s.sync()
                assert s.wallet.stats.headers == 30 and s.wallet.stats.probe_headers == 0
                tip = await s.wallet.tip()
                assert tip is not None and tip.header_hash == chain_30[-1].header_hash
            # every block paid its coinbase (and a fees coin of 0) to the pool address
            assert sum(int(c.coin.amount) for c in coins) == rewards(chain_30)
            assert {c.coin.name() for c in coins if c.coin.amount} == {
                coinbase_coin(
                    h, keys.pool_puzzle_hash, block_reward(block_tools.constants, h)
                ).name()
                for h in range(30)
            }
            longer = await trio.to_thread.run_sync(
                lambda: block_tools.make_chain(3, parent_chain=chain_30)
            )
            results = await a.blockchain.add_blocks(longer[30:])
            assert all(r.added for r in results)
            # A second run on the same root downloads only the 3 new headers (and one header
            # to confirm that our tip is on the node's chain).
            async with session(wallet_root, a, owned(keys)) as s:
                coins = await s.sync()
                assert s.wallet.stats.headers == 3
                assert s.wallet.stats.probe_headers == 1
                assert s.wallet.stats.coin_blocks == 3
            assert sum(int(c.coin.amount) for c in coins) == rewards(longer)
            # Other puzzle hashes on the same store: the coins are scanned again for them
            # (the verified headers are kept).
            async with session(wallet_root, a, [keys.farmer_puzzle_hash]) as s:
                coins = await s.sync()
                assert s.wallet.stats.headers == 0 and s.wallet.stats.coin_blocks == 0
            assert coins == []  # nothing pays the farmer address; the pool coins were dropped
        nursery.cancel_scope.cancel()


@pytest.mark.parametrize("scan_all", [False, True])
async def test_wallet_coins_match_the_nodes_coin_set(
    block_tools: BlockTools,
    tx_chain: list[FullBlock],
    keys: FarmKeys,
    tmp_path: Path,
    scan_all: bool,
) -> None:
    """Created and spent, exactly as the node's coin set has them (tx_chain spends pool coins
    from height 8 on and pays wallet key 0)."""
    phs = [*owned(keys), block_tools.wallet_puzzle_hash(0)]
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        a = await net.start("a", chain=tx_chain)
        with trio.fail_after(60):
            async with session(tmp_path / "wallet", a, phs, scan_all=scan_all) as s:
                await s.sync()
                mine = await s.wallet.coins(include_spent=True)
                assert s.wallet.stats.coin_blocks == 16  # every block pays the pool address
        expected = []
        for ph in phs:
            expected += await a.blockchain.get_coin_records_by_puzzle_hash(ph)

        def key(r: CoinRecord) -> tuple[bytes, int, int | None, bool]:
            return (bytes(r.name), r.confirmed_height, r.spent_height, r.coinbase)

        assert sorted(map(key, mine)) == sorted(map(key, expected))
        assert any(r.spent_height is not None for r in mine)
        nursery.cancel_scope.cancel()


async def test_payment_lands_and_the_balance_reflects_it(
    block_tools: BlockTools, chain_30: list[FullBlock], keys: FarmKeys, tmp_path: Path
) -> None:
    amount, fee = 1_000, 7
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        a = await net.start("a", chain=chain_30)
        with trio.fail_after(90):
            async with session(tmp_path / "wallet", a, owned(keys)) as s:
                coins = await s.sync()
                before = sum(int(c.coin.amount) for c in coins)
                tx = build_payment(keys, coins, RECIPIENT, amount, fee)
                await s.submit(tx)  # returns once the node holds it
                assert a.full_node.mempool.mempool.get(tx.get_hash()) is not None
                # the farm of this test mines it (fees to the pool address as well)
                block = await trio.to_thread.run_sync(
                    lambda: block_tools.next_block(chain_30, transactions=[tx])
                )
                (result,) = await a.blockchain.add_blocks([block])
                assert result.added
                after = await s.sync()
            spent = {sp.coin.name() for sp in tx.spends}
            assert not spent & {c.coin.name() for c in after}
            reward = int(block.body.coinbase.amount)
            assert sum(int(c.coin.amount) for c in after) == before - amount - fee + reward + fee
            change = [c for c in after if c.confirmed_height == 30 and not c.coinbase]
            assert [int(c.coin.amount) for c in change] == [
                sum(int(sp.coin.amount) for sp in tx.spends) - amount - fee
            ]
        nursery.cancel_scope.cancel()


async def test_wallet_follows_a_heavier_fork_and_ignores_a_lighter_one(
    block_tools: BlockTools, chain_30: list[FullBlock], keys: FarmKeys, tmp_path: Path
) -> None:
    """A reorg: the wallet's chain (from node a) is replaced by node b's heavier fork from
    height 26 (rewards of the fork to wallet key 1); the coins of the dropped blocks go. A
    lighter fork (node c) changes nothing."""
    heavier = await trio.to_thread.run_sync(
        lambda: block_tools.make_chain(8, parent_chain=chain_30[:26], seed=1)
    )
    lighter = await trio.to_thread.run_sync(
        lambda: block_tools.make_chain(2, parent_chain=chain_30[:27], seed=2)
    )
    assert heavier[-1].weight > chain_30[-1].weight > lighter[-1].weight
    phs = [*owned(keys), block_tools.wallet_puzzle_hash(1)]
    wallet_root = tmp_path / "wallet"
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        a = await net.start("a", chain=chain_30)
        b = await net.start("b", chain=heavier)
        c = await net.start("c", chain=lighter)
        with trio.fail_after(90):
            async with session(wallet_root, a, phs) as s:
                await s.sync()
            async with session(wallet_root, c, phs) as s:
                coins = await s.sync()
                assert s.wallet.stats.headers == 0  # not heavier: not even fetched
                tip = await s.wallet.tip()
                assert tip is not None and tip.header_hash == chain_30[-1].header_hash
            assert sum(int(r.coin.amount) for r in coins) == rewards(chain_30)
            async with session(wallet_root, b, phs) as s:
                coins = await s.sync()
                tip = await s.wallet.tip()
                assert tip is not None and tip.header_hash == heavier[-1].header_hash
                # the fork point was found by probing back (29, 28, 26, 22), then verified
                assert s.wallet.stats.headers == len(heavier) - 23
                mine = await s.wallet.coins(include_spent=True)
        assert max(r.confirmed_height for r in mine) == len(heavier) - 1
        assert sum(int(r.coin.amount) for r in coins) == rewards(heavier)
        nursery.cancel_scope.cancel()


def reorging_api(fork: list[FullBlock], start: int) -> type[WalletAPI]:
    """Switches the node to the heavier ``fork`` (its blocks from ``start``) just before it
    answers the wallet's first RequestCoinHeights: the tip the wallet synced headers to is no
    longer on the node's heaviest chain when it asks for its coins."""

    class ReorgingAPI(WalletAPI):
        reorged = False

        async def request_coin_heights(
            self, msg: RequestCoinHeights, peer: PeerConnection
        ) -> CoinHeights | Error:
            if not ReorgingAPI.reorged:
                ReorgingAPI.reorged = True
                results = await self.full_node.blockchain.add_blocks(fork[start:])
                assert all(r.added for r in results)
            return await super().request_coin_heights(msg, peer)

    return ReorgingAPI


async def test_wallet_syncs_again_when_the_chain_moves_during_its_sync(
    monkeypatch: pytest.MonkeyPatch,
    block_tools: BlockTools,
    chain_30: list[FullBlock],
    keys: FarmKeys,
    tmp_path: Path,
) -> None:
    """A reorg on the node between the wallet's header sync and its coin requests (the node
    refuses the old tip as unknown): the wallet starts again from the new peak and ends on the
    fork with the fork's coins, instead of failing (a pool's payout did, on a busy machine)."""
    heavier = await trio.to_thread.run_sync(
        lambda: block_tools.make_chain(8, parent_chain=chain_30[:26], seed=1)
    )
    assert heavier[-1].weight > chain_30[-1].weight
    phs = [*owned(keys), block_tools.wallet_puzzle_hash(1)]
    monkeypatch.setattr(FullNodeService, "wallet_api_class", reorging_api(heavier, 26))
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        a = await net.start("a", chain=chain_30)
        with trio.fail_after(90):
            async with session(tmp_path / "wallet", a, phs) as s:
                coins = await s.sync()
                tip = await s.wallet.tip()
                assert tip is not None and tip.header_hash == heavier[-1].header_hash
                assert not s.node.bans.is_banned(LOCAL)
        assert sum(int(r.coin.amount) for r in coins) == rewards(heavier)
        nursery.cancel_scope.cancel()


class MovingAPI(WalletAPI):
    """Answers every RequestCoinHeights as if the tip had just been reorged away."""

    async def request_coin_heights(
        self, msg: RequestCoinHeights, peer: PeerConnection
    ) -> CoinHeights | Error:
        return Error(int16(ErrorCode.UNKNOWN_TIP), "moved")


async def test_a_chain_that_never_stops_moving_ends_the_sync_with_an_error(
    monkeypatch: pytest.MonkeyPatch, chain_30: list[FullBlock], keys: FarmKeys, tmp_path: Path
) -> None:
    """The retries are bounded: a node that always answers "unknown tip" gets ChainMoved
    after SYNC_ATTEMPTS syncs, is not banned (a moving chain is no lie), and the headers the
    wallet verified stay."""
    monkeypatch.setattr(FullNodeService, "wallet_api_class", MovingAPI)
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        a = await net.start("a", chain=chain_30)
        with trio.fail_after(60):
            async with session(tmp_path / "wallet", a, owned(keys)) as s:
                with pytest.raises(ChainMoved, match=f"{SYNC_ATTEMPTS} times in a row"):
                    await s.sync()
                assert not s.node.bans.is_banned(LOCAL)
                tip = await s.wallet.tip()
                assert tip is not None and tip.header_hash == chain_30[-1].header_hash
        nursery.cancel_scope.cancel()


# -- lying nodes ------------------------------------------------------------------------------

LIE_HEIGHT = 10


def withholding_api(part: str) -> type[WalletAPI]:
    """Leaves one coin change of the block at LIE_HEIGHT out of its coin lists: the payment
    it made to the wallet (``addition``) or the wallet's coin it spent (``removal``)."""

    class WithholdingAPI(WalletAPI):
        async def request_block_coins(
            self, msg: RequestBlockCoins, peer: PeerConnection
        ) -> RespondBlockCoins | Error:
            reply = await super().request_block_coins(msg, peer)
            if not isinstance(reply, RespondBlockCoins):
                return reply
            chain = self.full_node.blockchain
            blocks = []
            for bc in reply.blocks:
                info = chain.block_info(bc.header_hash)
                if info is not None and info.height == LIE_HEIGHT:
                    assert len(bc.additions) == 3 and len(bc.removals) == 1
                    if part == "addition":
                        bc = bc.replace(additions=bc.additions[:2])
                    else:
                        bc = bc.replace(removals=[])
                blocks.append(bc)
            return RespondBlockCoins(blocks)

    return WithholdingAPI


class ForgingAPI(WalletAPI):
    """Adds a coin of the wallet that no block created to one block's coin lists."""

    async def request_block_coins(
        self, msg: RequestBlockCoins, peer: PeerConnection
    ) -> RespondBlockCoins | Error:
        reply = await super().request_block_coins(msg, peer)
        if not isinstance(reply, RespondBlockCoins):
            return reply
        chain = self.full_node.blockchain
        blocks = []
        for bc in reply.blocks:
            info = chain.block_info(bc.header_hash)
            if info is not None and info.height == LIE_HEIGHT:
                owner = bc.additions[0].puzzle_hash
                forged = Coin(bytes32(b"\x07" * 32), owner, uint64(10**12))
                bc = bc.replace(additions=[*bc.additions, forged])
            blocks.append(bc)
        return RespondBlockCoins(blocks)


class HidingAPI(WalletAPI):
    """Answers that no block concerns the wallet (a lie by omission)."""

    async def request_coin_heights(
        self, msg: RequestCoinHeights, peer: PeerConnection
    ) -> CoinHeights | Error:
        return CoinHeights(msg.tip_header_hash, [], True)


def tampered_header_api(block_tools: BlockTools, part: str) -> type[WalletAPI]:
    """Serves the header at LIE_HEIGHT changed in ``part``, signed again with the real plot
    key (so only the rule ``part`` breaks can catch it)."""

    def tamper(hb: HeaderBlock) -> HeaderBlock:
        data = hb.header.data
        pos = hb.proof_of_space
        if part == "weight":
            data = data.replace(weight=data.weight + 1)
        elif part == "proof_of_space":
            proof = bytes(pos.proof)
            pos = pos.replace(proof=proof[:-1] + bytes([proof[-1] ^ 1]))
            data = data.replace(proof_of_space_hash=pos.get_hash())
        elif part == "proof_of_time":
            pot = hb.proof_of_time
            assert pot is not None
            witness = bytes(pot.witness)
            bad = pot.replace(witness=witness[:-1] + bytes([witness[-1] ^ 1]))
            return hb.replace(proof_of_time=bad)
        header = Header(data, block_tools.sign_header_data(pos, data))
        return hb.replace(proof_of_space=pos, header=header)

    class TamperingAPI(WalletAPI):
        async def request_wallet_headers(
            self, msg: RequestWalletHeaders, peer: PeerConnection
        ) -> WalletHeaders | Error:
            reply = await super().request_wallet_headers(msg, peer)
            if not isinstance(reply, WalletHeaders):
                return reply
            headers = [tamper(h) if h.height == LIE_HEIGHT else h for h in reply.headers]
            return reply.replace(headers=headers)

    return TamperingAPI


async def _refused(
    monkeypatch: pytest.MonkeyPatch,
    api: type[WalletAPI],
    chain: list[FullBlock],
    puzzle_hashes: list[bytes32],
    tmp_path: Path,
    expected: str,
) -> WalletStore:
    """A wallet syncing from a node with ``api`` raises UntrustedNode naming ``expected``,
    drops and bans the node; returns the wallet's store (still open) for checks."""
    monkeypatch.setattr(FullNodeService, "wallet_api_class", api)
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        liar = await net.start("liar", chain=chain)
        with trio.fail_after(60):
            async with session(tmp_path / "wallet", liar, puzzle_hashes) as s:
                with pytest.raises(UntrustedNode, match=expected):
                    await s.sync()
                assert s.node.bans.is_banned(LOCAL)
                assert s.conn.close_reason is not None
                assert "does not verify" in s.conn.close_reason
        nursery.cancel_scope.cancel()
    return await WalletStore.open(default_wallet_db_url(tmp_path / "wallet", "sim"))


@pytest.mark.parametrize("part", ["addition", "removal"])
async def test_a_withheld_coin_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    block_tools: BlockTools,
    tx_chain: list[FullBlock],
    keys: FarmKeys,
    tmp_path: Path,
    part: str,
) -> None:
    # tx_chain: from height 8 on, each block spends a pool coin and pays wallet key 0
    phs = [*owned(keys), block_tools.wallet_puzzle_hash(0)]
    store = await _refused(
        monkeypatch, withholding_api(part), tx_chain, phs, tmp_path, "do not hash to the header"
    )
    try:
        # The headers verified and are kept; nothing of the lying coin lists was stored: the
        # coins of the blocks before it are (they verified), then the scan stopped.
        tip = await store.tip()
        assert tip is not None and tip.header_hash == tx_chain[-1].header_hash
        assert await store.coins_height() < LIE_HEIGHT
        assert all(r.confirmed_height < LIE_HEIGHT for r in await store.coins(include_spent=True))
    finally:
        await store.aclose()


async def test_a_forged_coin_is_refused(
    monkeypatch: pytest.MonkeyPatch, chain_30: list[FullBlock], keys: FarmKeys, tmp_path: Path
) -> None:
    store = await _refused(
        monkeypatch, ForgingAPI, chain_30, owned(keys), tmp_path, "do not hash to the header"
    )
    try:
        assert all(int(r.coin.amount) != 10**12 for r in await store.coins(include_spent=True))
    finally:
        await store.aclose()


@pytest.mark.parametrize(
    ("part", "rule"),
    [
        ("weight", "INVALID_WEIGHT"),
        ("proof_of_space", "INVALID_POSPACE"),
        ("proof_of_time", "INVALID_POT"),
    ],
)
async def test_a_tampered_header_is_refused(
    monkeypatch: pytest.MonkeyPatch,
    block_tools: BlockTools,
    chain_30: list[FullBlock],
    keys: FarmKeys,
    tmp_path: Path,
    part: str,
    rule: str,
) -> None:
    api = tampered_header_api(block_tools, part)
    store = await _refused(
        monkeypatch,
        api,
        chain_30,
        owned(keys),
        tmp_path,
        f"height {LIE_HEIGHT} does not verify: {rule}",
    )
    try:
        # Batches of 64: the whole batch holding the bad header was refused, nothing stored.
        assert LIE_HEIGHT < MAX_WALLET_HEADERS
        assert await store.tip() is None
        assert await store.coins(include_spent=True) == []
    finally:
        await store.aclose()


async def test_omitted_heights_hide_coins_unless_the_wallet_scans_every_block(
    monkeypatch: pytest.MonkeyPatch, chain_30: list[FullBlock], keys: FarmKeys, tmp_path: Path
) -> None:
    """The limit of a light client, as documented: a node can leave blocks out of its
    RequestCoinHeights answer; with scan_all the wallet checks every block's lists instead."""
    monkeypatch.setattr(FullNodeService, "wallet_api_class", HidingAPI)
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        hiding = await net.start("hiding", chain=chain_30)
        with trio.fail_after(60):
            async with session(tmp_path / "w1", hiding, owned(keys)) as s:
                assert await s.sync() == []
                assert s.wallet.stats.coin_blocks == 0
            async with session(tmp_path / "w2", hiding, owned(keys), scan_all=True) as s:
                coins = await s.sync()
                assert s.wallet.stats.coin_blocks == 30
            assert sum(int(c.coin.amount) for c in coins) == rewards(chain_30)
        nursery.cancel_scope.cancel()


async def test_wallet_requests_are_bounded_and_only_from_wallets(
    chain_30: list[FullBlock], keys: FarmKeys, tmp_path: Path
) -> None:
    tip = chain_30[-1].header_hash
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        a = await net.start("a", chain=chain_30)
        with trio.fail_after(60):
            async with session(tmp_path / "wallet", a, owned(keys)) as s:
                cases = [
                    (RequestWalletHeaders(tip, uint32(0), uint16(MAX_WALLET_HEADERS + 1)), 4),
                    (RequestWalletHeaders(tip, uint32(0), uint16(0)), 4),
                    (RequestWalletHeaders(bytes32(b"\x05" * 32), uint32(0), uint16(1)), 5),
                    (RequestWalletHeaders(tip, uint32(30), uint16(1)), 3),
                    (RequestCoinHeights(tip, uint32(0), []), 4),
                    (RequestCoinHeights(bytes32(b"\x05" * 32), uint32(0), owned(keys)), 5),
                    (RequestBlockCoins([]), 4),
                    (RequestBlockCoins([tip] * 33), 4),
                    (RequestBlockCoins([bytes32(b"\x05" * 32)]), 3),
                ]
                for request, code in cases:
                    with pytest.raises(PeerErrorReply) as info:
                        await s.conn.request(request)
                    assert info.value.code == ErrorCode(code), request
                # a header range in one reply, in order
                reply = await s.conn.request(RequestWalletHeaders(tip, uint32(28), uint16(5)))
                assert [h.height for h in reply.headers] == [28, 29]
            # A full node may not send wallet requests: refused before decoding, and banned.
            b = await net.start("b")
            assert b.service.node is not None
            conn = await b.service.node.connect(*a.address)
            assert conn.node_type is NodeType.FULL_NODE
            with pytest.raises(ConnectionClosedError):
                await conn.request(RequestBlockCoins([tip]))
            assert a.service.node is not None and a.service.node.bans.is_banned(LOCAL)
        nursery.cancel_scope.cancel()


def test_the_largest_honest_wallet_replies_fit_their_caps(
    block_tools: BlockTools, chain_30: list[FullBlock]
) -> None:
    """A header batch of MAX_WALLET_HEADERS of the largest proofs, and a coin-list reply at the
    byte budget followed by a block of MAX_BLOCK_COST bytes of one-output-each transactions."""
    constants = block_tools.constants
    block = chain_30[2]
    g1 = G1Element.from_bytes(bytes(block.proof_of_space.plot_public_key))
    pos = block.proof_of_space
    biggest_pos = ProofOfSpace(
        pos.challenge, g1, bytes32(b"\x04" * 32), pos.plot_public_key, uint8(50), b"\x05" * 400
    )
    header = block.header_block().replace(proof_of_space=biggest_pos)
    batch = WalletHeaders(header.header_hash, uint32(0), [header] * MAX_WALLET_HEADERS)
    assert len(bytes(make_message(batch, id=1))) <= DEFAULT_SIZE_CAPS[T.wallet_headers]

    g2 = G2Element.from_bytes(bytes(block.header.plot_signature))
    coin = Coin(bytes32(b"\x01" * 32), bytes32(b"\x02" * 32), uint64(1))
    fixed = len(bytes(Transaction([Spend(coin, g1, [])], g2)))
    n = (constants.MAX_BLOCK_COST - fixed) // 40  # outputs of 40 bytes fill the block
    additions = [Coin(bytes32(b"\x01" * 32), bytes32(b"\x03" * 32), uint64(1))] * (n + 2)
    big = BlockCoins(block.header_hash, additions, [coin.name()])
    # earlier blocks of the reply: just under the budget
    small = BlockCoins(block.header_hash, additions[:1000], [])
    count = (BLOCK_COINS_BYTE_BUDGET - 1) // len(bytes(small))
    reply = RespondBlockCoins([small] * count + [big])
    assert len(bytes(make_message(reply, id=1))) <= DEFAULT_SIZE_CAPS[T.respond_block_coins]


async def test_wallet_balance_command_refuses_a_lying_node(
    monkeypatch: pytest.MonkeyPatch,
    block_tools: BlockTools,
    chain_30: list[FullBlock],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The command line: ``wallet balance`` against a node serving a tampered header exits 1
    with the reason; against an honest node it prints the balance of the keychain's keys."""
    farm = tmp_path / "farm"
    Keychain(farm).add_mnemonic(Mnemonic("english").to_mnemonic(b"\x11" * 32))
    monkeypatch.setattr(
        FullNodeService, "wallet_api_class", tampered_header_api(block_tools, "weight")
    )
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        liar = await net.start("liar", chain=chain_30)
        monkeypatch.setattr(FullNodeService, "wallet_api_class", WalletAPI)
        honest = await net.start("honest", chain=chain_30)

        def balance(node: NodeHandle) -> int:
            args = argparse.Namespace(
                root=str(farm),
                node_root=None,
                node=None,
                full_node=f"{LOCAL}:{node.port}",
                network="sim",
                db=None,
                scan_all=False,
            )
            return cmd_balance(args)

        with trio.fail_after(60):
            assert await trio.to_thread.run_sync(balance, liar) == 1
            out = capsys.readouterr().err
            # one trionode: line says why (other lines may be log records of the session)
            (line,) = [x for x in out.splitlines() if x.startswith("trionode: ")]
            assert "does not verify: INVALID_WEIGHT" in line and "banned" in line
            # the same store, then an honest node: the headers verify and are kept
            assert await trio.to_thread.run_sync(balance, honest) == 0
            out = capsys.readouterr().out
            assert "total  0" in out  # these keys own nothing on block_tools' chain
        nursery.cancel_scope.cancel()


async def test_wallet_balance_on_a_node_without_a_chain_is_zero(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A devnet before its first block: the node answers RequestWalletPeak with NOT_FOUND;
    ``wallet balance`` prints a zero balance and exits 0 instead of failing."""
    farm = tmp_path / "farm"
    Keychain(farm).add_mnemonic(Mnemonic("english").to_mnemonic(b"\x12" * 32))
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, tmp_path / "nodes")
        empty = await net.start("empty")

        def balance() -> int:
            args = argparse.Namespace(
                root=str(farm),
                node_root=None,
                node=None,
                full_node=f"{LOCAL}:{empty.port}",
                network="sim",
                db=None,
                scan_all=False,
            )
            return cmd_balance(args)

        with trio.fail_after(60):
            assert await trio.to_thread.run_sync(balance) == 0
        assert "total  0" in capsys.readouterr().out
        nursery.cancel_scope.cancel()
