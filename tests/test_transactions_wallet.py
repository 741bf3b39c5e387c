"""build_payment: coins chosen, change returned, every spend signed by the key of its coin,
and the result valid by the block rules."""

from __future__ import annotations

import hashlib

import pytest
from blspy import AugSchemeMPL

from trionode.consensus import CoinRecord, coinbase_coin, fees_coin, transaction_fee
from trionode.consensus.transactions import check_transaction
from trionode.keys.keychain import FarmKeys
from trionode.wallet import InsufficientFunds, build_payment
from trionode.wire import bytes32

TO = bytes32(hashlib.sha256(b"someone").digest())


@pytest.fixture(scope="module")
def keys() -> FarmKeys:
    return FarmKeys.from_master(AugSchemeMPL.key_gen(hashlib.sha256(b"wallet test").digest()))


def records(keys: FarmKeys) -> list[CoinRecord]:
    out = [
        CoinRecord(coinbase_coin(h, keys.pool_puzzle_hash, 1_000), h, None, True) for h in range(3)
    ]
    out.append(CoinRecord(fees_coin(3, keys.farmer_puzzle_hash, 50), 3, None, True))
    out.append(CoinRecord(fees_coin(4, keys.farmer_puzzle_hash, 0), 4, None, True))
    out.append(CoinRecord(coinbase_coin(5, keys.pool_puzzle_hash, 5_000), 5, 6, True))  # spent
    out.append(CoinRecord(coinbase_coin(7, TO, 9_000), 7, None, True))  # not ours
    return out


def test_payment_with_change_is_valid(keys: FarmKeys) -> None:
    coins = records(keys)
    tx = build_payment(keys, coins, TO, 1_500, fee=20)
    assert len(tx.spends) == 2  # two coins of 1,000 cover 1,520
    outputs = [(o.puzzle_hash, int(o.amount)) for s in tx.spends for o in s.outputs]
    assert outputs == [(TO, 1_500), (keys.pool_puzzle_hash, 480)]
    assert transaction_fee(tx) == 20
    by_id = {r.coin.name(): r for r in coins}
    assert check_transaction(tx, by_id, 10**6) is None


def test_fee_coins_of_the_farmer_key_are_spendable(keys: FarmKeys) -> None:
    coins = [r for r in records(keys) if r.coin.puzzle_hash == keys.farmer_puzzle_hash]
    tx = build_payment(keys, coins, TO, 40, fee=10)
    assert check_transaction(tx, {r.coin.name(): r for r in coins}, 10**6) is None
    assert [int(o.amount) for o in tx.spends[0].outputs] == [40]  # no change left


def test_refusals(keys: FarmKeys) -> None:
    with pytest.raises(InsufficientFunds):
        build_payment(keys, records(keys), TO, 3_051)  # spent and foreign coins do not count
    with pytest.raises(ValueError):
        build_payment(keys, records(keys), TO, 0)
    with pytest.raises(ValueError):
        build_payment(keys, records(keys), TO, 1, fee=-1)
