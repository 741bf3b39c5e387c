"""Encode + decode throughput of a FullBlock with 100 transactions and of a HeaderBlock.

Prints objects/s and MB/s for encoding, decoding and both, plus how fast a hostile list length
claim is rejected. Usage: python scripts/bench_codec.py [--seconds S]
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable

import blspy

from trionode.protocols.chain_types import (
    Body,
    Challenge,
    ClassgroupElement,
    Coin,
    CoinbaseInfo,
    FeesTarget,
    FullBlock,
    Header,
    HeaderBlock,
    HeaderData,
    Output,
    ProofOfSpace,
    ProofOfTime,
    Spend,
    Transaction,
)
from trionode.protocols.peer_protocol import AllHeaderHashes
from trionode.wire import (
    DecodeError,
    G1Element,
    G2Element,
    bytes32,
    bytes100,
    uint8,
    uint32,
    uint64,
)


def make_block(n_tx: int = 100) -> FullBlock:
    sks = [blspy.AugSchemeMPL.key_gen(bytes([i + 1]) * 32) for i in range(n_tx)]
    h = bytes32(bytes(range(32)))
    txs = []
    for i, sk in enumerate(sks):
        pk = G1Element(sk.get_g1())
        coin = Coin(h, bytes32(bytes([i]) * 32), uint64(10_000 + i))
        spend = Spend(coin, pk, [Output(h, uint64(5000)), Output(bytes32(bytes(32)), uint64(4000))])
        sig = G2Element(blspy.AugSchemeMPL.sign(sk, bytes(spend)))
        txs.append(Transaction([spend], sig))
    pk0 = G1Element(sks[0].get_g1())
    sig0 = txs[0].aggregated_signature
    pos = ProofOfSpace(h, pk0, None, pk0, uint8(18), bytes(range(144)))
    pot = ProofOfTime(
        h, uint64(1_000_000), ClassgroupElement(bytes100(bytes(100))), uint8(0), bytes(100)
    )
    chal = Challenge(h, h, h, uint32(1000), 5000, 10**9)
    data = HeaderData(uint32(1000), h, uint64(1_700_000_000), h, h, h, 5000, 10**9, h)
    body = Body(
        CoinbaseInfo(uint32(1000), uint64(14_000), h),
        sig0,
        FeesTarget(h, uint64(100)),
        txs,
        sig0,
        uint64(0),
    )
    return FullBlock(pos, pot, chal, Header(data, sig0), body)


def rate(fn: Callable[[], object], seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while time.perf_counter() < deadline:
        fn()
        n += 1
    return n / (time.perf_counter() - start)


def bench(name: str, obj: object, cls: type, seconds: float) -> None:
    raw = bytes(obj)  # type: ignore[call-overload]
    size_mb = len(raw) / 1e6
    enc = rate(lambda: bytes(obj), seconds)  # type: ignore[call-overload]
    dec = rate(lambda: cls.from_bytes(raw), seconds)
    both = rate(lambda: cls.from_bytes(bytes(obj)), seconds)  # type: ignore[call-overload]
    print(f"{name}: {len(raw)} bytes")
    for label, r in (("encode", enc), ("decode", dec), ("encode+decode", both)):
        print(f"  {label:14s} {r:10.1f} objects/s  {r * size_mb:8.2f} MB/s")


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    args = parser.parse_args()
    block = make_block(100)
    bench("FullBlock (100 transactions)", block, FullBlock, args.seconds)
    bench("HeaderBlock", block.header_block(), HeaderBlock, args.seconds)

    hostile = b"\xff\xff\xff\xff" + bytes(16)  # claims 2**32-1 hashes in 20 bytes
    n = 10_000
    start = time.perf_counter()
    for _ in range(n):
        try:
            AllHeaderHashes.from_bytes(hostile)
        except DecodeError:
            pass
    per = (time.perf_counter() - start) / n
    print(f"hostile list claim (2^32-1 items in 20 bytes) rejected in {per * 1e6:.2f} us")


if __name__ == "__main__":
    main()
