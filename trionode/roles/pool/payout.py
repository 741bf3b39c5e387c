"""Payout transactions (docs/protocol.md 5.6), pure: split the pool's coins by points.

``plan_payout`` takes the pool's unspent coins and the farmers' points and returns the shares:
``amount_i = (total - fee) * points_i // sum(points)``; the rounding remainder stays with the
pool (change). ``build_payout`` makes one standard transaction (PROTOCOL.md section 3) spending
those coins with the pool key: the first spend carries one output per payout puzzle hash (shares
to the same puzzle hash are merged, so no spend creates the same coin twice) and the change.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from blspy import AugSchemeMPL, PrivateKey

from trionode.consensus import CoinRecord, spend_message
from trionode.protocols.chain_types import Output, Spend, Transaction
from trionode.storage.pool_store import FarmerRecord, PayoutShare
from trionode.wire import G1Element, G2Element, bytes32, uint64

#: Coins spent by one payout: keeps the transaction far below the 1 MiB new_transaction cap
#: (a spend is ~130 bytes plus its outputs).
MAX_PAYOUT_COINS = 200
#: Outputs of one payout (farmers paid at once); the rest wait for the next payout.
MAX_PAYOUT_OUTPUTS = 500


def plan_payout(
    coins: Sequence[CoinRecord], farmers: Sequence[FarmerRecord], fee: int = 0
) -> tuple[list[CoinRecord], dict[bytes, PayoutShare]]:
    """(coins to spend, shares by farmer key); no shares when there is nothing to pay."""
    chosen = sorted(
        (c for c in coins if c.spent_height is None and c.coin.amount > 0),
        key=lambda c: (-int(c.coin.amount), bytes(c.coin.name())),
    )[:MAX_PAYOUT_COINS]
    earners = sorted((f for f in farmers if f.points > 0), key=lambda f: -f.points)
    earners = earners[:MAX_PAYOUT_OUTPUTS]
    total = sum(int(c.coin.amount) for c in chosen) - fee
    points = sum(f.points for f in earners)
    if total <= 0 or points <= 0:
        return [], {}
    shares = {}
    for f in earners:
        amount = total * f.points // points
        if amount > 0:
            shares[f.farmer_pk] = PayoutShare(f.farmer_pk, amount, f.points)
    return (chosen, shares) if shares else ([], {})


def build_payout(
    pool_sk: PrivateKey,
    pool_puzzle_hash: bytes32,
    coins: Sequence[CoinRecord],
    shares: Mapping[bytes, PayoutShare],
    payout_puzzle_hashes: Mapping[bytes, bytes32],
    fee: int = 0,
) -> Transaction:
    """The signed payout transaction (module docstring)."""
    by_puzzle: dict[bytes32, int] = {}
    for farmer_pk, share in shares.items():
        ph = payout_puzzle_hashes[farmer_pk]
        by_puzzle[ph] = by_puzzle.get(ph, 0) + share.amount
    total = sum(int(c.coin.amount) for c in coins)
    change = total - fee - sum(by_puzzle.values())
    if change < 0:
        raise ValueError("the shares exceed the coins")
    if change:
        by_puzzle[pool_puzzle_hash] = by_puzzle.get(pool_puzzle_hash, 0) + change
    outputs = [Output(ph, uint64(amount)) for ph, amount in sorted(by_puzzle.items())]
    pk = G1Element(pool_sk.get_g1())
    spends = []
    signatures = []
    for i, record in enumerate(coins):
        if record.coin.puzzle_hash != pool_puzzle_hash:
            raise ValueError("a payout spends only the pool's coins")
        spend_outputs = outputs if i == 0 else []
        spends.append(Spend(record.coin, pk, spend_outputs))
        signatures.append(
            AugSchemeMPL.sign(pool_sk, spend_message(record.coin.name(), spend_outputs))
        )
    return Transaction(spends, G2Element(AugSchemeMPL.aggregate(signatures)))
