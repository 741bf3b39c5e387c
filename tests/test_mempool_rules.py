"""Mempool rules with real signed transactions over the coin set of a real farmed chain:
validation, duplicates, conflicts and replace-by-fee, bounded size, fee-per-byte order,
selection for a block, rebuild against a new coin set."""

from __future__ import annotations

import attrs
import pytest
from blspy import AugSchemeMPL

from trionode.consensus import CoinRecord, Err, transaction_cost, validate_block
from trionode.consensus.transactions import check_transaction
from trionode.mempool import AddStatus, Mempool
from trionode.protocols.chain_types import Coin, FullBlock, Output, Transaction
from trionode.roles.full_node.headers import make_body
from trionode.testing.block_tools import BlockTools, coin_set
from trionode.wire import G2Element, bytes32, uint64

MAX_BLOCK_COST = 1_000_000


@pytest.fixture
def coins(chain_30: list[FullBlock], block_tools: BlockTools) -> dict[bytes32, CoinRecord]:
    return coin_set(chain_30)


@pytest.fixture
def rewards(chain_30: list[FullBlock], block_tools: BlockTools) -> list[Coin]:
    return sorted(
        block_tools.unspent_reward_coins(chain_30, block_tools.pool_puzzle_hash),
        key=lambda c: bytes(c.name()),
    )


def records_for(tx: Transaction, coins: dict[bytes32, CoinRecord]) -> dict[bytes32, CoinRecord]:
    ids = [s.coin.name() for s in tx.spends]
    return {i: coins[i] for i in ids if i in coins}


def test_valid_transaction_is_held_once(
    block_tools: BlockTools, coins: dict[bytes32, CoinRecord], rewards: list[Coin]
) -> None:
    pool = Mempool(MAX_BLOCK_COST)
    tx = block_tools.spend_coins([rewards[0]], fee=10)
    assert pool.add(tx, records_for(tx, coins)).status is AddStatus.ADDED
    assert pool.add(tx, records_for(tx, coins)).status is AddStatus.ALREADY_HAVE
    assert tx.get_hash() in pool and pool.get(tx.get_hash()) == tx
    assert pool.total_cost == transaction_cost(tx)


def test_invalid_transactions_are_refused_with_their_rule(
    block_tools: BlockTools, coins: dict[bytes32, CoinRecord], rewards: list[Coin]
) -> None:
    pool = Mempool(MAX_BLOCK_COST)
    good = block_tools.spend_coins([rewards[0]], fee=10)
    other = block_tools.spend_coins([rewards[1]], fee=10)
    bad_sig = good.replace(aggregated_signature=other.aggregated_signature)
    assert pool.add(bad_sig, coins).error is Err.INVALID_TRANSACTION_SIGNATURE
    assert pool.add(good, {}).error is Err.UNKNOWN_COIN
    spent = {k: attrs.evolve(v, spent_height=3) for k, v in records_for(good, coins).items()}
    assert pool.add(good, spent).error is Err.DOUBLE_SPEND
    too_much = block_tools.spend_coins(
        [rewards[0]], outputs=[Output(bytes32(b"\x01" * 32), uint64(rewards[0].amount + 1))]
    )
    assert pool.add(too_much, coins).error is Err.OUTPUTS_EXCEED_INPUTS
    assert pool.add(Transaction([], G2Element(AugSchemeMPL.aggregate([]))), coins).error is (
        Err.EMPTY_TRANSACTION
    )
    assert len(pool) == 0


def test_conflicts_need_a_higher_fee_rate_and_replace(
    block_tools: BlockTools, coins: dict[bytes32, CoinRecord], rewards: list[Coin]
) -> None:
    pool = Mempool(MAX_BLOCK_COST)
    first = block_tools.spend_coins([rewards[0]], fee=100)
    cheaper = block_tools.spend_coins([rewards[0]], fee=50)
    richer = block_tools.spend_coins([rewards[0]], fee=500)
    assert pool.add(first, coins).added
    assert pool.add(cheaper, coins).status is AddStatus.CONFLICT
    result = pool.add(richer, coins)
    assert result.added and result.replaced == (first.get_hash(),)
    assert first.get_hash() not in pool and len(pool) == 1
    assert pool.spent_coins() == {rewards[0].name()}


def test_order_by_fee_per_byte_and_selection_fits_the_cost(
    block_tools: BlockTools, coins: dict[bytes32, CoinRecord], rewards: list[Coin]
) -> None:
    pool = Mempool(MAX_BLOCK_COST)
    txs = [block_tools.spend_coins([rewards[i]], fee=fee) for i, fee in enumerate([5, 50, 20])]
    for tx in txs:
        assert pool.add(tx, coins).added
    assert [i.fee for i in pool.items()] == [50, 20, 5]
    cost = transaction_cost(txs[0])
    assert pool.select(10 * cost) == [txs[1], txs[2], txs[0]]
    assert pool.select(2 * cost) == [txs[1], txs[2]]
    assert pool.select(cost - 1) == []


def test_bounded_pool_evicts_the_lowest_rate_and_refuses_worse(
    block_tools: BlockTools, coins: dict[bytes32, CoinRecord], rewards: list[Coin]
) -> None:
    txs = [block_tools.spend_coins([rewards[i]], fee=10 * (i + 1)) for i in range(4)]
    cost = transaction_cost(txs[0])
    pool = Mempool(MAX_BLOCK_COST, max_total_cost=3 * cost)
    for tx in txs[1:]:
        assert pool.add(tx, coins).added
    assert pool.add(txs[0], coins).status is AddStatus.FULL  # pays the least
    best = block_tools.spend_coins([rewards[4]], fee=1_000)
    assert pool.add(best, coins).added
    assert txs[1].get_hash() not in pool  # the lowest rate went
    assert pool.total_cost <= 3 * cost and len(pool) == 3


def test_rebuild_drops_what_a_block_spent(
    block_tools: BlockTools, coins: dict[bytes32, CoinRecord], rewards: list[Coin]
) -> None:
    pool = Mempool(MAX_BLOCK_COST)
    a = block_tools.spend_coins([rewards[0]], fee=1)
    b = block_tools.spend_coins([rewards[1]], fee=1)
    pool.add(a, coins)
    pool.add(b, coins)
    after_block = dict(coins)
    after_block[rewards[0].name()] = attrs.evolve(coins[rewards[0].name()], spent_height=30)
    gone = pool.rebuild([i.tx for i in pool.items()], after_block)
    assert gone == [a.get_hash()] and b.get_hash() in pool


def test_selected_transactions_make_a_valid_block(
    block_tools: BlockTools, chain_30: list[FullBlock], coins: dict[bytes32, CoinRecord]
) -> None:
    rewards = block_tools.unspent_reward_coins(chain_30, block_tools.pool_puzzle_hash)
    pool = Mempool(MAX_BLOCK_COST)
    for i, coin in enumerate(rewards[:5]):
        assert pool.add(block_tools.spend_coins([coin], fee=i + 1), coins).added
    chosen = pool.select(MAX_BLOCK_COST)
    assert all(check_transaction(tx, coins, MAX_BLOCK_COST) is None for tx in chosen)
    block = block_tools.next_block(chain_30, transactions=chosen)
    assert (
        validate_block(block_tools.constants, block, block_tools.context_for(chain_30, block))
        is None
    )
    assert int(block.body.fees_target.amount) == 15
    # The full node builds the very same body from a farmer's request.
    body = block.body
    ours = make_body(body.coinbase, body.coinbase_signature, body.fees_target.puzzle_hash, chosen)
    assert ours == body
