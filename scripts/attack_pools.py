"""Measure the bounded pools under floods (issue 10, item 4); print the figures.

Three attacks, each through the node's real code path:

1. **Oversized VDF witnesses.** A sim chain is stored in a real Blockchain (SQLite); then
   ``--witness-blocks`` copies of the next block, each with a distinct ``--witness-mib`` MiB
   proof-of-time witness (a block fits in the 10 MiB message cap), go through
   ``Blockchain.add_block``: all are rejected. Printed: RSS before and after (garbage collected),
   the memoised proof checks' entries and bytes, and whether the honest block is then added.
2. **Mempool flood.** ``--tx`` signed transactions of ``--outputs`` outputs each (valid: the
   coins they spend are handed to the pool as unspent) with rising fees go into a Mempool with
   its default bounds. Printed: transactions held, their cost (serialized bytes), the pool's
   byte account where it keeps one, and the memory the held pool really takes (tracemalloc).
3. **Peers flood.** A node's address table holds honest addresses from 10 peers (/16 groups),
   some of them tried; then one peer answers RequestPeers, ``--floods`` times, with
   ``--flood-size`` fresh addresses, over the in-memory transport into the real PeerManager and
   PeerStore (SQLite). Then again with 30 replies of 1,000 (the protocol's most). Printed: honest and tried addresses
   that survive, table size.

    python scripts/attack_pools.py [--witness-blocks 20] [--tx 200] [--flood-size 20000]

Run it with the worktree first on the path (``PYTHONPATH=$PWD``).
"""

from __future__ import annotations

import argparse
import gc
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any

import trio

from trionode.blockchain.blockchain import Blockchain
from trionode.consensus import SIM, CoinRecord, proofs
from trionode.mempool import Mempool
from trionode.peers.limits import DEFAULT_RATE_LIMITS, PeerLimits
from trionode.peers.manager import PeerManager, PeerManagerConfig
from trionode.peers.node import PeerNode, PeerNodeConfig
from trionode.protocols import ProtocolMessageTypes as T
from trionode.protocols.chain_types import Coin, Output
from trionode.protocols.peer_protocol import PeerInfo, Peers, RequestPeers
from trionode.protocols.shared_protocol import NodeType
from trionode.storage.chain_store import ChainStore
from trionode.storage.peer_store import PeerStore
from trionode.testing.block_tools import BlockTools
from trionode.testing.peers import TEST_NETWORK_ID, PeerTestNet
from trionode.wire import bytes32, uint16, uint64

MiB = 1024 * 1024


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def cache_figures() -> str:
    stats = getattr(proofs, "proof_cache_stats", None)
    if stats is not None:
        parts = [f"{name} {s.entries} entries / {s.bytes} B" for name, s in stats().items()]
        return ", ".join(parts)
    # The original code: functools.lru_cache, which reports entries only.
    parts = []
    for name in ("_pos_quality", "_verify_signature", "_verify_pot"):
        fn: Any = getattr(proofs, name)
        parts.append(f"{name} {fn.cache_info().currsize} entries (bytes not tracked)")
    return ", ".join(parts)


async def witness_attack(bt: BlockTools, tmp: Path, count: int, mib: float) -> None:
    chain = bt.make_chain(12)
    store = await ChainStore.open(f"sqlite:///{tmp / 'chain.sqlite'}")
    try:
        bc = await Blockchain.create(store, SIM)
        for block in chain[:-1]:
            result = await bc.add_block(block)
            assert result.error is None, result
        honest = chain[-1]
        pot = honest.proof_of_time
        assert pot is not None
        gc.collect()
        before = rss_mib()
        errors: set[str] = set()
        size = int(mib * MiB)
        for i in range(count):
            witness = i.to_bytes(4, "big") + bytes(size - 4)
            bad = honest.replace(proof_of_time=pot.replace(witness=witness))
            result = await bc.add_block(bad)
            errors.add(f"{result.status.name}/{result.error.name if result.error else None}")
            del bad, witness
        gc.collect()
        after = rss_mib()
        print(
            f"[witness] {count} blocks with {mib:g} MiB witnesses -> {sorted(errors)}; "
            f"RSS {before:.0f} -> {after:.0f} MiB (+{after - before:.0f})"
        )
        print(f"[witness] proof caches: {cache_figures()}")
        result = await bc.add_block(honest)
        print(f"[witness] honest block afterwards: {result.status.name} {result.error}")
    finally:
        await store.aclose()


def mempool_attack(bt: BlockTools, count: int, outputs: int) -> None:
    tracemalloc.start()  # before the transactions exist: what the pool holds is traced
    pool = Mempool(SIM.MAX_BLOCK_COST)
    puzzle_hash = bt.wallet_puzzle_hash(0)
    coins: list[Coin] = []
    txs = []
    for i in range(count):
        coin = Coin(bytes32(i.to_bytes(32, "big")), puzzle_hash, uint64(10**12))
        outs = [
            Output(bytes32((i * outputs + j).to_bytes(32, "big")), uint64(1))
            for j in range(outputs)
        ]
        txs.append(bt.spend_coins([coin], outputs=outs))
        coins.append(coin)
    records = {c.name(): CoinRecord(c, 1, None, False) for c in coins}
    offered = sum(len(bytes(tx)) for tx in txs)
    statuses: dict[str, int] = {}
    for tx in txs:
        status = pool.add(tx, records).status.value
        statuses[status] = statuses.get(status, 0) + 1
    del txs, tx
    gc.collect()
    with_pool = tracemalloc.get_traced_memory()[0]
    kept = len(pool), pool.total_cost
    account = getattr(pool, "total_bytes", None)
    items = pool.clear()
    del items
    gc.collect()
    held = with_pool - tracemalloc.get_traced_memory()[0]
    tracemalloc.stop()
    bound = getattr(pool, "max_total_bytes", None)
    print(
        f"[mempool] offered {count} tx x {outputs} outputs ({offered / MiB:.1f} MiB serialized): "
        f"{statuses}; held {kept[0]} tx, cost {kept[1] / MiB:.2f} MiB "
        f"(bound {pool.max_total_cost / MiB:.2f})"
        + (
            ""
            if account is None
            else f", byte account {account / MiB:.2f} MiB (bound {bound / MiB:.2f})"
        )
    )
    print(f"[mempool] memory held by the pool (tracemalloc): {held / MiB:.1f} MiB")


class Flooder:
    def __init__(self, size: int) -> None:
        self.size = size
        self.round = 0

    async def request_peers(self, request: RequestPeers, peer: object) -> Peers:
        # Fresh addresses each reply, spread over every 10.x/16 group and beyond (never the
        # honest 172.16-25 groups).
        hosts = []
        for i in range(self.size):
            n = (self.round * self.size + i) * 2654435761 % (1 << 32)
            n = (n & 0x00FFFFFF) | ((11 + (n >> 24) % 150) << 24)  # first octet 11..160
            hosts.append(f"{n >> 24}.{(n >> 16) & 255}.{(n >> 8) & 255}.{n & 255}")
        self.round += 1
        return Peers([PeerInfo(h, uint16(8444)) for h in hosts])


async def peers_attack(tmp: Path, size: int, floods: int) -> None:
    store = PeerStore.open(tmp / "peers.sqlite")
    try:
        now = time.time()
        honest = [(f"172.{16 + g}.{i}.1", 8444) for g in range(10) for i in range(10)]
        tried = honest[::10]
        for g in range(10):
            source = f"172.{16 + g}.0.1"
            group = honest[g * 10 : (g + 1) * 10]
            add = getattr(store, "add_learned", None)
            if add is not None:
                await add(group, now, source=source)
            else:
                await store.add_seen(group, now)
        for host, port in tried:
            await store.mark_success(host, port, now)
        async with trio.open_nursery() as nursery:
            net = PeerTestNet(nursery, tmp, memory=True)
            # The attacker answers however often it is asked (no rate limits of its own).
            attacker = await net.node(
                "mallory", Flooder(size), source="127.0.0.2", limits=PeerLimits(rate_limits={})
            )
            # The victim takes peers messages as fast as they come (its default of 10 a minute
            # only slows a flood down: over hours it gets the same addresses).
            rates = dict(DEFAULT_RATE_LIMITS)
            rates[T.peers] = (10_000, 60.0)
            limits = PeerLimits(rate_limits=rates)
            victim = PeerNode(
                PeerNodeConfig(TEST_NETWORK_ID, NodeType.FULL_NODE, limits=limits),
                net.transport("victim", limits=limits),
            )
            await nursery.start(victim.run)
            manager = PeerManager(victim, store, PeerManagerConfig())
            assert attacker.port is not None
            conn = await victim.connect("127.0.0.2", attacker.port)
            started = time.perf_counter()
            for _ in range(floods):
                await manager._exchange_peers(conn)
            elapsed = time.perf_counter() - started
            victim.stop()
            attacker.stop()
        left = {(r.host, r.port) for r in await store.candidates(limit=10**6)}
        print(
            f"[peers] {floods} Peers replies of {size} addresses from one peer "
            f"({elapsed:.1f} s): honest {len(left & set(honest))}/{len(honest)} survive, "
            f"tried {len(left & set(tried))}/{len(tried)}, table {len(left)} rows"
        )
    finally:
        store.close()


async def main_async(args: argparse.Namespace) -> None:
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        cache = args.cache_dir
        cache.mkdir(parents=True, exist_ok=True)
        bt = BlockTools(SIM, cache / "plots", num_plots=4, k=18)
        if args.witness_blocks:
            await witness_attack(bt, tmp, args.witness_blocks, args.witness_mib)
        if args.tx:
            mempool_attack(bt, args.tx, args.outputs)
        if args.floods:
            for sub in ("a", "b"):
                (tmp / sub).mkdir()
            await peers_attack(tmp / "a", args.flood_size, args.floods)
            await peers_attack(tmp / "b", 1000, 30)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0], allow_abbrev=False)
    parser.add_argument("--witness-blocks", type=int, default=20)
    parser.add_argument("--witness-mib", type=float, default=9.0)
    parser.add_argument("--tx", type=int, default=200)
    parser.add_argument("--outputs", type=int, default=2500)
    parser.add_argument("--flood-size", type=int, default=20000)
    parser.add_argument("--floods", type=int, default=3)
    parser.add_argument(
        "--cache-dir", type=Path, default=Path(tempfile.gettempdir()) / "trionode-attack-pools"
    )
    trio.run(main_async, parser.parse_args())


if __name__ == "__main__":
    main()
