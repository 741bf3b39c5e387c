"""Pure consensus formulas: plot filter, pos challenge, quality, iterations, VDF, coin rules."""

from __future__ import annotations

import hashlib
import threading

import pytest
from blspy import AugSchemeMPL

from trionode.consensus import (
    SIM,
    block_additions,
    block_removals,
    coinbase_coin,
    discriminant,
    expected_plot_size,
    expected_pos_challenge,
    fees_coin,
    filter_hash,
    height_bytes,
    iterations_for_quality,
    outputs_bytes,
    passes_plot_filter,
    plot_filter_input,
    pos_challenge,
    quality_for,
    spend_message,
    transaction_cost,
    transaction_fee,
    verify_pos,
    verify_pot,
)
from trionode.plotting import pos as plotting_pos
from trionode.protocols.chain_types import Coin, FullBlock, Output, Spend
from trionode.testing.block_tools import BlockTools
from trionode.wire import G1Element, bytes32, uint64


def sha(data: bytes) -> bytes:
    return hashlib.sha256(data).digest()


def test_plot_filter_input_and_challenge() -> None:
    plot_id, ch = bytes(range(32)), bytes(32)
    f = plot_filter_input(plot_id, ch, ch)
    assert f == sha(plot_id + ch + ch)
    assert pos_challenge(f) == sha(f)
    assert expected_pos_challenge(plot_id, ch) == sha(f)
    assert quality_for(b"c" * 32, b"q" * 32) == sha(b"c" * 32 + b"q" * 32)


@pytest.mark.parametrize(
    ("f", "bits", "passes"),
    [
        (b"\xff" + bytes(31), 0, True),
        (b"\x00\x7f" + bytes(30), 9, True),
        (b"\x00\x80" + bytes(30), 9, False),
        (b"\x00\x80" + bytes(30), 8, True),
        (b"\x01" + bytes(31), 7, True),
        (b"\x01" + bytes(31), 8, False),
        (b"\x80" + bytes(31), 1, False),
    ],
)
def test_plot_filter_bits(f: bytes, bits: int, passes: bool) -> None:
    assert passes_plot_filter(f, bits) is passes


def test_expected_plot_size() -> None:
    assert expected_plot_size(18) == 37 * 2**17
    assert expected_plot_size(32) == 65 * 2**31


def test_iterations_formula_integer_math() -> None:
    q_max = b"\xff" * 32
    assert iterations_for_quality(SIM, bytes(32), 18, 1000) == SIM.MIN_ITERS
    expected = SIM.MIN_ITERS + (
        1000 * SIM.DIFFICULTY_CONSTANT_FACTOR * int.from_bytes(q_max, "big")
    ) // (2**256 * expected_plot_size(18))
    assert iterations_for_quality(SIM, q_max, 18, 1000) == expected
    # more difficulty: more iterations; a bigger plot: fewer
    q = sha(b"q")
    assert iterations_for_quality(SIM, q, 18, 2000) > iterations_for_quality(SIM, q, 18, 1000)
    assert iterations_for_quality(SIM, q, 20, 1000) < iterations_for_quality(SIM, q, 18, 1000)


def test_discriminant_cached_and_decimal() -> None:
    d = discriminant(bytes(32), 16)
    assert int(d) < 0
    assert discriminant(bytes(32), 16) is d
    assert discriminant(b"\x01" + bytes(31), 16) != d


def test_pos_verifies_only_for_its_challenge(
    block_tools: BlockTools, chain_20: list[FullBlock]
) -> None:
    block = chain_20[5]
    answered = chain_20[4].challenge.get_hash()  # type: ignore[union-attr]
    assert verify_pos(SIM, block.proof_of_space, answered)
    assert not verify_pos(SIM, block.proof_of_space, chain_20[3].challenge.get_hash())  # type: ignore[union-attr]


def test_vdf_prove_and_verify(block_tools: BlockTools) -> None:
    ch = bytes32(sha(b"vdf"))
    pot = block_tools.prove_time(ch, 5_000)
    assert verify_pot(SIM, pot)
    assert not verify_pot(SIM, pot.replace(number_of_iterations=uint64(5_001)))
    assert not verify_pot(SIM, pot.replace(challenge_hash=bytes32(sha(b"other"))))
    assert not verify_pot(SIM.replace(DISCRIMINANT_SIZE_BITS=32), pot)
    assert not verify_pot(SIM, pot.replace(witness=bytes(100)))
    assert not verify_pot(SIM, pot.replace(witness=pot.witness + b"\x00"))
    assert not verify_pot(SIM, pot.replace(witness_type=1))


def test_verification_in_parallel_threads(chain_30: list[FullBlock]) -> None:
    """The verifiers share no state: many threads verifying at once agree with one thread."""
    pots = [b.proof_of_time for b in chain_30]
    results: list[bool] = [False] * len(pots)

    def work(i: int) -> None:
        results[i] = verify_pot(SIM, pots[i])  # type: ignore[arg-type]

    threads = [threading.Thread(target=work, args=(i,)) for i in range(len(pots))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert all(results)


def test_reward_coins() -> None:
    ph = bytes32(sha(b"ph"))
    assert height_bytes(258) == b"\x00\x00\x01\x02"
    assert coinbase_coin(258, ph, 7) == Coin(
        bytes32(sha(b"coinbase\x00\x00\x01\x02")), ph, uint64(7)
    )
    assert fees_coin(258, ph, 7) == Coin(bytes32(sha(b"fees\x00\x00\x01\x02")), ph, uint64(7))


def test_outputs_bytes_is_the_streamable_list_and_the_spend_message() -> None:
    sk = AugSchemeMPL.key_gen(bytes(32))
    pk = G1Element(sk.get_g1())
    coin = Coin(bytes32(sha(b"p")), bytes32(sha(bytes(pk))), uint64(10))
    outputs = [Output(bytes32(sha(b"a")), uint64(3)), Output(bytes32(sha(b"b")), uint64(4))]
    spend = Spend(coin, pk, outputs)
    encoded = outputs_bytes(outputs)
    assert bytes(spend) == bytes(coin) + bytes(pk) + encoded
    assert encoded[:4] == b"\x00\x00\x00\x02"
    assert spend_message(coin.name(), outputs) == sha(bytes(coin.name()) + sha(encoded))
    assert outputs_bytes([]) == bytes(4)


def test_block_additions_removals_filter_hash(tx_chain: list[FullBlock]) -> None:
    block = tx_chain[10]
    (tx,) = block.body.transactions
    additions = block_additions(block)
    cb = block.body.coinbase
    assert additions[0] == coinbase_coin(10, cb.puzzle_hash, int(cb.amount))
    ft = block.body.fees_target
    assert additions[1] == fees_coin(10, ft.puzzle_hash, int(ft.amount))
    spent = tx.spends[0].coin
    assert additions[2:] == [
        Coin(spent.name(), o.puzzle_hash, o.amount) for o in tx.spends[0].outputs
    ]
    assert block_removals(block) == [spent.name()]
    assert transaction_fee(tx) == int(ft.amount) == 1_234
    assert transaction_cost(tx) == len(bytes(tx)) == block.body.cost
    expected = sha(b"".join(c.name() for c in additions) + spent.name())
    assert filter_hash(block.body, 10) == expected == block.header.data.filter_hash


def test_plotting_pos_agrees_with_consensus() -> None:
    """trionode.plotting.pos (the harvester's copy) computes the same formulas."""
    plot_id, ch = sha(b"plot"), sha(b"challenge")
    f = plot_filter_input(plot_id, ch, ch)
    assert plotting_pos.plot_filter_input(plot_id, ch, ch) == f
    assert plotting_pos.pos_challenge(f) == pos_challenge(f)
    assert plotting_pos.quality_for(ch, plot_id) == quality_for(ch, plot_id)
    for bits in (0, 1, 5, 9):
        assert plotting_pos.passes_plot_filter(f, bits) == passes_plot_filter(f, bits)
