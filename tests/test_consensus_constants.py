"""Network constants: values from PROTOCOL.md, genesis challenge derivation, chosen difficulty."""

from __future__ import annotations

import hashlib
import json

import attrs
import pytest

from trionode.consensus import DEVNET, NETWORKS, SIM, TESTNET, block_reward, get_constants
from trionode.consensus.proofs import expected_plot_size


@pytest.mark.parametrize(
    ("name", "bits", "target", "min_iters", "epoch", "filter_bits", "min_k"),
    [
        ("testnet", 1024, 300, 2**22, 128, 9, 25),
        ("devnet", 256, 10, 100_000, 32, 0, 18),
        ("sim", 16, 2, 1_000, 12, 0, 18),
    ],
)
def test_table_values(
    name: str, bits: int, target: int, min_iters: int, epoch: int, filter_bits: int, min_k: int
) -> None:
    c = get_constants(name)
    assert c.network_name == name
    assert c.DISCRIMINANT_SIZE_BITS == bits
    assert c.BLOCK_TIME_TARGET == target
    assert c.MIN_ITERS == min_iters
    assert c.EPOCH == epoch
    assert c.PLOT_FILTER_BITS == filter_bits
    assert c.MIN_PLOT_SIZE == min_k
    assert c.MAX_FUTURE_TIME == 7200
    assert c.NUMBER_OF_TIPS == 3
    assert c.SYNC_THRESHOLD == 20


def test_unknown_network_is_a_clear_error() -> None:
    with pytest.raises(ValueError, match="unknown network 'mainnet'"):
        get_constants("mainnet")


def test_constants_are_frozen() -> None:
    with pytest.raises(attrs.exceptions.FrozenInstanceError):
        SIM.EPOCH = 5  # type: ignore[misc]


@pytest.mark.parametrize("c", list(NETWORKS.values()), ids=list(NETWORKS))
def test_genesis_challenge_derivation(c) -> None:  # type: ignore[no-untyped-def]
    fields = {
        f.name: getattr(c, f.name)
        for f in attrs.fields(type(c))
        if f.name not in ("network_name", "genesis_challenge")
    }
    canonical = json.dumps(fields, sort_keys=True, separators=(",", ":")).encode()
    constants_hash = hashlib.sha256(canonical).digest()
    expected = hashlib.sha256(
        b"trionode genesis " + c.network_name.encode() + constants_hash
    ).digest()
    assert c.genesis_challenge == expected
    assert c.network_id == c.genesis_challenge


def test_networks_have_distinct_ids_and_any_change_changes_the_id() -> None:
    ids = {c.genesis_challenge for c in (TESTNET, DEVNET, SIM)}
    assert len(ids) == 3
    changed = SIM.replace(MAX_FUTURE_TIME=7201)
    assert changed.MAX_FUTURE_TIME == 7201
    assert changed.genesis_challenge != SIM.genesis_challenge
    assert SIM.replace().genesis_challenge == SIM.genesis_challenge


def _mean_iterations(c, space: int) -> float:  # type: ignore[no-untyped-def]
    """Expected iterations of the best proof over a farm of ``space`` (module docstring)."""
    excess = c.DIFFICULTY_STARTING * c.DIFFICULTY_CONSTANT_FACTOR * 2**c.PLOT_FILTER_BITS / space
    return float(c.MIN_ITERS + excess)


def test_starting_difficulty_arithmetic_matches_the_docstring() -> None:
    four_k18 = 4 * expected_plot_size(18)
    assert four_k18 == 19_398_656
    assert _mean_iterations(SIM, four_k18) == pytest.approx(28_676, abs=1)
    assert _mean_iterations(DEVNET, four_k18) == pytest.approx(1_162_746, abs=1)
    # devnet: a few seconds of 256-bit VDF at ~380k it/s
    assert 1.0 < _mean_iterations(DEVNET, four_k18) / 380_000 < 5.0
    # testnet: 10 TiB at ~130k it/s hits the 300 s target within 1%
    seconds = _mean_iterations(TESTNET, 10 * 2**40) / 130_000
    assert seconds == pytest.approx(300, rel=0.01)


def test_block_reward_is_constant() -> None:
    assert block_reward(SIM, 0) == block_reward(SIM, 10**6) == SIM.COINBASE_AMOUNT > 0
