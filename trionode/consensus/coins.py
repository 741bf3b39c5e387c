"""Coin rules (PROTOCOL.md section 3): what a block adds to and removes from the coin set.

Byte forms used by the hashes here:

- ``height_bytes(h)``: the height as a uint32, 4 bytes big endian (its Streamable encoding).
- The coinbase coin is ``Coin(sha256(b"coinbase" + height_bytes(h)), coinbase.puzzle_hash,
  coinbase.amount)``; the fees coin is ``Coin(sha256(b"fees" + height_bytes(h)),
  fees_target.puzzle_hash, fees_target.amount)`` (created even when the amount is 0, so every
  block has exactly two reward coins).
- A spend's outputs become ``Coin(spent_coin_id, output.puzzle_hash, output.amount)``.
- ``outputs_bytes(outputs)``: the Streamable encoding of ``List[Output]``: a uint32 big-endian
  count followed by each ``bytes(Output)`` (puzzle_hash 32 bytes + amount uint64 big endian).
  It is exactly the tail of ``bytes(Spend)``.
- Each spend is signed (AugSchemeMPL, by the spent coin's key) over
  ``spend_message = sha256(coin_id || sha256(outputs_bytes(outputs)))``.
- A standard address is ``puzzle_hash = sha256(bytes(public_key))``.
- ``transaction_cost(tx) = len(bytes(tx))``; ``Body.cost`` is their sum.
- ``filter_hash`` commits to the block's coin changes for light clients:
  ``sha256(b"".join(ids of block_additions) + b"".join(block_removals))``, in block order.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence

from trionode.protocols.chain_types import Body, Coin, FullBlock, Output, Spend, Transaction
from trionode.wire import G1Element, bytes32, uint64


def height_bytes(height: int) -> bytes:
    """The uint32 big-endian form of a height used in reward coin parents."""
    return int(height).to_bytes(4, "big")


def coinbase_parent(height: int) -> bytes32:
    return bytes32(hashlib.sha256(b"coinbase" + height_bytes(height)).digest())


def fees_parent(height: int) -> bytes32:
    return bytes32(hashlib.sha256(b"fees" + height_bytes(height)).digest())


def coinbase_coin(height: int, puzzle_hash: bytes32, amount: int) -> Coin:
    return Coin(coinbase_parent(height), puzzle_hash, uint64(amount))


def fees_coin(height: int, puzzle_hash: bytes32, amount: int) -> Coin:
    return Coin(fees_parent(height), puzzle_hash, uint64(amount))


def puzzle_hash_for_pk(public_key: G1Element | bytes) -> bytes32:
    """The standard address of a public key: sha256(bytes(public_key))."""
    return bytes32(hashlib.sha256(bytes(public_key)).digest())


def outputs_bytes(outputs: Sequence[Output]) -> bytes:
    """The Streamable encoding of a ``List[Output]`` (see the module docstring)."""
    return len(outputs).to_bytes(4, "big") + b"".join(bytes(o) for o in outputs)


def spend_message(coin_id: bytes, outputs: Sequence[Output]) -> bytes:
    """What a spend's key signs: sha256(coin_id || sha256(outputs_bytes(outputs)))."""
    inner = hashlib.sha256(outputs_bytes(outputs)).digest()
    return hashlib.sha256(bytes(coin_id) + inner).digest()


def spend_additions(spend: Spend) -> list[Coin]:
    parent = spend.coin.name()
    return [Coin(parent, o.puzzle_hash, o.amount) for o in spend.outputs]


def transaction_additions(tx: Transaction) -> list[Coin]:
    return [coin for spend in tx.spends for coin in spend_additions(spend)]


def transaction_removals(tx: Transaction) -> list[bytes32]:
    return [spend.coin.name() for spend in tx.spends]


def transaction_fee(tx: Transaction) -> int:
    """Inputs minus outputs (negative for an invalid transaction)."""
    spent = sum(int(s.coin.amount) for s in tx.spends)
    created = sum(int(o.amount) for s in tx.spends for o in s.outputs)
    return spent - created


def transaction_cost(tx: Transaction) -> int:
    """A transaction's cost: its serialized size in bytes."""
    return len(bytes(tx))


def body_cost(transactions: Iterable[Transaction]) -> int:
    return sum(transaction_cost(tx) for tx in transactions)


def body_additions(body: Body, height: int) -> list[Coin]:
    """Coinbase coin, fees coin, then every output in transaction and spend order."""
    coins = [
        coinbase_coin(height, body.coinbase.puzzle_hash, body.coinbase.amount),
        fees_coin(height, body.fees_target.puzzle_hash, body.fees_target.amount),
    ]
    for tx in body.transactions:
        coins.extend(transaction_additions(tx))
    return coins


def body_removals(body: Body) -> list[bytes32]:
    return [cid for tx in body.transactions for cid in transaction_removals(tx)]


def block_additions(block: FullBlock) -> list[Coin]:
    """Coins a block creates: its coinbase coin, its fees coin, then its transactions' outputs."""
    return body_additions(block.body, int(block.height))


def block_removals(block: FullBlock) -> list[bytes32]:
    """Ids of the coins the block's transactions spend, in order."""
    return body_removals(block.body)


def filter_hash(body: Body, height: int) -> bytes32:
    """The header's filter_hash for this body (see the module docstring)."""
    data = b"".join(bytes(c.name()) for c in body_additions(body, height))
    data += b"".join(bytes(cid) for cid in body_removals(body))
    return bytes32(hashlib.sha256(data).digest())
