"""Hostile-peer figures for the full node's intake (issue 10, attacks 1-4), printed, not asserted.

    python scripts/attack_intake.py [--only 1,2,3,4] [--plot-dir DIR] [--deadline 45]

Real ``FullNodeService`` nodes (SQLite stores, TLS websockets on 127.0.0.x, the sync loop) and
real ``sim`` blocks from BlockTools (4 k=18 plots, VDFs, BLS signatures). The victim listens on
127.0.0.3, the honest peer on 127.0.0.1, the attacker on 127.0.0.2 (bans are by IP). The
attacker is a full node too; the script sends its hostile messages on its connection.

1. fake tip adverts: an empty victim next to an honest 30-block peer; the attacker sends a
   ``Block`` claiming a huge height and weight every 0.3 s (``unsigned``: header edited, plot
   signature left stale; ``signed``: the attacker owns a plot and re-signs the edited header, so
   the proofs and signature check out and only the chain behind it is missing). Printed: time
   to the honest tip (or the deadline), whether the honest peer banned the victim, whether the
   victim banned the attacker, fakes sent.
2. bad proof of time: the victim holds an unfinished block; the attacker sends a
   ``NewProofOfTime`` for it with a corrupted witness. Printed: unfinished blocks held after
   it, whether an honest re-relay of the unfinished block is held, whether the honest valid
   proof finishes the block.
3. invalid copy: the attacker sends the next block with a corrupted proof of time (same header
   hash), then the honest peer sends the valid one. Printed: is the valid block stored.
4. pools: (a) 300 valid unfinished variants of one proof of space (fees targets differ);
   (b) 200 disconnected blocks of ~900 KB each (signed headers, junk bodies of the right
   cost) whose parents the attacker does not serve; (c) from another address, one signed
   disconnected block whose ~900 KB "parents" (unsigned junk linked by hash and height) the
   attacker serves on RequestBlock. Printed: pool sizes and bytes.

Measured on 2 shared cores (before: the code before issue 10's intake work; after: now):

=====================================  ==========================  =========================
attack                                 before                      after
=====================================  ==========================  =========================
1 none (honest peer only)              tip in 1.7 s                tip in 1.6 s
1 stale-signature fakes every 0.3 s    height none after 45 s      tip in 1.7 s, liar banned
                                                                   after 1 fake
1 re-signed fakes every 0.3 s          height none after 45 s      tip in 2.2 s, liar banned
                                                                   after 4 fakes
2 held after the bad proof             0 (re-relay dropped too;    1 (sender banned; the
                                       valid proof finishes none)  valid proof finishes it)
3 valid block after an invalid copy    not stored                  stored
4a 300 variants of one proof of space  300 held, 300 relayed       3 held (2,322 B), 3 relayed
4b 200 orphans of ~900 KB              100 held, 90.1 MB           37 held, 33.4 MB (<= 32 MiB)
4c fabricated parents fetched          29 (26.1 MB), not banned    1 (0.9 MB), banned
=====================================  ==========================  =========================
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import trio

from trionode.consensus import SIM
from trionode.peers.connection import PeerConnection
from trionode.protocols.chain_types import (
    Body,
    Coin,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    Output,
    Spend,
    Transaction,
)
from trionode.protocols.peer_protocol import (
    Block,
    NewProofOfTime,
    RequestBlock,
    UnfinishedBlock,
)
from trionode.protocols.shared_protocol import Error, NodeType
from trionode.roles.full_node.api import FullNodeAPI
from trionode.testing.block_tools import BlockTools
from trionode.testing.full_node import NodeHandle, TestNetwork
from trionode.wire import G1Element, G2Element, bytes32, uint32, uint64, uint128

VICTIM, HONEST, ATTACKER, FABRICATOR = "127.0.0.3", "127.0.0.1", "127.0.0.2", "127.0.0.4"
MiB = 1024 * 1024


def link(frm: NodeHandle, to: NodeHandle) -> PeerConnection | None:
    node = frm.service.node
    assert node is not None and to.service.node is not None
    for c in node.get_connections(NodeType.FULL_NODE):
        if c.node_id == to.service.node.node_id:
            return c
    return None


async def wait_link(frm: NodeHandle, to: NodeHandle) -> PeerConnection:
    node = frm.service.node
    assert node is not None
    while (conn := link(frm, to)) is None:
        await node.wait_connection_change()
    return conn


async def poll(cond: Callable[[], bool], seconds: float) -> bool:
    with trio.move_on_after(seconds):
        while not cond():  # noqa: ASYNC110
            await trio.sleep(0.02)
        return True
    return False


async def settle(value: Callable[[], int], quiet: float = 1.5, at_most: float = 60) -> None:
    """Until ``value()`` has not changed for ``quiet`` seconds (the node is done)."""
    with trio.move_on_after(at_most):
        last, since = value(), time.monotonic()
        while time.monotonic() - since < quiet:
            await trio.sleep(0.1)
            if (now := value()) != last:
                last, since = now, time.monotonic()


def banned(by: NodeHandle, host: str) -> bool:
    node = by.service.node
    return node is not None and node.bans.is_banned(host)


def unfinished_held(h: NodeHandle) -> tuple[int, int]:
    """(blocks, bytes) of the victim's unfinished block pool."""
    farming = h.full_node.farming
    blocks = [b for v in farming.unfinished.values() for b in v]
    return len(blocks), sum(len(bytes(b)) for b in blocks)


def orphans_held(h: NodeHandle) -> tuple[int, int]:
    orphans = h.full_node.intake.orphans.by_parent
    blocks = [b for v in orphans.values() for b in v]
    return len(blocks), sum(len(bytes(b)) for b in blocks)


def padded(bt: BlockTools, block: FullBlock, size: int, salt: int, **header: Any) -> FullBlock:
    """``block`` with one unsigned transaction of about ``size`` junk bytes (40-byte outputs;
    the cost field matches, so the body passes every check that needs no coin set),
    re-signed: what a plot owner can make for free."""
    coin = Coin(bytes32(salt.to_bytes(32, "big")), bytes32(bytes(32)), uint64(1))
    outs = [Output(bytes32(i.to_bytes(32, "big")), uint64(i)) for i in range(size // 40)]
    tx = Transaction([Spend(coin, G1Element(), outs)], G2Element())
    body: Body = block.body.replace(transactions=[tx], cost=uint64(len(bytes(tx))))
    return bt.rebuild(block, body=body, header_changes=header or None)


# -- 1 ------------------------------------------------------------------------------------


async def attack_fake_adverts(
    bt: BlockTools, chain: Sequence[FullBlock], base: Path, deadline: float, signed: bool | None
) -> dict[str, Any]:
    tip = chain[-1]

    def fake(i: int) -> FullBlock:
        changes = {
            "height": uint32(10_000 + i),
            "weight": uint128(10**15 + i),
            "total_iters": uint128(10**12 + i),
        }
        if signed:
            coinbase = CoinbaseInfo(
                uint32(10_000 + i), tip.body.coinbase.amount, tip.body.coinbase.puzzle_hash
            )
            body = tip.body.replace(
                coinbase=coinbase, coinbase_signature=bt.sign_coinbase(coinbase)
            )
            return bt.rebuild(tip, body=body, header_changes=changes)
        data = tip.header.data.replace(**changes)
        return tip.replace(header=Header(data, tip.header.plot_signature))

    out: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, base)
        honest = await net.start("honest", chain=chain, host=HONEST, target_outbound=0)
        attacker = await net.start("attacker", host=ATTACKER, target_outbound=0)
        sent = 0

        async def advertise() -> None:
            nonlocal sent
            i = 0
            while True:
                conn = link(attacker, victim)
                if conn is not None and not conn.closed.is_set():
                    try:
                        await conn.send(Block(fake(i)))
                        sent += 1
                    except Exception:  # noqa: BLE001 - the victim closed on us
                        pass
                i += 1
                await trio.sleep(0.3)

        # The victim knows the attacker first (its fakes are the first tips it hears of), then
        # meets the honest peer.
        victim = await net.start("victim", host=VICTIM, peers=[attacker])
        if signed is not None:
            nursery.start_soon(advertise)
            await trio.sleep(1.5)
        start = time.monotonic()
        await net.connect("victim", "honest")
        reached = False
        with trio.move_on_after(deadline):
            await net.wait_for("victim", tip.header_hash)
            reached = True
        out["reached_honest_tip"] = reached
        out["seconds"] = round(time.monotonic() - start, 2)
        out["victim_height"] = victim.blockchain.peak_height
        out["honest_banned_victim"] = banned(honest, VICTIM)
        out["victim_banned_attacker"] = banned(victim, ATTACKER)
        out["fakes_sent"] = sent
        nursery.cancel_scope.cancel()
    return out


# -- 2 ------------------------------------------------------------------------------------


async def attack_bad_proof(bt: BlockTools, chain: Sequence[FullBlock], base: Path) -> dict:
    unfinished = bt.make_unfinished(chain, seed=3)
    finished = bt.finish_block(unfinished, chain[-1].header_block())
    pot = finished.proof_of_time
    assert pot is not None
    witness = bytearray(pot.witness)
    witness[50] ^= 0xFF
    bad = pot.replace(witness=bytes(witness))
    out: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, base)
        honest = await net.start("honest", chain=chain, host=HONEST, target_outbound=0)
        attacker = await net.start("attacker", chain=chain, host=ATTACKER, target_outbound=0)
        victim = await net.start("victim", chain=chain, host=VICTIM, peers=[honest, attacker])
        to_victim = await wait_link(attacker, victim)
        honest_link = await wait_link(honest, victim)
        await to_victim.send(UnfinishedBlock(unfinished))
        await poll(lambda: unfinished_held(victim)[0] == 1, 10)
        out["held_before_bad_proof"] = unfinished_held(victim)[0]
        await to_victim.send(NewProofOfTime(bad))
        await poll(lambda: to_victim.closed.is_set(), 5)
        await trio.sleep(0.5)
        out["held_after_bad_proof"] = unfinished_held(victim)[0]
        out["attacker_banned"] = banned(victim, ATTACKER)
        await honest_link.send(UnfinishedBlock(unfinished))  # a re-relay
        await trio.sleep(0.5)
        out["held_after_rerelay"] = unfinished_held(victim)[0]
        await honest_link.send(NewProofOfTime(pot))
        out["valid_proof_finished_block"] = await poll(
            lambda: victim.peak_hash() == finished.header_hash, 10
        )
        nursery.cancel_scope.cancel()
    return out


# -- 3 ------------------------------------------------------------------------------------


async def attack_invalid_copy(bt: BlockTools, chain: Sequence[FullBlock], base: Path) -> dict:
    valid = bt.next_block(chain, seed=4)
    pot = valid.proof_of_time
    assert pot is not None
    witness = bytearray(pot.witness)
    witness[50] ^= 0xFF
    copy = valid.replace(proof_of_time=pot.replace(witness=bytes(witness)))
    assert copy.header_hash == valid.header_hash
    out: dict[str, Any] = {}
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, base)
        honest = await net.start("honest", chain=chain, host=HONEST, target_outbound=0)
        attacker = await net.start("attacker", chain=chain, host=ATTACKER, target_outbound=0)
        victim = await net.start("victim", chain=chain, host=VICTIM, peers=[honest, attacker])
        to_victim = await wait_link(attacker, victim)
        honest_link = await wait_link(honest, victim)
        await to_victim.send(Block(copy))
        await poll(lambda: to_victim.closed.is_set(), 5)
        out["attacker_banned"] = banned(victim, ATTACKER)
        await honest_link.send(Block(valid))
        out["valid_block_stored"] = await poll(
            lambda: victim.blockchain.contains_block(valid.header_hash), 10
        )
        nursery.cancel_scope.cancel()
    return out


# -- 4 ------------------------------------------------------------------------------------


class FakeParentsAPI(FullNodeAPI):
    """Serves RequestBlock from ``parents`` (a fabricated chain) and counts what it served."""

    parents: dict[bytes32, FullBlock] = {}
    served = 0
    served_bytes = 0

    async def request_block(self, msg: RequestBlock, peer: PeerConnection) -> Block | Error:
        block = type(self).parents.get(msg.header_hash)
        if block is None:
            return await super().request_block(msg, peer)
        type(self).served += 1
        type(self).served_bytes += len(bytes(block))
        return Block(block)


async def attack_pools(bt: BlockTools, chain: Sequence[FullBlock], base: Path) -> dict:
    out: dict[str, Any] = {}
    unfinished = bt.make_unfinished(chain, seed=3)
    variants = [
        bt.rebuild(
            unfinished,
            body=unfinished.body.replace(
                fees_target=FeesTarget(bytes32((i + 1).to_bytes(32, "big")), uint64(0))
            ),
        )
        for i in range(300)
    ]
    nxt = bt.next_block(chain, seed=4)
    # (b) signed headers, junk ~900 KB bodies, unknown parents: they wait in the orphan pool
    orphans = [
        padded(bt, nxt, 900_000, i, prev_header_hash=bytes32((i + 7).to_bytes(32, "big")))
        for i in range(200)
    ]
    # (c) a fabricated chain of ~900 KB "parents" (unsigned junk, linked by hash and height)
    # below one signed disconnected block
    fabricated: list[FullBlock] = []
    prev = bytes32(b"\x5a" * 32)
    for h in range(1, len(chain)):
        blk = padded(bt, nxt, 900_000, 10_000 + h, prev_header_hash=prev)
        data = blk.header.data.replace(height=uint32(h))
        blk = blk.replace(header=Header(data, blk.header.plot_signature))
        fabricated.append(blk)
        prev = blk.header_hash
    fabricated.append(padded(bt, nxt, 900_000, 20_000, prev_header_hash=prev))
    FakeParentsAPI.parents = {b.header_hash: b for b in fabricated[:-1]}
    FakeParentsAPI.served = FakeParentsAPI.served_bytes = 0
    async with trio.open_nursery() as nursery:
        net = TestNetwork(nursery, base)
        honest = await net.start("honest", chain=chain, host=HONEST, target_outbound=0)
        attacker = await net.start(
            "attacker",
            chain=chain,
            host=ATTACKER,
            target_outbound=0,
            api_class=FakeParentsAPI,
        )
        victim = await net.start("victim", chain=chain, host=VICTIM, peers=[honest, attacker])
        to_victim = await wait_link(attacker, victim)
        for v in variants:
            await to_victim.send(UnfinishedBlock(v))
        await settle(lambda: unfinished_held(victim)[0])
        n, size = unfinished_held(victim)
        out["unfinished_variants_sent"] = len(variants)
        out["unfinished_held"] = n
        out["unfinished_bytes"] = size
        out["unfinished_relayed_to_honest"] = unfinished_held(honest)[0]
        out["attacker_banned_after_variants"] = banned(victim, ATTACKER)
        for o in orphans:
            if to_victim.closed.is_set():
                break
            try:
                await to_victim.send(Block(o))
            except Exception:  # noqa: BLE001
                break
        await settle(lambda: orphans_held(victim)[0])
        n, size = orphans_held(victim)
        out["orphans_sent"] = len(orphans)
        out["orphans_held"] = n
        out["orphan_bytes"] = size
        # (c) from a fresh attacker address (the first may be banned by now)
        fabricator = await net.start(
            "fabricator", chain=chain, host=FABRICATOR, target_outbound=0, api_class=FakeParentsAPI
        )
        await net.connect("victim", "fabricator")
        to_victim = await wait_link(fabricator, victim)
        await to_victim.send(Block(fabricated[-1]))
        await settle(lambda: FakeParentsAPI.served)
        out["fabricated_parents_served"] = FakeParentsAPI.served
        out["fabricated_parent_bytes_fetched"] = FakeParentsAPI.served_bytes
        out["fabricator_banned"] = banned(victim, FABRICATOR)
        nursery.cancel_scope.cancel()
    return out


async def main(args: argparse.Namespace) -> None:
    plot_dir = Path(args.plot_dir)
    bt = BlockTools(SIM, plot_dir, num_plots=4, k=18)
    chain = bt.make_chain(30)
    only = {int(x) for x in args.only.split(",")}
    with tempfile.TemporaryDirectory() as tmp:
        base = Path(tmp)
        if 1 in only:
            for label, signed in (("none", None), ("unsigned", False), ("signed", True)):
                res = await attack_fake_adverts(
                    bt, chain, base / f"a1-{label}", args.deadline, signed
                )
                print(f"attack 1 (fake adverts: {label}):", res, flush=True)
        if 2 in only:
            print(
                "attack 2 (bad proof of time):", await attack_bad_proof(bt, chain[:20], base / "a2")
            )
        if 3 in only:
            print(
                "attack 3 (invalid copy):", await attack_invalid_copy(bt, chain[:20], base / "a3")
            )
        if 4 in only:
            print("attack 4 (pools):", await attack_pools(bt, chain, base / "a4"))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--only", default="1,2,3,4")
    parser.add_argument(
        "--plot-dir",
        default=os.path.join(tempfile.gettempdir(), "trionode-k18-plots"),
    )
    parser.add_argument("--deadline", type=float, default=45.0)
    trio.run(main, parser.parse_args())
