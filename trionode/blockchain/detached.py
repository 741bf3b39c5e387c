"""Checks of a block whose parent is not stored (a far tip advert, an orphan, a parent fetched
by short sync): everything that does not need the parent's chain, and the link to a parent
known only as a header.

A block whose parent is stored is validated fully (``validate_block``); these checks decide
whether an unconnected block may steer the node at all (become a sync target, wait in the
orphan pool, be fetched further back). What they cannot check is the weight and difficulty
against the chain below: a header that passes them still proves real work (a proof of space
from a plot whose key signed it, a VDF of exactly the iterations its quality needs at the
difficulty it claims, when the parent header is known), so only a farmer with a plot and a
VDF can make one, and the weight it claims is settled by syncing the chain below it.

Pure functions of (constants, block[, parent], now), run in worker threads; cheap rules first,
the VDF last. Each returns None or the ``Err`` of the first rule broken.
"""

from __future__ import annotations

from trionode.consensus import (
    ConsensusConstants,
    Err,
    block_reward,
    body_cost,
    check_pos_proof,
    expected_pos_challenge,
    make_challenge,
    plot_passes_filter,
    required_iterations,
    verify_pot,
)
from trionode.consensus.block_fields import EXTENSION_DATA
from trionode.consensus.proofs import (
    FORM_SIZE,
    invalid_point,
    pot_output_hash,
    verify_signature,
)
from trionode.protocols.chain_types import FullBlock, HeaderBlock

#: Serialized bytes a valid block can have beyond its transactions (proofs, header, coinbase,
#: fees target, signatures, list lengths); a block larger than MAX_BLOCK_COST plus this is
#: invalid whatever its parent.
BLOCK_OVERHEAD_BYTES = 64 * 1024


def max_block_bytes(constants: ConsensusConstants) -> int:
    return constants.MAX_BLOCK_COST + BLOCK_OVERHEAD_BYTES


def check_detached_header(
    constants: ConsensusConstants, block: HeaderBlock | FullBlock, now: int
) -> Err | None:
    """The rules of a finished header that hold whatever its parent: the proof of space answers
    the challenge the proof of time starts from, the plot key signed the header, the Challenge
    follows from the proofs and the header, the VDF verifies."""
    pot, challenge = block.proof_of_time, block.challenge
    if pot is None:
        return Err.MISSING_PROOF_OF_TIME
    if challenge is None:
        return Err.MISSING_CHALLENGE
    data = block.header.data
    answered = pot.challenge_hash
    if challenge.prev_challenge_hash != answered:
        return Err.INVALID_POT_CHALLENGE
    if data.height == 0 and answered != constants.genesis_challenge:
        return Err.INVALID_POT_CHALLENGE
    if data.timestamp > now + constants.MAX_FUTURE_TIME:
        return Err.TIMESTAMP_TOO_FAR_IN_FUTURE
    if data.extension_data != EXTENSION_DATA:
        return Err.INVALID_EXTENSION_DATA
    if int(pot.number_of_iterations) < constants.MIN_ITERS or data.total_iters < int(
        pot.number_of_iterations
    ):
        return Err.INVALID_POT_ITERATIONS
    if pot.witness_type != 0 or len(pot.witness) != FORM_SIZE:
        return Err.INVALID_POT  # before any proof check: bounds what a hostile proof costs
    pos = block.proof_of_space
    if not constants.MIN_PLOT_SIZE <= pos.size <= constants.MAX_PLOT_SIZE:
        return Err.INVALID_PLOT_SIZE
    if pos.pool_public_key is None or pos.pool_contract_puzzle_hash is not None:
        return Err.INVALID_POOL_KEY
    plot_id = pos.get_plot_id()
    if not plot_passes_filter(constants, plot_id, answered):
        return Err.DOES_NOT_PASS_FILTER
    if pos.challenge != expected_pos_challenge(plot_id, answered):
        return Err.INVALID_POS_CHALLENGE
    if data.proof_of_space_hash != pos.get_hash():
        return Err.INVALID_POS_HASH
    if check_pos_proof(pos) is None:
        return Err.INVALID_POSPACE
    if not verify_signature(pos.plot_public_key, data.get_hash(), block.header.plot_signature):
        return Err.INVALID_PLOT_SIGNATURE
    if pot_output_hash(constants, pot) is None:
        return Err.INVALID_POT
    expected = make_challenge(
        constants, answered_challenge=answered, pos=pos, pot=pot, header_data=data
    )
    if challenge != expected:
        return Err.INVALID_CHALLENGE
    if not verify_pot(constants, pot):
        return Err.INVALID_POT
    return None


def check_detached_body(constants: ConsensusConstants, block: FullBlock) -> Err | None:
    """Body rules that need no coin set: size and cost, the header commits to this body, the
    coinbase is for this height, pays the reward and is signed by the pool key."""
    body = block.body
    if body.cost > constants.MAX_BLOCK_COST:
        return Err.COST_EXCEEDS_MAX
    if body.cost != body_cost(body.transactions):
        return Err.INVALID_COST
    if block.header.data.body_hash != body.get_hash():
        return Err.INVALID_BODY_HASH
    height = int(block.header.data.height)
    if body.coinbase.height != height:
        return Err.INVALID_COINBASE_HEIGHT
    if body.coinbase.amount != block_reward(constants, height):
        return Err.INVALID_COINBASE_AMOUNT
    pool_pk = block.proof_of_space.pool_public_key
    # Memoised like the plot signature: every node of a network simulation, and a node that
    # sees one block as gossip and again in a sync, checks it once.
    if pool_pk is None or not verify_signature(
        bytes(pool_pk), bytes(body.coinbase.get_hash()), bytes(body.coinbase_signature)
    ):
        return Err.INVALID_COINBASE_SIGNATURE
    return None


def check_detached_block(
    constants: ConsensusConstants, block: FullBlock, now: int
) -> tuple[Err | None, int]:
    """``check_detached_body`` (cheap, bounds the size) then ``check_detached_header``; also
    returns the block's serialized size (0 when invalid)."""
    # Points decode lazily; an invalid one is a decode error, rejected before any rule.
    err = Err.INVALID_POINT if invalid_point(block) is not None else None
    if err is None:
        err = check_detached_body(constants, block)
    if err is None:
        err = check_detached_header(constants, block, now)
    if err is not None:
        return err, 0
    size = len(bytes(block))
    if size > max_block_bytes(constants):
        return Err.COST_EXCEEDS_MAX, 0
    return None, size


def check_parent_link(
    constants: ConsensusConstants, child: HeaderBlock | FullBlock, parent: HeaderBlock | FullBlock
) -> Err | None:
    """``child`` extends ``parent`` (both already checked detached): position, the challenge it
    answers, total iterations, and the iterations its quality needs at the difficulty the
    weight step claims. Cheap: no proof is verified again."""
    data, pdata = child.header.data, parent.header.data
    if data.prev_header_hash != parent.header_hash:
        return Err.UNKNOWN_PARENT
    if data.height != pdata.height + 1:
        return Err.INVALID_HEIGHT
    if parent.challenge is None:
        return Err.PARENT_NOT_FINISHED
    pot = child.proof_of_time
    if pot is None:
        return Err.MISSING_PROOF_OF_TIME
    if pot.challenge_hash != parent.challenge.get_hash():
        return Err.INVALID_POT_CHALLENGE
    difficulty = int(data.weight) - int(pdata.weight)
    if difficulty <= 0:
        return Err.INVALID_WEIGHT
    iterations = int(data.total_iters) - int(pdata.total_iters)
    if iterations != int(pot.number_of_iterations):
        return Err.INVALID_TOTAL_ITERS
    quality_string = check_pos_proof(child.proof_of_space)
    if quality_string is None:
        return Err.INVALID_POSPACE
    if required_iterations(constants, child.proof_of_space, quality_string, difficulty) != (
        iterations
    ):
        return Err.INVALID_POT_ITERATIONS
    return None
