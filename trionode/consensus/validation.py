"""Block validation (PROTOCOL.md "Validation" and section 3): every rule, nothing skipped.

``validate_unfinished_block``, ``validate_block`` and ``validate_header_block`` are pure
functions of (constants, block, context): they do no I/O, touch no shared mutable state and may
run in several worker threads at once (chiapos' Verifier, chiavdf and blspy release the GIL).
Each returns None for a valid block or the ``Err`` of the first rule it breaks. Cheap checks run
before expensive ones (signatures, then the VDF last), so a junk block costs little.

Body rules this module defines (PROTOCOL.md leaves them open):

- ``body.aggregated_signature`` is None when the block has no transactions, otherwise exactly
  ``AugSchemeMPL.aggregate`` of the transactions' signatures in order (each transaction's own
  signature is also verified, so a block cannot carry an invalid transaction).
- ``body.cost`` is the total serialized size of the transactions and at most MAX_BLOCK_COST.
- ``header.filter_hash`` and ``extension_data``: see ``coins.filter_hash`` and
  ``block_fields``.
- A block cannot spend coins it creates (``ctx.coins`` is the coin set at its parent).
- Who owns the coinbase (``check_coinbase_owner``; rules v2, docs/protocol.md section 5): a proof
  of space carries exactly one of ``pool_public_key`` and ``pool_contract_puzzle_hash``. With a
  pool key, the coinbase must be signed by it (any puzzle hash). With a contract puzzle hash
  (a pooled plot, whose plot id commits to that hash), the coinbase must pay exactly that puzzle
  hash and its signature must be the G2 identity: nothing is left for a signature to choose, and
  whoever finds the block cannot redirect the reward. Rules v1 refused contract-hash plots; blocks
  of pool-key plots are valid under both, unchanged.
"""

from __future__ import annotations

import functools
from collections.abc import Callable

from blspy import AugSchemeMPL
from blspy import G2Element as BlsG2Element

from trionode.consensus.block_fields import (
    EXTENSION_DATA,
    GENESIS_PREV_HASH,
    challenge_hash_for_child,
    expected_total_iters,
    expected_weight,
    make_challenge,
)
from trionode.consensus.coins import body_cost, filter_hash
from trionode.consensus.constants import ConsensusConstants, block_reward
from trionode.consensus.context import ValidationContext
from trionode.consensus.errors import Err
from trionode.consensus.proofs import (
    check_pos_proof,
    expected_pos_challenge,
    invalid_point,
    plot_passes_filter,
    pot_output_hash,
    required_iterations,
    verify_pot,
    verify_signature,
)
from trionode.consensus.transactions import (
    check_spend_alone,
    check_spend_coin,
    transaction_signature_ok,
)
from trionode.protocols.chain_types import (
    Body,
    CoinbaseInfo,
    FullBlock,
    HeaderBlock,
    ProofOfSpace,
)
from trionode.wire import G2Element


def validate_header_block(
    constants: ConsensusConstants, header_block: HeaderBlock, ctx: ValidationContext
) -> Err | None:
    """Every rule a header can be checked against without its body: position, timestamp, proof
    of space, weight, total iterations, plot signature, proof of time and challenge. Used by
    header sync; ``validate_block`` runs it as well."""
    err, iterations = _check_header(constants, header_block, ctx)
    if err is not None:
        return err
    return _check_finished(constants, header_block, ctx, iterations)


def validate_unfinished_block(
    constants: ConsensusConstants, block: FullBlock, ctx: ValidationContext
) -> Err | None:
    """An unfinished block (neither proof of time nor challenge): header and body rules."""
    if block.proof_of_time is not None or block.challenge is not None:
        return Err.UNEXPECTED_PROOF_OF_TIME
    return _check_unfinished_part(constants, block, ctx)[0]


def validate_block(
    constants: ConsensusConstants, block: FullBlock, ctx: ValidationContext
) -> Err | None:
    """A finished block: everything ``validate_unfinished_block`` checks, then the proof of time
    and the challenge."""
    if block.proof_of_time is None:
        return Err.MISSING_PROOF_OF_TIME
    if block.challenge is None:
        return Err.MISSING_CHALLENGE
    err, iterations = _check_unfinished_part(constants, block, ctx)
    if err is not None:
        return err
    return _check_finished(constants, block.header_block(), ctx, iterations)


def check_proofs_ahead(
    constants: ConsensusConstants, block: FullBlock, stop: Callable[[], bool]
) -> None:
    """The costly checks of ``validate_block`` that need no context (its proof of time, each
    transaction's signature, the coinbase's), memoised, in about the reverse of the order
    ``validate_block`` reaches them; ``stop()`` is asked before each. A second worker runs this
    beside ``validate_block`` of the same gossiped block: that one finds each result memoised,
    or waits for it in flight (``consensus.memo``), and a hop of the block's propagation takes
    about half a validation less where a core is free. This decides nothing: a failure, or a
    point that does not decode, is left for ``validate_block`` to find and report."""
    body = block.body
    checks: list[Callable[[], object]] = []
    pot = block.proof_of_time
    if pot is not None:
        checks.append(lambda: verify_pot(constants, pot))
    checks += [
        functools.partial(transaction_signature_ok, tx) for tx in reversed(body.transactions)
    ]
    checks.append(
        lambda: check_coinbase_owner(block.proof_of_space, body.coinbase, body.coinbase_signature)
    )
    for check in checks:
        if stop():
            return
        try:
            check()
        except (ValueError, RuntimeError):  # a point that does not decode: validate_block's
            return


def _check_unfinished_part(
    constants: ConsensusConstants, block: FullBlock, ctx: ValidationContext
) -> tuple[Err | None, int]:
    err, iterations = _check_header(constants, block, ctx)
    if err is not None:
        return err, iterations
    return _check_body(constants, block, ctx), iterations


def _check_header(
    constants: ConsensusConstants, block: HeaderBlock | FullBlock, ctx: ValidationContext
) -> tuple[Err | None, int]:
    """Header rules shared by every kind of validation; returns the required iterations."""
    # Points decode lazily: an invalid one is PROTOCOL.md's decode error, so it is rejected
    # before any rule (docs/protocol.md, "Where an invalid point is rejected"). The checked
    # points are kept for the signature checks.
    if invalid_point(block) is not None:
        return Err.INVALID_POINT, 0
    data = block.header.data
    parent = ctx.parent
    # -- position in the chain
    if parent is None:
        if data.height != 0:
            return Err.UNKNOWN_PARENT, 0
        if data.prev_header_hash != GENESIS_PREV_HASH:
            return Err.INVALID_GENESIS_PREV_HASH, 0
    else:
        if parent.header_hash != data.prev_header_hash:
            return Err.UNKNOWN_PARENT, 0
        if data.height != parent.height + 1:
            return Err.INVALID_HEIGHT, 0
    challenge_hash = challenge_hash_for_child(constants, parent)
    if challenge_hash is None:
        return Err.PARENT_NOT_FINISHED, 0
    # -- timestamp
    if ctx.median_timestamp is not None and data.timestamp <= ctx.median_timestamp:
        return Err.TIMESTAMP_TOO_FAR_IN_PAST, 0
    if data.timestamp > ctx.now + constants.MAX_FUTURE_TIME:
        return Err.TIMESTAMP_TOO_FAR_IN_FUTURE, 0
    # -- proof of space
    pos = block.proof_of_space
    if not constants.MIN_PLOT_SIZE <= pos.size <= constants.MAX_PLOT_SIZE:
        return Err.INVALID_PLOT_SIZE, 0
    if (pos.pool_public_key is None) == (pos.pool_contract_puzzle_hash is None):
        return Err.INVALID_POOL_KEY, 0
    plot_id = pos.get_plot_id()
    if not plot_passes_filter(constants, plot_id, challenge_hash):
        return Err.DOES_NOT_PASS_FILTER, 0
    if pos.challenge != expected_pos_challenge(plot_id, challenge_hash):
        return Err.INVALID_POS_CHALLENGE, 0
    quality_string = check_pos_proof(pos)
    if quality_string is None:
        return Err.INVALID_POSPACE, 0
    if data.proof_of_space_hash != pos.get_hash():
        return Err.INVALID_POS_HASH, 0
    iterations = required_iterations(constants, pos, quality_string, ctx.difficulty)
    # -- header fields
    if data.extension_data != EXTENSION_DATA:
        return Err.INVALID_EXTENSION_DATA, iterations
    if data.weight != expected_weight(parent, ctx.difficulty):
        return Err.INVALID_WEIGHT, iterations
    if data.total_iters != expected_total_iters(parent, iterations):
        return Err.INVALID_TOTAL_ITERS, iterations
    # -- plot signature (2-of-2 aggregate under the plot public key)
    if not verify_signature(pos.plot_public_key, data.get_hash(), block.header.plot_signature):
        return Err.INVALID_PLOT_SIGNATURE, iterations
    return None, iterations


def _check_body(
    constants: ConsensusConstants, block: FullBlock, ctx: ValidationContext
) -> Err | None:
    data = block.header.data
    body = block.body
    height = int(data.height)
    if data.body_hash != body.get_hash():
        return Err.INVALID_BODY_HASH
    # cost before anything that walks the transactions
    if body.cost > constants.MAX_BLOCK_COST:
        return Err.COST_EXCEEDS_MAX
    if body.cost != body_cost(body.transactions):
        return Err.INVALID_COST
    if data.filter_hash != filter_hash(body, height):
        return Err.INVALID_FILTER_HASH
    # -- coinbase
    if body.coinbase.height != height:
        return Err.INVALID_COINBASE_HEIGHT
    if body.coinbase.amount != block_reward(constants, height):
        return Err.INVALID_COINBASE_AMOUNT
    # -- transactions (cheap coin-set checks first, signatures after)
    fees_or_err = _check_transactions_coins(body, ctx)
    if isinstance(fees_or_err, Err):
        return fees_or_err
    if body.fees_target.amount != fees_or_err:
        return Err.INVALID_FEES_AMOUNT
    agg_err = _check_aggregated_signature(body)
    if agg_err is not None:
        return agg_err
    # -- signatures
    owner_err = check_coinbase_owner(block.proof_of_space, body.coinbase, body.coinbase_signature)
    if owner_err is not None:
        return owner_err
    for tx in body.transactions:
        if not transaction_signature_ok(tx):
            return Err.INVALID_TRANSACTION_SIGNATURE
    return None


#: The coinbase signature of a block from a pooled (contract puzzle hash) plot.
IDENTITY_G2 = G2Element(BlsG2Element())


def check_coinbase_owner(
    pos: ProofOfSpace, coinbase: CoinbaseInfo, signature: G2Element
) -> Err | None:
    """Is the coinbase paid where the proof of space says (module docstring, rules v2)?"""
    if pos.pool_contract_puzzle_hash is not None:
        if pos.pool_public_key is not None:
            return Err.INVALID_POOL_KEY
        if coinbase.puzzle_hash != pos.pool_contract_puzzle_hash:
            return Err.INVALID_COINBASE_PUZZLE_HASH
        if signature != IDENTITY_G2:
            return Err.INVALID_COINBASE_SIGNATURE
        return None
    if pos.pool_public_key is None:
        return Err.INVALID_POOL_KEY
    # Memoised on the bytes: one process running many nodes checks each block once.
    if not verify_signature(pos.pool_public_key, coinbase.get_hash(), signature):
        return Err.INVALID_COINBASE_SIGNATURE
    return None


def _check_transactions_coins(body: Body, ctx: ValidationContext) -> int | Err:
    """The transaction rules (:mod:`trionode.consensus.transactions`) for every transaction of
    the body, plus: no coin spent twice in the block. Returns the total fees."""
    spent_in_block: set[bytes] = set()
    fees = 0
    for tx in body.transactions:
        if not tx.spends:
            return Err.EMPTY_TRANSACTION
        inputs = 0
        outputs = 0
        for spend in tx.spends:
            coin_id = spend.coin.name()
            if coin_id in spent_in_block:
                return Err.DUPLICATE_SPEND
            spent_in_block.add(coin_id)
            err = check_spend_coin(spend, ctx.coins.get(coin_id)) or check_spend_alone(spend)
            if err is not None:
                return err
            inputs += int(spend.coin.amount)
            outputs += sum(int(o.amount) for o in spend.outputs)
        if outputs > inputs:
            return Err.OUTPUTS_EXCEED_INPUTS
        fees += inputs - outputs
    return fees


def _check_aggregated_signature(body: Body) -> Err | None:
    if not body.transactions:
        return None if body.aggregated_signature is None else Err.INVALID_AGGREGATED_SIGNATURE
    if body.aggregated_signature is None:
        return Err.INVALID_AGGREGATED_SIGNATURE
    expected = AugSchemeMPL.aggregate([tx.aggregated_signature.point for tx in body.transactions])
    if bytes(expected) != bytes(body.aggregated_signature):
        return Err.INVALID_AGGREGATED_SIGNATURE
    return None


def _check_finished(
    constants: ConsensusConstants,
    block: HeaderBlock,
    ctx: ValidationContext,
    iterations: int,
) -> Err | None:
    pot = block.proof_of_time
    challenge = block.challenge
    if pot is None:
        return Err.MISSING_PROOF_OF_TIME
    if challenge is None:
        return Err.MISSING_CHALLENGE
    answered = challenge_hash_for_child(constants, ctx.parent)
    assert answered is not None  # checked in _check_header
    if pot.challenge_hash != answered:
        return Err.INVALID_POT_CHALLENGE
    if pot.number_of_iterations != iterations:
        return Err.INVALID_POT_ITERATIONS
    if pot_output_hash(constants, pot) is None:
        return Err.INVALID_POT
    expected = make_challenge(
        constants,
        answered_challenge=answered,
        pos=block.proof_of_space,
        pot=pot,
        header_data=block.header.data,
    )
    if challenge != expected:
        return Err.INVALID_CHALLENGE
    if not verify_pot(constants, pot):
        return Err.INVALID_POT
    return None
