"""The fields of a block that follow from its parent, proofs and body ("expected header fields").

Block makers (farmer, full node, test block maker) build headers with these and the validator
checks against the same functions, so the two cannot drift apart.

- A block at height 0 has ``prev_header_hash`` = 32 zero bytes and answers the genesis challenge;
  any other block answers its parent's ``Challenge.get_hash()``.
- ``extension_data`` is reserved: 32 zero bytes.
- ``weight = parent weight + difficulty``; ``total_iters = parent total_iters + iterations``
  (0 for the "parent" of genesis).
- ``Challenge(prev_challenge_hash = the challenge this block answered, proof_of_space_hash =
  pos.get_hash(), proof_of_time_output_hash = pot.output.get_hash() (only canonical
  encodings of the output are valid, see ``proofs.pot_output_hash``), height, total_weight =
  header weight, total_iters = header total_iters)``.
"""

from __future__ import annotations

from trionode.consensus.coins import filter_hash
from trionode.consensus.constants import ConsensusConstants
from trionode.consensus.proofs import pot_output_hash
from trionode.protocols.chain_types import (
    Body,
    Challenge,
    HeaderBlock,
    HeaderData,
    ProofOfSpace,
    ProofOfTime,
)
from trionode.wire import bytes32, uint32, uint64, uint128

GENESIS_PREV_HASH = bytes32(bytes(32))
EXTENSION_DATA = bytes32(bytes(32))


def challenge_hash_for_child(
    constants: ConsensusConstants, parent: HeaderBlock | None
) -> bytes32 | None:
    """The challenge the child of ``parent`` answers (None if the parent is unfinished)."""
    if parent is None:
        return constants.genesis_challenge
    if parent.challenge is None:
        return None
    return parent.challenge.get_hash()  # type: ignore[no-any-return]


def parent_weight(parent: HeaderBlock | None) -> int:
    return 0 if parent is None else int(parent.header.data.weight)


def parent_total_iters(parent: HeaderBlock | None) -> int:
    return 0 if parent is None else int(parent.header.data.total_iters)


def expected_weight(parent: HeaderBlock | None, difficulty: int) -> int:
    return parent_weight(parent) + difficulty


def expected_total_iters(parent: HeaderBlock | None, iterations: int) -> int:
    return parent_total_iters(parent) + iterations


def make_header_data(
    *,
    parent: HeaderBlock | None,
    difficulty: int,
    iterations: int,
    pos: ProofOfSpace,
    body: Body,
    timestamp: int,
) -> HeaderData:
    """The HeaderData of a block with these proofs and body (what the plot key signs)."""
    height = 0 if parent is None else int(parent.height) + 1
    return HeaderData(
        height=uint32(height),
        prev_header_hash=GENESIS_PREV_HASH if parent is None else parent.header_hash,
        timestamp=uint64(timestamp),
        filter_hash=filter_hash(body, height),
        proof_of_space_hash=pos.get_hash(),
        body_hash=body.get_hash(),
        weight=uint128(expected_weight(parent, difficulty)),
        total_iters=uint128(expected_total_iters(parent, iterations)),
        extension_data=EXTENSION_DATA,
    )


def make_challenge(
    constants: ConsensusConstants,
    *,
    answered_challenge: bytes32,
    pos: ProofOfSpace,
    pot: ProofOfTime,
    header_data: HeaderData,
) -> Challenge:
    """The Challenge a finished block carries; its hash is what the next block answers.
    ValueError if the proof of time's output is not a valid form."""
    output_hash = pot_output_hash(constants, pot)
    if output_hash is None:
        raise ValueError("the proof of time's output is not a valid class group form")
    return Challenge(
        prev_challenge_hash=answered_challenge,
        proof_of_space_hash=pos.get_hash(),
        proof_of_time_output_hash=output_hash,
        height=header_data.height,
        total_weight=header_data.weight,
        total_iters=header_data.total_iters,
    )
