"""Bounded pools under floods (issue 10, item 4; docs/protocol.md section 3).

- Proof caches: hundreds of blocks whose proof of time carries an oversized witness go through
  the real ``Blockchain.add_block`` and are rejected without growing the process (RSS) or the
  memos; thousands of distinct well-formed bad proofs fill the VDF memo only up to its byte
  bound; oversized proofs of space and BLS points are not memoised; the memo's per-entry charge
  covers the memory tracemalloc measures, also with several threads at once.
- Mempool: a flood of valid, large transactions keeps the memory the pool holds (tracemalloc)
  under its byte bound, evicting the lowest fee per byte first.
- Address table: a Peers reply over the protocol's maximum is refused and its sender banned; a
  flood of maximum-size replies from one peer (real PeerManager, in-memory transport, real
  store) does not evict addresses learned from other peers or addresses that worked; the
  source and group quotas hold on SQLite and PostgreSQL, and a table made before them is
  migrated.
"""

from __future__ import annotations

import gc
import os
import threading
import time
import tracemalloc
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import trio

from tests.chain_store_helpers import BACKENDS, backend_url
from trionode.blockchain import Blockchain
from trionode.consensus import SIM, CoinRecord, proofs, verify_pot
from trionode.consensus.errors import Err
from trionode.consensus.memo import ByteBoundedMemo, digest
from trionode.mempool import AddStatus, Mempool
from trionode.peers.limits import DEFAULT_RATE_LIMITS, PeerLimits
from trionode.peers.manager import PeerManager, PeerManagerConfig
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import Coin, FullBlock, Output
from trionode.protocols.peer_protocol import PeerInfo, Peers, RequestPeers
from trionode.protocols.shared_protocol import NodeType
from trionode.storage import ChainStore
from trionode.storage.peer_store import AddressLimits, PeerStore
from trionode.testing.block_tools import BlockTools
from trionode.testing.peers import TEST_NETWORK_ID, PeerTestNet
from trionode.wire import bytes32, uint8, uint16, uint64

MiB = 1024 * 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


def memo_stats() -> dict[str, proofs.MemoStats]:
    return proofs.proof_cache_stats()


# ------------------------------------------------------------------------------ proof caches


async def test_oversized_witness_blocks_do_not_grow_memory(
    chain_30: list[FullBlock], tmp_path: Path
) -> None:
    """200 copies of a block, each with its own 1 MiB witness, through Blockchain.add_block:
    all rejected (INVALID_POT), the process does not keep them (the original memo kept every
    rejected ProofOfTime as its key: +200 MiB), no memo grows, the honest block is added."""
    store = await ChainStore.open(f"sqlite:///{tmp_path / 'chain.sqlite'}")
    try:
        chain = await Blockchain.create(store, SIM)
        for block in chain_30[:10]:
            assert (await chain.add_block(block)).error is None
        honest = chain_30[10]
        pot = honest.proof_of_time
        assert pot is not None
        gc.collect()
        before_rss = rss_mib()
        before = memo_stats()
        for i in range(200):
            witness = i.to_bytes(4, "big") + bytes(MiB - 4)
            bad = honest.replace(proof_of_time=pot.replace(witness=witness))
            result = await chain.add_block(bad)
            assert result.error is Err.INVALID_POT
            del bad, witness
        gc.collect()
        grown = rss_mib() - before_rss
        assert grown < 40, f"RSS grew {grown:.0f} MiB after 200 rejected 1 MiB witnesses"
        after = memo_stats()
        # Rejected before memoising: the VDF memo did not take one entry for them.
        assert after["vdf_proof"].entries == before["vdf_proof"].entries
        for name, stats in after.items():
            assert stats.bytes <= stats.max_bytes == proofs.PROOF_CACHE_BYTES, name
        assert (await chain.add_block(honest)).error is None
        assert chain.get_peak() is not None and chain.get_peak().header_hash == honest.header_hash
    finally:
        await store.aclose()


def test_wrong_witness_type_or_length_is_rejected_unmemoised(chain_30: list[FullBlock]) -> None:
    pot = chain_30[5].proof_of_time
    assert pot is not None
    before = memo_stats()["vdf_proof"].entries
    # n-Wesolowski sizes: a type-1 witness is 100 + 141 bytes; this consensus takes type 0 only.
    variants = [
        pot.replace(witness=bytes(pot.witness) + bytes(proofs.VDF_SEGMENT_SIZE)),
        pot.replace(witness_type=uint8(1), witness=bytes(pot.witness) + bytes(141)),
        pot.replace(witness=bytes(9 * MiB)),
        pot.replace(witness=bytes(pot.witness)[:99]),
    ]
    for variant in variants:
        assert verify_pot(SIM, variant) is False
    assert memo_stats()["vdf_proof"].entries == before
    assert verify_pot(SIM, pot) is True


def test_thousands_of_distinct_bad_proofs_fill_the_vdf_memo_only_to_its_bound(
    chain_30: list[FullBlock],
) -> None:
    """Well-formed sizes, other challenges: each is checked and memoised, with its
    discriminant, and the memory both memos hold (tracemalloc) stays within their byte bounds
    (the original caches, bounded by 4,096 entries each, held ~6 MiB). Other iteration counts
    would not do: the sim network's 16-bit class groups are so small that a proof often holds
    for many counts."""
    pot = chain_30[7].proof_of_time
    assert pot is not None
    proofs.clear_proof_caches()
    count = 12_000
    tracemalloc.start()
    try:
        results = [
            verify_pot(SIM, pot.replace(challenge_hash=bytes32(digest(b"other challenge", i))))
            for i in range(count)
        ]
        gc.collect()
        with_memos = tracemalloc.get_traced_memory()[0]
        stats = memo_stats()
        proofs.clear_proof_caches()
        gc.collect()
        held = with_memos - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert results.count(False) > count * 0.9
    assert held <= 2 * proofs.PROOF_CACHE_BYTES, f"memos held {held / MiB:.1f} MiB"
    for name in ("vdf_proof", "discriminant"):
        assert stats[name].bytes <= proofs.PROOF_CACHE_BYTES
        assert 0 < stats[name].entries < count, name  # the oldest were dropped
    assert verify_pot(SIM, pot) is True


def test_oversized_pos_and_signature_inputs_are_not_memoised(chain_30: list[FullBlock]) -> None:
    block = chain_30[3]
    pos = block.proof_of_space
    before = memo_stats()
    assert proofs.check_pos_proof(pos.replace(size=uint8(200), proof=bytes(1600))) is None
    assert proofs.check_pos_proof(pos.replace(proof=bytes(pos.proof) + bytes(8))) is None
    sig = bytes(block.header.plot_signature)
    message = bytes(block.header.data.get_hash())
    assert proofs.verify_signature(bytes(MiB), message, sig) is False
    assert proofs.verify_signature(bytes(pos.plot_public_key), message, sig + bytes(MiB)) is False
    after = memo_stats()
    assert after["pos_quality"].entries == before["pos_quality"].entries
    assert after["plot_signature"].entries == before["plot_signature"].entries
    assert proofs.check_pos_proof(pos) is not None
    assert proofs.verify_signature(bytes(pos.plot_public_key), message, sig) is True


@pytest.mark.parametrize("kind", ["bool", "quality", "discriminant"])
def test_memo_charge_covers_measured_memory(kind: str) -> None:
    values = {
        "bool": lambda i: True,
        "quality": lambda i: os.urandom(32),
        "discriminant": lambda i: str(10**309 + i),  # a 1024-bit discriminant's decimal string
    }[kind]
    tracemalloc.start()
    try:
        memo: ByteBoundedMemo[object] = ByteBoundedMemo("t", 10**9)
        gc.collect()
        base = tracemalloc.get_traced_memory()[0]
        for i in range(5000):
            memo.put(digest(i), values(i))
        gc.collect()
        measured = tracemalloc.get_traced_memory()[0] - base
    finally:
        tracemalloc.stop()
    assert memo.stats().bytes >= measured


def test_memo_stays_bounded_and_consistent_under_threads() -> None:
    memo: ByteBoundedMemo[bytes] = ByteBoundedMemo("t", 256 * 1024)
    computed = [0]

    def work(seed: int) -> None:
        for i in range(4000):
            # Keys two threads share, and keys of their own that force evictions.
            key = digest(seed, i % 300) if i % 3 else digest(seed, 10**6 + i)
            value = memo.get_or_compute(key, lambda k=key: k[:16])
            assert value == key[:16]
            computed[0] += 1

    threads = [threading.Thread(target=work, args=(s % 2,)) for s in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    stats = memo.stats()
    assert computed[0] == 16_000
    assert stats.bytes <= stats.max_bytes
    assert stats.bytes == sum(size for _, size in memo._data.values())
    assert stats.hits + stats.misses == 16_000 and stats.hits > 0
    assert stats.entries < 2 * 300 + 4 * 1333  # evictions happened


# ------------------------------------------------------------------------------ mempool


def _big_transactions(
    bt: BlockTools, count: int, outputs: int, fee_step: int
) -> tuple[list, dict[bytes32, CoinRecord]]:
    puzzle_hash = bt.wallet_puzzle_hash(0)
    txs, records = [], {}
    for i in range(count):
        amount = 10**12
        coin = Coin(bytes32((i + 1).to_bytes(32, "big")), puzzle_hash, uint64(amount))
        fee = 1_000 + fee_step * i
        each = (amount - fee) // outputs
        outs = [
            Output(bytes32((i * outputs + j + 1).to_bytes(32, "big")), uint64(each))
            for j in range(outputs - 1)
        ]
        outs.append(Output(bytes32(b"\xff" * 32), uint64(amount - fee - each * (outputs - 1))))
        txs.append(bt.spend_coins([coin], outputs=outs))
        records[coin.name()] = CoinRecord(coin, 1, None, False)
    return txs, records


@pytest.mark.slow
def test_mempool_flood_holds_at_most_its_byte_bound(block_tools: BlockTools) -> None:
    """100 valid transactions of ~100 kB (9.6 MiB serialized, under the 10-block cost bound)
    offered to a pool with the default bounds: the objects it keeps (tracemalloc) stay under
    the 32 MiB byte bound (the original pool held ~52 MiB); the best payers are kept."""
    tracemalloc.start()
    try:
        pool = Mempool(SIM.MAX_BLOCK_COST)
        txs, records = _big_transactions(block_tools, 100, 2500, fee_step=1_000)
        statuses = [pool.add(tx, records).status for tx in txs]
        best = txs[-1].get_hash()
        del txs
        gc.collect()
        with_pool = tracemalloc.get_traced_memory()[0]
        held_count = len(pool)
        pool_bytes = getattr(pool, "total_bytes", None)
        assert best in pool
        pool.clear()
        gc.collect()
        held = with_pool - tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert held <= 32 * MiB, f"the pool held {held / MiB:.1f} MiB"
    assert pool_bytes is not None and held <= pool_bytes <= 32 * MiB
    assert AddStatus.FULL in statuses or held_count < 100


def test_mempool_evicts_lowest_fee_per_byte_when_bytes_run_out(block_tools: BlockTools) -> None:
    txs, records = _big_transactions(block_tools, 12, 200, fee_step=50_000)
    probe = Mempool(SIM.MAX_BLOCK_COST)
    assert probe.add(txs[0], records).added
    one = probe.total_bytes
    pool = Mempool(SIM.MAX_BLOCK_COST, max_total_bytes=5 * one + one // 2)
    for tx in txs[1:6]:  # fee rates rising
        assert pool.add(tx, records).added
    assert pool.add(txs[0], records).status is AddStatus.FULL  # pays the least: refused
    for tx in txs[6:]:
        assert pool.add(tx, records).added  # each evicts the lowest rate held
    assert {i.tx_id for i in pool.items()} == {tx.get_hash() for tx in txs[-5:]}
    assert pool.total_bytes <= pool.max_total_bytes
    evicted = pool.set_limits(max_total_cost=pool.max_total_cost, max_total_bytes=2 * one)
    assert [e.tx_id for e in evicted] == [tx.get_hash() for tx in txs[-5:-2]]
    assert len(pool) == 2 and pool.total_bytes <= 2 * one


# ------------------------------------------------------------------------------ address table


class PeersServer:
    """Answers RequestPeers with a fixed list, or fresh addresses each time (a flooder)."""

    def __init__(self, addresses: list[tuple[str, int]] | None = None, fresh: int = 0) -> None:
        self.addresses = addresses or []
        self.fresh = fresh
        self.round = 0

    async def request_peers(self, request: RequestPeers, peer: object) -> Peers:
        if not self.fresh:
            return Peers([PeerInfo(h, uint16(p)) for h, p in self.addresses])
        hosts = []
        for i in range(self.fresh):
            n = (self.round * self.fresh + i) * 2654435761 % (1 << 32)
            n = (n & 0x00FFFFFF) | ((11 + (n >> 24) % 150) << 24)  # 11.x.x.x .. 160.x.x.x
            hosts.append(f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")
        self.round += 1
        return Peers([PeerInfo(h, uint16(8444)) for h in hosts])


HONEST = [(f"172.{16 + g}.{i}.1", 8444) for g in range(10) for i in range(10)]
TRIED = HONEST[::10]


async def _victim_with_honest_table(
    nursery: trio.Nursery, tmp_path: Path, store: PeerStore
) -> tuple[PeerTestNet, PeerNode, PeerManager]:
    """A full node's peer layer (memory transport, at 10.200.0.1) whose table holds 100
    addresses told by 10 honest peers in 10 address groups, 10 of them tried."""
    net = PeerTestNet(nursery, tmp_path, memory=True)
    # The victim lets peers messages through as fast as the test sends them (the default of
    # 10 a minute would only slow the flood down, not stop it).
    rates = dict(DEFAULT_RATE_LIMITS)
    rates[T.peers] = (10_000, 60.0)
    limits = PeerLimits(rate_limits=rates)
    victim = PeerNode(
        PeerNodeConfig(TEST_NETWORK_ID, NodeType.FULL_NODE, host="10.200.0.1", limits=limits),
        net.transport("victim", source="10.200.0.1", limits=limits),
    )
    await nursery.start(victim.run)
    manager = PeerManager(victim, store, PeerManagerConfig())
    for g in range(10):
        told = HONEST[g * 10 : (g + 1) * 10]
        honest = await net.node(f"honest{g}", PeersServer(told), source=f"10.{g + 1}.0.1")
        assert honest.port is not None
        conn = await victim.connect(f"10.{g + 1}.0.1", honest.port)
        await manager._exchange_peers(conn)
    for host, port in TRIED:
        await store.mark_success(host, port, time.time())
    rows = {(r.host, r.port) for r in await store.candidates(limit=10**6)}
    assert set(HONEST) <= rows
    return net, victim, manager


async def test_peers_reply_over_the_protocol_max_is_refused_and_banned(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    store = PeerStore.open(tmp_path / "peers.sqlite")
    try:
        net, victim, manager = await _victim_with_honest_table(nursery, tmp_path, store)
        mallory = await net.node(
            "mallory",
            PeersServer(fresh=20_000),
            source="10.66.0.1",
            limits=PeerLimits(rate_limits={}),
        )
        assert mallory.port is not None
        conn = await victim.connect("10.66.0.1", mallory.port)
        await manager._exchange_peers(conn)
        with trio.fail_after(5):
            await conn.closed.wait()
        assert victim.bans.is_banned("10.66.0.1")
        rows = {(r.host, r.port) for r in await store.candidates(limit=10**6)}
        assert rows == set(HONEST)
    finally:
        victim.stop()
        store.close()


async def test_peers_flood_from_one_source_evicts_no_honest_address(
    nursery: trio.Nursery, tmp_path: Path
) -> None:
    """25 replies of 1,000 fresh addresses (25,000 > the 20,000-row table) from one peer: the
    original table dropped its oldest rows, honest and tried ones first. Now the flooder's
    source holds at most max_per_source (1,000) untried addresses and nothing else goes."""
    store = PeerStore.open(tmp_path / "peers.sqlite")
    try:
        net, victim, manager = await _victim_with_honest_table(nursery, tmp_path, store)
        mallory = await net.node(
            "mallory",
            PeersServer(fresh=1000),
            source="10.66.0.1",
            limits=PeerLimits(rate_limits={}),
        )
        assert mallory.port is not None
        conn = await victim.connect("10.66.0.1", mallory.port)
        for _ in range(25):
            await manager._exchange_peers(conn)
        records = await store.candidates(limit=10**6)
        rows = {(r.host, r.port) for r in records}
        assert set(HONEST) <= rows, f"{len(set(HONEST) - rows)} honest addresses evicted"
        assert all(r.tried for r in records if (r.host, r.port) in set(TRIED))
        flood = [r for r in records if (r.host, r.port) not in set(HONEST)]
        assert len(flood) <= store.limits.max_per_source
        assert len(records) <= store.limits.max_addresses
    finally:
        victim.stop()
        store.close()


@pytest.fixture(params=BACKENDS)
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with backend_url(request.param, tmp_path) as url:
        yield url


def _spread(start: int, count: int) -> list[tuple[str, int]]:
    out = []
    for i in range(start, start + count):
        n = i * 2654435761 % (1 << 32)
        n = (n & 0x00FFFFFF) | ((11 + (n >> 24) % 150) << 24)
        out.append((f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}", 8444))
    return out


async def test_address_table_quotas_on_both_backends(url: str) -> None:
    """Small bounds, same rules: per reply, per source, per group, total; tried never go."""
    limits = AddressLimits(
        max_addresses=300, max_per_source=100, max_per_group=20, max_per_reply=50
    )
    store = PeerStore.open(url, limits=limits)
    try:
        now = 1000.0
        honest = {}
        for g in range(5):  # 5 honest sources, 20 addresses each, each in its own group
            told = [(f"172.{16 + g}.{i}.1", 8444) for i in range(20)]
            result = await store.add_seen(told, now, source=f"192.{168 + g}.0.1")
            assert result.added == 20
            honest[g] = told
        await store.mark_success("172.16.0.1", 8444, now)
        # Per reply: 200 offered, 50 taken.
        result = await store.add_seen(_spread(0, 200), now + 1, source="10.66.0.1")
        assert (result.added, result.dropped) == (50, 150)
        # Per source: many replies; the source recycles its own slots.
        for k in range(1, 20):
            await store.add_seen(_spread(k * 50, 50), now + 1 + k, source="10.66.0.1")
        records = await store.candidates(limit=10**6)
        mine = [r for r in records if r.source_group == "10.66.0.0/16"]
        assert len(mine) == 100
        assert {(r.host, r.port) for r in mine} >= set(_spread(19 * 50, 50))  # the newest kept
        # Per group: a source flooding an honest group evicts its own, not the honest ones.
        into_group = [(f"172.16.{i}.9", 8444) for i in range(50)]
        await store.add_seen(into_group, now + 30, source="10.77.0.1")
        records = await store.candidates(limit=10**6)
        group = [r for r in records if r.addr_group == "172.16.0.0/16" and not r.tried]
        assert len(group) <= limits.max_per_group
        rows = {(r.host, r.port) for r in records}
        assert all(addr in rows for told in honest.values() for addr in told)
        # A group the honest source fills (20 untried): a flooding source new to it takes
        # one slot, then recycles it.
        await store.add_seen(
            [(f"172.17.{i}.9", 8444) for i in range(50)], now + 31, source="10.78.0.1"
        )
        rows = {(r.host, r.port) for r in await store.candidates(limit=10**6)}
        assert sum(addr in rows for addr in honest[1]) >= 19
        assert sum(addr in rows for addr in honest[0] + honest[2] + honest[3] + honest[4]) == 80
        # Total: 40 more sources (40 /16 networks) fill the table: it stays bounded, the
        # sources converge to equal shares (each honest source keeps at least its share),
        # and the tried address stays.
        for s in range(40):
            await store.add_seen(
                _spread(10_000 + s * 50, 50), now + 40 + s, source=f"10.{100 + s}.0.1"
            )
        records = await store.candidates(limit=10**6)
        rows = {(r.host, r.port) for r in records}
        assert len(records) <= limits.max_addresses
        share = limits.max_addresses // (5 + 2 + 40)
        for told in honest.values():
            assert sum(addr in rows for addr in told) >= share
        tried = await store.get("172.16.0.1", 8444)
        assert tried is not None and tried.tried
        # Hosts that are not IP literals, bad ports: dropped (names only from the operator).
        result = await store.add_seen(
            [("evil.example", 8444), ("1.2.3.4", 0)], now, source="10.9.0.1"
        )
        assert (result.added, result.dropped) == (0, 2)
        result = await store.add_seen([("seed.example", 8444)], now)
        assert result.added == 1
    finally:
        store.close()


async def test_a_peers_table_from_before_the_bounds_is_migrated(url: str) -> None:
    if url.startswith("sqlite:///"):
        Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
    engine = sa.create_engine(url)
    try:
        old = sa.MetaData()
        table = sa.Table(
            "peers",
            old,
            sa.Column("host", sa.String(64), primary_key=True),
            sa.Column("port", sa.Integer, primary_key=True),
            sa.Column("last_seen", sa.Float, nullable=False),
            sa.Column("last_attempt", sa.Float, nullable=False, default=0.0),
            sa.Column("last_success", sa.Float, nullable=False, default=0.0),
            sa.Column("failures", sa.Integer, nullable=False, default=0),
        )
        old.create_all(engine)
        with engine.begin() as db:
            db.execute(sa.insert(table).values(host="172.16.1.1", port=8444, last_seen=5.0))
    finally:
        engine.dispose()
    store = PeerStore.open(url)
    try:
        record = await store.get("172.16.1.1", 8444)
        assert record is not None and record.addr_group == "172.16.0.0/16"
        assert (await store.add_seen([("172.17.1.1", 8444)], 6.0, source="10.1.0.1")).added == 1
        assert len(await store.candidates()) == 2
    finally:
        store.close()
