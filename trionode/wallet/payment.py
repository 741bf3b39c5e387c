"""Building and signing a payment from the farm's keys (PROTOCOL.md section 3). No I/O.

The farm owns two standard addresses: the pool puzzle hash ``sha256(pool_pk)`` (where coinbase
rewards go) and the farmer puzzle hash ``sha256(farmer_pk)`` (where fees go). A payment spends
the largest unspent coins of those until ``amount + fee`` is covered; the first spend carries
the outputs (the payment, then the change back to the pool puzzle hash), each spend is signed
with AugSchemeMPL by the key of its coin over ``spend_message``, and the signatures are
aggregated.
"""

from __future__ import annotations

from collections.abc import Sequence

from blspy import AugSchemeMPL, PrivateKey

from trionode.consensus import CoinRecord, spend_message
from trionode.keys.keychain import FarmKeys
from trionode.protocols.chain_types import Output, Spend, Transaction
from trionode.wire import G1Element, G2Element, bytes32, uint64


class InsufficientFunds(Exception):
    """The unspent coins of the farm's keys do not cover the amount and the fee."""


def owned_puzzle_hashes(keys: FarmKeys) -> dict[bytes32, PrivateKey]:
    """The farm's addresses and the key that spends each."""
    return {keys.pool_puzzle_hash: keys.pool_sk, keys.farmer_puzzle_hash: keys.farmer_sk}


def build_payment(
    keys: FarmKeys,
    coins: Sequence[CoinRecord],
    to_puzzle_hash: bytes32,
    amount: int,
    fee: int = 0,
) -> Transaction:
    """A signed transaction paying ``amount`` to ``to_puzzle_hash`` with ``fee``, from
    ``coins`` (records of unspent coins of the farm's addresses; others are ignored)."""
    if amount <= 0:
        raise ValueError("the amount must be positive")
    if fee < 0:
        raise ValueError("the fee cannot be negative")
    owners = owned_puzzle_hashes(keys)
    usable = sorted(
        (
            r
            for r in coins
            if r.spent_height is None and r.coin.puzzle_hash in owners and r.coin.amount > 0
        ),
        key=lambda r: (-int(r.coin.amount), bytes(r.coin.name())),
    )
    chosen: list[CoinRecord] = []
    total = 0
    for record in usable:
        if total >= amount + fee:
            break
        chosen.append(record)
        total += int(record.coin.amount)
    if total < amount + fee:
        raise InsufficientFunds(
            f"{total} available in {len(usable)} unspent coins, {amount + fee} needed"
        )
    change = total - amount - fee
    outputs = [Output(to_puzzle_hash, uint64(amount))]
    if change:
        if to_puzzle_hash == keys.pool_puzzle_hash and change == amount:
            outputs = [Output(to_puzzle_hash, uint64(amount + change))]  # one coin, not two equal
        else:
            outputs.append(Output(keys.pool_puzzle_hash, uint64(change)))
    spends = []
    signatures = []
    for i, record in enumerate(chosen):
        sk = owners[record.coin.puzzle_hash]
        spend_outputs = outputs if i == 0 else []
        spends.append(Spend(record.coin, G1Element(sk.get_g1()), spend_outputs))
        signatures.append(AugSchemeMPL.sign(sk, spend_message(record.coin.name(), spend_outputs)))
    return Transaction(spends, G2Element(AugSchemeMPL.aggregate(signatures)))
