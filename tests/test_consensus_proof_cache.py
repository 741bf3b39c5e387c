"""Memoised proof checks answer exactly what the checks answer, for good and bad inputs alike,
whichever came first."""

from __future__ import annotations

from trionode.consensus import SIM, verify_pot
from trionode.consensus.proofs import check_pos_proof, clear_proof_caches, verify_signature
from trionode.protocols.chain_types import FullBlock
from trionode.wire import bytes32


def test_memoised_checks_agree_with_fresh_ones(chain_30: list[FullBlock]) -> None:
    block = chain_30[5]
    pos, pot = block.proof_of_space, block.proof_of_time
    assert pot is not None
    message = bytes(block.header.data.get_hash())
    pk, sig = bytes(pos.plot_public_key), bytes(block.header.plot_signature)
    other_sig = bytes(chain_30[6].header.plot_signature)  # a valid point, the wrong signature
    bad_pos = pos.replace(proof=bytes(reversed(pos.proof)))
    bad_pot = pot.replace(number_of_iterations=pot.number_of_iterations + 1)

    def answers() -> tuple[object, ...]:
        return (
            check_pos_proof(pos),
            check_pos_proof(bad_pos),
            verify_pot(SIM, pot),
            verify_pot(SIM, bad_pot),
            verify_signature(pk, message, sig),
            verify_signature(pk, message, other_sig),
            verify_signature(pk, message, b"\x00" * 96),  # not a point
            verify_signature(pk, bytes(bytes32(b"\x01" * 32)), sig),
        )

    clear_proof_caches()
    fresh = answers()
    assert fresh[0] is not None and fresh[1] is None
    assert fresh[2:] == (True, False, True, False, False, False)
    assert answers() == fresh  # now from the caches
    clear_proof_caches()
    # Bad inputs first, then good ones: no entry answers for another.
    assert verify_signature(pk, message, other_sig) is False
    assert verify_signature(pk, message, sig) is True
    assert verify_pot(SIM, bad_pot) is False and verify_pot(SIM, pot) is True
