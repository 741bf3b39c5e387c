"""Encode and decode throughput of a FullBlock with 100 transactions, a HeaderBlock and a
10-field record, and how fast a hostile list length claim is rejected.

Decoding keeps BLS points as bytes (they are checked on first use); the "decode + points" line
also checks every point, which is what decoding cost before points were lazy.

``--side-by-side`` measures the same objects with chia-blockchain's Python ``@streamable``
(classes built field for field from trionode's, checked byte-identical) in the same run and
prints the ratios. It needs chia-blockchain importable (for example a virtualenv made with
``--system-site-packages`` holding it); without it the line says so and the rest still runs.

Usage: python scripts/bench_codec.py [--seconds S] [--side-by-side]
"""

from __future__ import annotations

import argparse
import dataclasses
import time
import typing
from collections.abc import Callable
from typing import Any

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
    HeaderData,
    Output,
    ProofOfSpace,
    ProofOfTime,
    Spend,
    Transaction,
)
from trionode.protocols.peer_protocol import AllHeaderHashes
from trionode.wire import (
    BLSElement,
    DecodeError,
    G1Element,
    G2Element,
    SizedBytes,
    Streamable,
    StructInt,
    bytes32,
    bytes100,
    streamable,
    uint8,
    uint32,
    uint64,
    uint128,
)


@streamable
class TenFields(Streamable):
    """A small record of the usual field types (what most protocol messages look like)."""

    height: uint32
    header_hash: bytes32
    weight: uint128
    amount: uint64
    puzzle_hash: bytes32
    fee: uint64
    size: uint8
    coinbase: bool
    prev_hash: bytes32 | None
    memo: bytes


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


def make_record() -> TenFields:
    h = bytes32(bytes(range(32)))
    return TenFields(
        uint32(1000), h, uint128(10**12), uint64(1_750_000_000_000), h, uint64(10), uint8(32),
        True, h, bytes(range(20)),
    )  # fmt: skip


def rates(fns: list[Callable[[], object]], seconds: float, rounds: int = 5) -> list[float]:
    """Calls per second of each function, the best of ``rounds`` short runs taken in turn
    (the machine may be shared: interleaving keeps ratios fair, the best run is the least
    disturbed)."""
    best = [0.0] * len(fns)
    per_round = seconds / rounds
    for _ in range(rounds):
        for i, fn in enumerate(fns):
            n = 0
            start = time.perf_counter()
            deadline = start + per_round
            while time.perf_counter() < deadline:
                fn()
                n += 1
            best[i] = max(best[i], n / (time.perf_counter() - start))
    return best


def bench(name: str, obj: Any, seconds: float) -> None:
    cls = type(obj)
    raw = bytes(obj)
    size_mb = len(raw) / 1e6
    enc, dec, dec_points = rates(
        [
            lambda: bytes(obj),
            lambda: cls.from_bytes(raw),
            lambda: cls.from_bytes(raw).check_points(),
        ],
        seconds * 3,
    )
    print(f"{name}: {len(raw)} bytes")
    for label, r in (("encode", enc), ("decode", dec), ("decode + points", dec_points)):
        print(f"  {label:16s} {r:10.1f} objects/s  {r * size_mb:8.2f} MB/s")


def hostile_claim() -> None:
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


# --------------------------------------------------------------------------- side by side


def chia_twin(cls: type, made: dict[type, Any]) -> Any:
    """chia-blockchain's ``@streamable`` class with the same fields as trionode's ``cls``
    (field for field, recursively), so both encode the same bytes."""
    from chia.util.streamable import Streamable as ChiaStreamable
    from chia.util.streamable import streamable as chia_streamable

    if cls not in made:
        fields = [(name, _chia_type(tp, made)) for name, tp in cls.__streamable_fields__]  # type: ignore[attr-defined]
        twin = dataclasses.make_dataclass(
            f"Chia{cls.__name__}", fields, bases=(ChiaStreamable,), frozen=True
        )
        made[cls] = chia_streamable(twin)
    return made[cls]


def _chia_type(tp: Any, made: dict[type, Any]) -> Any:
    import chia_rs
    from chia_rs import sized_bytes, sized_ints

    if isinstance(tp, type):
        if issubclass(tp, StructInt):
            return getattr(sized_ints, tp.__name__)
        if issubclass(tp, SizedBytes):
            return getattr(sized_bytes, tp.__name__)
        if issubclass(tp, BLSElement):
            return getattr(chia_rs, tp.__name__)
        if issubclass(tp, Streamable):
            return chia_twin(tp, made)
        return tp  # bytes, str, bool
    args = tuple(_chia_type(a, made) for a in typing.get_args(tp))
    if type(None) in typing.get_args(tp):
        return typing.Optional[next(a for a in args if a is not type(None))]  # noqa: UP045
    if typing.get_origin(tp) is list:
        return list[args[0]]  # type: ignore[valid-type]
    if typing.get_origin(tp) is tuple:
        return tuple[args]  # type: ignore[valid-type]
    raise TypeError(f"no chia twin for {tp!r}")


def side_by_side(objects: list[tuple[str, Any]], seconds: float) -> None:
    try:
        import chia
        from chia.util.streamable import Streamable as _  # noqa: F401
    except ImportError as exc:
        print(f"side by side: skipped (chia-blockchain is not importable here: {exc})")
        return
    version = getattr(chia, "__version__", "?")
    print(f"\nside by side with chia-blockchain {version} @streamable (objects/s, best of 5)")
    print(f"  {'':46s} {'trionode':>10s} {'chia':>10s} {'ratio':>7s}")
    made: dict[type, Any] = {}
    for name, obj in objects:
        _compare(name, obj, chia_twin(type(obj), made), seconds)


def _compare(name: str, obj: Any, twin: Any, seconds: float) -> None:
    raw = bytes(obj)
    theirs = twin.from_bytes(raw)
    if bytes(theirs) != raw:
        raise SystemExit(f"trionode: the chia twin of {name} does not encode the same bytes")
    ours_cls = type(obj)
    ours_dec, chia_dec, ours_enc, chia_enc, ours_pts = rates(
        [
            lambda: ours_cls.from_bytes(raw),
            lambda: twin.from_bytes(raw),
            lambda: bytes(obj),
            lambda: bytes(theirs),
            lambda: ours_cls.from_bytes(raw).check_points(),
        ],
        seconds * 5,
    )
    lines = [("decode", ours_dec, chia_dec), ("encode", ours_enc, chia_enc)]
    if ours_cls._points_all is not None:
        lines.insert(1, ("decode + every point checked", ours_pts, chia_dec))
    for label, ours, chia_rate in lines:
        print(f"  {name + ' ' + label:46s} {ours:10.1f} {chia_rate:10.1f} {ours / chia_rate:6.2f}x")


def main() -> None:
    parser = argparse.ArgumentParser(allow_abbrev=False, description=__doc__)
    parser.add_argument("--seconds", type=float, default=2.0, help="time per measurement")
    parser.add_argument(
        "--side-by-side",
        action="store_true",
        help="also measure chia-blockchain's @streamable on the same objects (if importable)",
    )
    args = parser.parse_args()
    block = make_block(100)
    objects = [
        ("FullBlock (100 tx)", block),
        ("HeaderBlock", block.header_block()),
        ("10-field record", make_record()),
    ]
    for name, obj in objects:
        bench(name, obj, args.seconds)
    hostile_claim()
    if args.side_by_side:
        side_by_side(objects, args.seconds)


if __name__ == "__main__":
    main()
