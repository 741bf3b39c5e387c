"""The transaction rules (PROTOCOL.md section 3), written once: block validation
(:mod:`trionode.consensus.validation`) applies them to every transaction of a body, the mempool
to one transaction against the heaviest tip's coin set.

Each rule is a pure function returning the ``Err`` of the first rule broken, or None. The two
callers check in their own order (a block checks each spend's coin before its keys, a
transaction its cost before walking its spends), so each keeps reporting the codes it always
reported; the rules themselves live only here.

:data:`STATELESS_ERRORS` are the codes that do not depend on the coin set: a transaction
breaking one is invalid on every chain, so a peer relaying it misbehaves (the full node bans
it); the others may only mean the peer's chain differs from ours.
"""

from __future__ import annotations

from collections.abc import Mapping

from trionode.consensus.coins import (
    puzzle_hash_for_pk,
    spend_message,
    transaction_cost,
    transaction_fee,
)
from trionode.consensus.context import CoinRecord
from trionode.consensus.errors import Err
from trionode.consensus.proofs import verify_aggregate_signature
from trionode.protocols.chain_types import Spend, Transaction
from trionode.wire import BLSElement, bytes32

# Errors that do not depend on the coin set: a peer relaying such a transaction misbehaves.
STATELESS_ERRORS = frozenset(
    {
        Err.EMPTY_TRANSACTION,
        Err.DUPLICATE_SPEND,
        Err.WRONG_PUZZLE_HASH,
        Err.DUPLICATE_OUTPUT,
        Err.OUTPUTS_EXCEED_INPUTS,
        Err.INVALID_TRANSACTION_SIGNATURE,
        Err.COST_EXCEEDS_MAX,
    }
)


def check_spend_coin(spend: Spend, record: CoinRecord | None) -> Err | None:
    """The coin-set rules of one spend: its coin exists (``record``: its record on the
    chain, None if there is none) as spent, and is unspent."""
    if record is None:
        return Err.UNKNOWN_COIN
    if record.coin != spend.coin:
        return Err.COIN_RECORD_MISMATCH
    if record.spent_height is not None:
        return Err.DOUBLE_SPEND
    return None


def check_spend_alone(spend: Spend) -> Err | None:
    """The rules of one spend that need no coin set: the key matches the coin's puzzle hash,
    its outputs are distinct."""
    if spend.coin.puzzle_hash != puzzle_hash_for_pk(spend.public_key):
        return Err.WRONG_PUZZLE_HASH
    outputs = {(bytes(o.puzzle_hash), int(o.amount)) for o in spend.outputs}
    if len(outputs) != len(spend.outputs):
        return Err.DUPLICATE_OUTPUT
    return None


def transaction_signature_ok(tx: Transaction) -> bool:
    """The transaction's aggregate signature signs each spend's message under its key."""
    pks: list[BLSElement] = [spend.public_key for spend in tx.spends]
    msgs = [spend_message(spend.coin.name(), spend.outputs) for spend in tx.spends]
    return verify_aggregate_signature(pks, msgs, tx.aggregated_signature)


def check_transaction_alone(tx: Transaction, max_cost: int) -> Err | None:
    """The rules that need no coin set: non-empty, each coin once, keys match puzzle hashes,
    distinct outputs per spend, outputs <= inputs, cost <= ``max_cost``, signature verifies
    (checked last: it is the expensive one)."""
    if not tx.spends:
        return Err.EMPTY_TRANSACTION
    if transaction_cost(tx) > max_cost:
        return Err.COST_EXCEEDS_MAX
    seen: set[bytes32] = set()
    for spend in tx.spends:
        coin_id = spend.coin.name()
        if coin_id in seen:
            return Err.DUPLICATE_SPEND
        seen.add(coin_id)
        err = check_spend_alone(spend)
        if err is not None:
            return err
    if transaction_fee(tx) < 0:
        return Err.OUTPUTS_EXCEED_INPUTS
    if not transaction_signature_ok(tx):
        return Err.INVALID_TRANSACTION_SIGNATURE
    return None


def check_coins(tx: Transaction, coins: Mapping[bytes32, CoinRecord]) -> Err | None:
    """The coin-set rules: every spent coin exists as spent, unspent. ``coins`` maps the ids
    the transaction spends to their records on the chain (a missing id: no such coin)."""
    for spend in tx.spends:
        err = check_spend_coin(spend, coins.get(spend.coin.name()))
        if err is not None:
            return err
    return None


def check_transaction(
    tx: Transaction, coins: Mapping[bytes32, CoinRecord], max_cost: int
) -> Err | None:
    """Everything a block would check about ``tx`` alone on a chain with coin set ``coins``."""
    return check_coins(tx, coins) or check_transaction_alone(tx, max_cost)


def peer_at_fault(err: Err | None) -> bool:
    """Whether a transaction refused with ``err`` is invalid whatever the coin set (its relay
    is a peer's fault, not a sign that its chain differs)."""
    return err in STATELESS_ERRORS
