"""The pool's rules without a network: pool difficulty, the per-farmer difficulty window and
rate limit, freshness, payouts by points, the store, pooled plot memos, and the new flags and
config keys (docs/protocol.md section 5)."""

from __future__ import annotations

import argparse
import hashlib
import random
from pathlib import Path

import pytest
from blspy import AugSchemeMPL, PrivateKey

from tests.chain_store_helpers import BACKENDS, backend_url
from trionode.cli import build_parser
from trionode.cli import main as cli_main
from trionode.cli.launch import build_service, build_settings
from trionode.cli.rpc import format_pool
from trionode.config import ConfigError, load_settings
from trionode.consensus import (
    DEVNET,
    SIM,
    TESTNET,
    CoinRecord,
    ConsensusConstants,
    coinbase_coin,
    spend_message,
)
from trionode.consensus.pool import partial_passes, pool_sub_slot_iters
from trionode.init_root import init_root
from trionode.keys.keychain import Keychain
from trionode.plotting.memo import CONTRACT_MEMO_SIZE, make_memo, parse_memo, plot_id_for
from trionode.plotting.plot_info import load_plot
from trionode.roles.pool.node import DAMPING, MAX_STEP, WINDOW_INTERVALS, PoolState
from trionode.roles.pool.payout import build_payout, plan_payout
from trionode.storage.pool_store import FarmerRecord, PoolStore
from trionode.wire import bytes32

PH = bytes32(hashlib.sha256(b"pool").digest())


def sha(data: bytes) -> bytes32:
    return bytes32(hashlib.sha256(data).digest())


def state(**kw: object) -> PoolState:
    args: dict = dict(
        target_partials_per_hour=360,
        max_partials_per_minute=3,
        partial_max_depth=4,
        partial_max_age=300.0,
    )
    args.update(kw)
    return PoolState(**args)


# -- pool difficulty ---------------------------------------------------------------------------


def test_partial_pass_rate_is_one_over_difficulty_for_the_smallest_plots() -> None:
    rng = random.Random(15)
    ssi = pool_sub_slot_iters(SIM)
    qualities = [rng.randbytes(32) for _ in range(4000)]
    for difficulty, expected in ((1, 1.0), (2, 0.5), (8, 0.125)):
        rate = sum(partial_passes(SIM, q, 18, difficulty, ssi) for q in qualities) / 4000
        assert abs(rate - expected) < 0.03, (difficulty, rate)
    # A k=19 plot (2.1x the space) passes about 2.1x as often.
    rate19 = sum(partial_passes(SIM, q, 19, 8, ssi) for q in qualities) / 4000
    assert abs(rate19 - 0.125 * 39 * 2 / 37) < 0.03
    assert not partial_passes(SIM, qualities[0], 18, 0, ssi)


@pytest.mark.parametrize("constants", [SIM, DEVNET, TESTNET], ids=["sim", "devnet", "testnet"])
def test_at_difficulty_one_every_quality_of_a_smallest_plot_is_a_partial(
    constants: ConsensusConstants,
) -> None:
    """The bound's quotient rounds up: the best quality (all ones) of a smallest plot passes at
    d = 1 (it did not when it rounded down: about 0.6% of sim qualities were refused)."""
    ssi = pool_sub_slot_iters(constants)
    k = int(constants.MIN_PLOT_SIZE)
    for quality in (b"\xff" * 32, b"\xfe" + b"\xff" * 31, bytes(32)):
        assert partial_passes(constants, quality, k, 1, ssi)
    assert not partial_passes(constants, b"\xff" * 32, k, 2, ssi)


def test_difficulty_window_raises_and_lowers_within_bounds() -> None:
    s = state()  # target 360/h: one partial every 10 s
    window = WINDOW_INTERVALS * 10.0
    assert s.window_seconds() == window
    w = s.window(b"f", 100, now=0.0)
    # 5x the target: no change until the window has run its time...
    for i in range(5 * WINDOW_INTERVALS):
        assert s.on_accepted(w, now=1.0 + i * window / (5 * WINDOW_INTERVALS)) is None
    # ... then the ratio (clamped to 4) is applied damped: 100 * 4**0.5.
    assert s.on_accepted(w, now=window) == round(100 * MAX_STEP**DAMPING) == 200
    assert w.difficulty == 200 and w.previous_difficulty == 100
    # Partials made at the old difficulty still count for partial_max_age s.
    assert s.passing_difficulties(w, now=window + 1) == [200, 100]
    assert s.passing_difficulties(w, now=window + 301) == [200]
    # On target: no change.
    for i in range(WINDOW_INTERVALS):
        assert s.on_accepted(w, now=window + 1 + 10.0 * i) is None
    assert s.on_accepted(w, now=2 * window) is None and w.difficulty == 200
    # A silent window is closed by the maintenance loop: lowered 2x, never below 1.
    active = {b"f"}
    assert list(s.slow_farmers(3 * window - 1, active)) == []
    assert list(s.slow_farmers(3 * window, set())) == []  # not connected: left alone
    assert list(s.slow_farmers(3 * window, active)) == [(b"f", 100)]
    w.difficulty = 1
    assert list(s.slow_farmers(4 * window, active)) == []
    assert w.difficulty == 1
    # Rejoining restarts the window: the time away is not a rate.
    s.restart_window(w, now=10 * window)
    assert list(s.slow_farmers(10.5 * window, active)) == []


def test_rate_limit_per_farmer_per_minute() -> None:
    s = state(max_partials_per_minute=3)
    w = s.window(b"f", 1, now=0.0)
    assert [s.rate_ok(w, 1.0) for _ in range(4)] == [True, True, True, False]
    assert s.rate_ok(w, 61.5)
    other = s.window(b"g", 1, now=0.0)
    assert s.rate_ok(other, 2.0)  # per farmer


def test_freshness_by_depth_and_age() -> None:
    s = state(partial_max_depth=2, partial_max_age=100.0)
    s.add_challenge(sha(b"0"), 10, now=0.0)
    assert s.freshness(sha(b"x"), 1.0) == ("unknown", None)
    assert s.freshness(sha(b"0"), 1.0)[0] is None
    s.add_challenge(sha(b"1"), 12, now=5.0)
    assert s.freshness(sha(b"0"), 6.0)[0] is None  # 2 below the peak: still fresh
    s.add_challenge(sha(b"2"), 13, now=7.0)
    assert s.freshness(sha(b"0"), 8.0)[0] == "stale"
    assert s.freshness(sha(b"2"), 108.0)[0] == "stale"


# -- payouts -----------------------------------------------------------------------------------


def farmer(pk: bytes, points: int, payout: bytes) -> FarmerRecord:
    return FarmerRecord(pk, payout, 0, 1, points, 0, 0, 0, 0.0)


def test_payout_split_by_points_in_one_signed_transaction() -> None:
    sk = PrivateKey.from_bytes(hashlib.sha256(b"sk").digest())
    from trionode.consensus import puzzle_hash_for_pk
    from trionode.wire import G1Element

    pool_ph = puzzle_hash_for_pk(G1Element(sk.get_g1()))
    coins = [
        CoinRecord(coinbase_coin(h, pool_ph, 1000 + h), h, None, True) for h in range(3)
    ]  # 3003 in all
    farmers = [
        farmer(b"a" * 48, 1, sha(b"pa")),
        farmer(b"b" * 48, 2, sha(b"pb")),
        farmer(b"c" * 48, 0, sha(b"pc")),  # no points: not paid
        farmer(b"d" * 48, 3, sha(b"pb")),  # same payout puzzle hash as b: one output
    ]
    chosen, shares = plan_payout(coins, farmers, fee=3)
    assert len(chosen) == 3
    assert {k: s.amount for k, s in shares.items()} == {
        b"a" * 48: 500,
        b"b" * 48: 1000,
        b"d" * 48: 1500,
    }
    payout_phs = {f.farmer_pk: bytes32(f.payout_puzzle_hash) for f in farmers}
    tx = build_payout(sk, pool_ph, chosen, shares, payout_phs, fee=3)
    outputs = {bytes(o.puzzle_hash): int(o.amount) for o in tx.spends[0].outputs}
    assert outputs == {bytes(sha(b"pa")): 500, bytes(sha(b"pb")): 2500}  # 0 change
    messages = [spend_message(s.coin.name(), s.outputs) for s in tx.spends]
    pks = [s.public_key.point for s in tx.spends]
    assert AugSchemeMPL.aggregate_verify(pks, messages, tx.aggregated_signature.point)
    assert plan_payout(coins, [farmer(b"a" * 48, 0, PH)]) == ([], {})
    assert plan_payout([], farmers) == ([], {})


@pytest.mark.parametrize("backend", BACKENDS)
async def test_store_credits_once_and_payouts_take_points(backend: str, tmp_path: Path) -> None:
    from trionode.storage.pool_store import PayoutShare

    with backend_url(backend, tmp_path) as url:  # a fresh database (PostgreSQL: own schema)
        store = await PoolStore.open(url)
        try:
            a = await store.join(b"a" * 48, sha(b"pa"), 100, 1, max_farmers=1)
            assert a is not None and a.points == 0
            assert await store.join(b"b" * 48, sha(b"pb"), 100, 1, max_farmers=1) is None  # full
            again = await store.join(b"a" * 48, sha(b"new"), 50, 1, max_farmers=1)
            assert again is not None and again.payout_puzzle_hash == sha(b"pa")  # older join
            credited = await store.credit_partial(b"k" * 32, b"a" * 48, 5, 3, 1.0)
            assert credited is not None and credited.points == 3
            assert await store.credit_partial(b"k" * 32, b"a" * 48, 5, 3, 2.0) is None
            await store.count_refusal(b"a" * 48)
            await store.record_payout(b"t" * 32, 3.0, {b"a" * 48: PayoutShare(b"a" * 48, 70, 2)})
            record = await store.get_farmer(b"a" * 48)
            assert record is not None
            assert (record.points, record.paid, record.partials_refused) == (1, 70, 1)
            assert (await store.payouts())[0]["amount"] == 70
            # A payout that never landed gives its points back.
            await store.record_payout(b"u" * 32, 4.0, {b"a" * 48: PayoutShare(b"a" * 48, 30, 1)})
            assert await store.revert_payout(b"u" * 32) == 1
            assert await store.revert_payout(b"u" * 32) == 0
            record = await store.get_farmer(b"a" * 48)
            assert record is not None and (record.points, record.paid) == (1, 70)
            assert len(await store.payouts()) == 1
            assert await store.prune_partials(6) == 1
            assert await store.credit_partial(b"k" * 32, b"a" * 48, 5, 3, 4.0) is not None
        finally:
            await store.aclose()


# -- pooled plots, flags and config ------------------------------------------------------------


def test_pooled_plot_memo_and_id() -> None:
    sk = PrivateKey.from_bytes(hashlib.sha256(b"local").digest())
    farmer_pk = PrivateKey.from_bytes(hashlib.sha256(b"f").digest()).get_g1()
    memo = make_memo(PH, farmer_pk, sk)
    assert len(memo) == CONTRACT_MEMO_SIZE
    parsed = parse_memo(memo)
    assert parsed.pool_public_key is None and parsed.pool_contract_puzzle_hash == PH
    assert plot_id_for(PH, farmer_pk) == sha(bytes(PH) + bytes(farmer_pk))


def test_plots_create_pool_contract_address(tmp_path: Path) -> None:
    root = tmp_path / "root"
    Keychain(root).generate()
    assert (
        cli_main(
            [
                "plots",
                "create",
                "--root",
                str(root),
                "--network",
                "sim",
                "--dir",
                str(tmp_path / "p"),
                "--pool-contract-address",
                PH.hex(),
            ]
        )
        == 0
    )
    (path,) = (tmp_path / "p").glob("*.plot")
    info = load_plot(path)
    assert info.pool_contract_puzzle_hash == PH and info.pool_public_key is None
    assert info.to_plot_message().pool_contract_puzzle_hash == PH
    bad = [
        "plots",
        "create",
        "--root",
        str(root),
        "--dir",
        str(tmp_path / "q"),
        "--pool-contract-address",
        "abcd",
    ]
    assert cli_main(bad) == 2


def test_pool_role_and_new_keys_from_flags_and_config(tmp_path: Path) -> None:
    init_root(tmp_path)
    Keychain(tmp_path).generate()
    parser = build_parser()

    def args(*argv: str) -> argparse.Namespace:
        ns = parser.parse_args(list(argv))
        ns.network = getattr(ns, "network", None)
        return ns

    pool = build_service(
        build_settings(args("--role", "pool", "--full-node", "127.0.0.1:7"), tmp_path, {}),
        "pool",
        tmp_path,
    ).config
    assert (pool.full_node, pool.port, pool.target_partials_per_hour) == (
        ("127.0.0.1", 7),
        8449,
        300,
    )
    env = {"TRIONODE_POOL__TARGET_PARTIALS_PER_HOUR": "60"}
    pool = build_service(
        build_settings(args("--role", "pool", "--full-node", "127.0.0.1:7"), tmp_path, env),
        "pool",
        tmp_path,
    ).config
    assert pool.target_partials_per_hour == 60
    farmer = build_service(
        build_settings(
            args("--role", "farmer", "--full-node", "127.0.0.1:7", "--pool", "127.0.0.1:8"),
            tmp_path,
            {"TRIONODE_FARMER__PAYOUT_PUZZLE_HASH": PH.hex()},
        ),
        "farmer",
        tmp_path,
    ).config
    assert farmer.pool == ("127.0.0.1", 8) and farmer.payout_puzzle_hash == PH
    harvester = build_service(
        build_settings(
            args(
                "--role", "harvester", "--farmer", "127.0.0.1:8", "--plots", "x", "--protocol", "v1"
            ),
            tmp_path,
            {},
        ),
        "harvester",
        tmp_path,
    ).config
    assert harvester.protocol == "v1"
    with pytest.raises(ConfigError, match="harvester.protocol"):
        load_settings(tmp_path, environ={"TRIONODE_HARVESTER__PROTOCOL": "v3"})
    with pytest.raises(ConfigError, match="payout_puzzle_hash"):
        load_settings(tmp_path, environ={"TRIONODE_FARMER__PAYOUT_PUZZLE_HASH": "12"})


def test_show_line_for_the_farm_pool() -> None:
    line = format_pool(
        "farm",
        {
            "pool_contract_puzzle_hash": PH.hex(),
            "joined": True,
            "points": 42,
            "difficulty": 3,
            "partials_accepted": 14,
            "partials_refused": {"STALE": 1, "DUPLICATE": 2},
        },
    )
    assert line == (
        f"farm: pool {PH.hex()[:16]} joined, points 42, difficulty 3, partials 14 accepted / 3 refused"
    )
    assert "solo" in format_pool("farm", None)


def test_farm_links_carry_more_than_the_default_rate() -> None:
    """A farm at pool difficulty 1 sends thousands of proofs a minute to its farmer; the peer
    layer's default (1000/min) dropped the harvester (bench_pool_partials.py)."""
    from trionode.peers.errors import RateLimitExceeded
    from trionode.peers.limits import PeerLimits, RateLimiter
    from trionode.protocols import ProtocolMessageTypes as T
    from trionode.roles.farm_limits import farm_link_limits

    default = RateLimiter(PeerLimits())
    with pytest.raises(RateLimitExceeded):
        for _ in range(5000):
            default.check(T.new_proof_of_space, 0.0)
    farm = RateLimiter(farm_link_limits(PeerLimits()))
    for mtype in (T.new_proof_of_space, T.challenge_response, T.respond_signatures):
        for _ in range(5000):
            farm.check(mtype, 0.0)
    with pytest.raises(RateLimitExceeded):  # still bounded
        for _ in range(100_001):
            farm.check(T.respond_partial, 0.0)
