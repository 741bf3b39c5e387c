"""Proof of space and proof of time formulas (PROTOCOL.md section 2), pure and thread-safe.

chiapos' Verifier, chiavdf's verify and blspy release the GIL, so these may run in several worker
threads at once. The only shared state is a few ``functools.lru_cache``s (thread-safe; a race
only computes the same value twice).

The expensive checks (chiapos proof, VDF proof, plot signature) are memoised on their complete
input bytes. They are pure functions, so a hit returns exactly what the check would: nothing is
skipped, a header verified by header sync, or an unfinished block verified on arrival, is just
not verified again when the same bytes come back inside the full block.
"""

from __future__ import annotations

import functools
import hashlib

import chiavdf
from blspy import AugSchemeMPL, G1Element, G2Element
from chiapos import Verifier

from trionode.consensus.constants import ConsensusConstants
from trionode.protocols.chain_types import ProofOfSpace, ProofOfTime
from trionode.wire import bytes32

#: The VDF starts from the default class group form: 0x08 followed by 99 zero bytes.
VDF_START: bytes = b"\x08" + bytes(99)
#: A serialized class group element (the VDF output) and a Wesolowski witness are 100 bytes.
FORM_SIZE = 100


def plot_filter_input(plot_id: bytes, challenge_hash: bytes, sp_hash: bytes) -> bytes32:
    """f = sha256(plot_id || challenge_hash || sp_hash); in this consensus sp_hash = challenge."""
    return bytes32(hashlib.sha256(plot_id + challenge_hash + sp_hash).digest())


def passes_plot_filter(f: bytes, bits: int) -> bool:
    """True when the first ``bits`` bits of ``f`` are zero (``bits`` = PLOT_FILTER_BITS)."""
    if bits == 0:
        return True
    return int.from_bytes(f, "big") >> (len(f) * 8 - bits) == 0


def pos_challenge(f: bytes) -> bytes32:
    """The challenge the plot is asked: pos.challenge = sha256(f)."""
    return bytes32(hashlib.sha256(f).digest())


def quality_for(challenge: bytes, quality_string: bytes) -> bytes32:
    """quality = sha256(pos.challenge || quality_string)."""
    return bytes32(hashlib.sha256(challenge + quality_string).digest())


def expected_pos_challenge(plot_id: bytes, challenge_hash: bytes) -> bytes32:
    """The pos.challenge a plot must use to answer ``challenge_hash`` (sp_hash = challenge)."""
    return pos_challenge(plot_filter_input(plot_id, challenge_hash, challenge_hash))


def plot_passes_filter(
    constants: ConsensusConstants, plot_id: bytes, challenge_hash: bytes
) -> bool:
    """Whether a plot may answer ``challenge_hash`` at all."""
    f = plot_filter_input(plot_id, challenge_hash, challenge_hash)
    return passes_plot_filter(f, constants.PLOT_FILTER_BITS)


def expected_plot_size(k: int) -> int:
    """(2k + 1) * 2**(k - 1): the plot size the iteration formula normalises by."""
    return (2 * k + 1) * 2 ** (k - 1)


def iterations_for_quality(
    constants: ConsensusConstants, quality: bytes, k: int, difficulty: int
) -> int:
    """MIN_ITERS + difficulty * DIFFICULTY_CONSTANT_FACTOR * int(quality)
    // (2**256 * expected_plot_size(k)), integer math only."""
    q = int.from_bytes(quality, "big")
    return constants.MIN_ITERS + (difficulty * constants.DIFFICULTY_CONSTANT_FACTOR * q) // (
        2**256 * expected_plot_size(k)
    )


def verify_pos(constants: ConsensusConstants, pos: ProofOfSpace, challenge_hash: bytes) -> bool:
    """Does the proof of space answer ``challenge_hash``? (filter, pos.challenge, size, proof)."""
    return pos_quality_string(constants, pos, challenge_hash) is not None


def pos_quality_string(
    constants: ConsensusConstants, pos: ProofOfSpace, challenge_hash: bytes
) -> bytes | None:
    """The quality string of a valid proof of space for ``challenge_hash``, else None."""
    plot_id = pos.get_plot_id()
    if not plot_passes_filter(constants, plot_id, challenge_hash):
        return None
    if pos.challenge != expected_pos_challenge(plot_id, challenge_hash):
        return None
    if not constants.MIN_PLOT_SIZE <= pos.size <= constants.MAX_PLOT_SIZE:
        return None
    return check_pos_proof(pos)


#: Entries per memoised proof check: a few windows of a sync, a few minutes of gossip.
PROOF_CACHE_SIZE = 4096


def check_pos_proof(pos: ProofOfSpace) -> bytes | None:
    """chiapos ``Verifier().validate_proof``: the quality string, or None for a bad proof."""
    if len(pos.proof) != 8 * pos.size:
        return None
    return _pos_quality(
        bytes(pos.get_plot_id()), int(pos.size), bytes(pos.challenge), bytes(pos.proof)
    )


@functools.lru_cache(maxsize=PROOF_CACHE_SIZE)
def _pos_quality(plot_id: bytes, size: int, challenge: bytes, proof: bytes) -> bytes | None:
    result = Verifier().validate_proof(plot_id, size, challenge, proof)
    return None if result is None else bytes(result)


def verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    """``AugSchemeMPL.verify`` over serialized points (memoised: the plot signature of a
    header is checked by header sync and again with its block). False for invalid points."""
    return _verify_signature(bytes(public_key), bytes(message), bytes(signature))


@functools.lru_cache(maxsize=PROOF_CACHE_SIZE)
def _verify_signature(public_key: bytes, message: bytes, signature: bytes) -> bool:
    try:
        pk = G1Element.from_bytes(public_key)
        sig = G2Element.from_bytes(signature)
    except (RuntimeError, ValueError):
        return False
    return bool(AugSchemeMPL.verify(pk, message, sig))


def required_iterations(
    constants: ConsensusConstants, pos: ProofOfSpace, quality_string: bytes, difficulty: int
) -> int:
    """The VDF iterations a block with this proof of space needs at ``difficulty``."""
    quality = quality_for(pos.challenge, quality_string)
    return iterations_for_quality(constants, quality, int(pos.size), difficulty)


@functools.lru_cache(maxsize=4096)
def discriminant(challenge_hash: bytes, size_bits: int) -> str:
    """The VDF discriminant for a challenge, as the decimal string chiavdf's verify takes."""
    return str(int(chiavdf.create_discriminant(bytes(challenge_hash), size_bits), 16))


def prove_vdf(constants: ConsensusConstants, challenge_hash: bytes, iterations: int) -> bytes:
    """Run the VDF (blocking, releases the GIL): output (100 bytes) + witness (100 bytes)."""
    result = chiavdf.prove(
        bytes(challenge_hash), VDF_START, constants.DISCRIMINANT_SIZE_BITS, iterations, ""
    )
    return bytes(result)


#: chiavdf's compressed-form flags for the identity and generator forms, whose other bytes it
#: does not read.
_BQFC_IS_1 = 0x04
_BQFC_IS_GEN = 0x08


def canonical_form(disc: str, data: bytes) -> bool:
    """Is ``data`` the one canonical 100-byte encoding of a class group form?

    chiavdf's verifier accepts some non-canonical encodings (ignored padding bits; anything
    after the identity/generator flag byte). Its strict decoder rejects the former; the latter
    must be the flag byte followed by zeros.
    """
    if len(data) != FORM_SIZE:
        return False
    if data[0] & (_BQFC_IS_1 | _BQFC_IS_GEN):
        return data[0] in (_BQFC_IS_1, _BQFC_IS_GEN) and not any(data[1:])
    try:
        chiavdf.bqfc_deserialize(disc, data, True)
    except (RuntimeError, ValueError):
        return False
    return True


def pot_output_hash(constants: ConsensusConstants, pot: ProofOfTime) -> bytes32 | None:
    """The Challenge's proof_of_time_output_hash: ``pot.output.get_hash()`` (sha256 of the 100
    output bytes, as proof_of_space_hash is ``pos.get_hash()``), or None if those bytes are not
    the canonical encoding of a form.

    chiavdf's compressed encoding is malleable (ignored padding bits, bytes after the
    identity/generator flag), so a relayed re-encoding would change this hash and fork a node
    away from the honest chain. Only the canonical encoding is accepted here and in
    ``verify_pot``, which makes the hash of the bytes a hash of the value.
    """
    disc = discriminant(bytes(pot.challenge_hash), constants.DISCRIMINANT_SIZE_BITS)
    if not canonical_form(disc, bytes(pot.output.data)):
        return None
    return pot.output.get_hash()


def verify_pot(constants: ConsensusConstants, pot: ProofOfTime) -> bool:
    """Does ``pot`` prove ``number_of_iterations`` of the VDF from the start form for its
    challenge at the network's discriminant size?

    Only plain Wesolowski proofs (witness_type 0, a 100-byte witness, what ``chiavdf.prove``
    returns) are accepted: it bounds the work a hostile proof can ask of a verifier. Output and
    witness must be canonical encodings (``canonical_form``), so a block's bytes cannot be
    altered without rejection.
    """
    return _verify_pot(constants.DISCRIMINANT_SIZE_BITS, pot)


@functools.lru_cache(maxsize=PROOF_CACHE_SIZE)
def _verify_pot(size_bits: int, pot: ProofOfTime) -> bool:
    if pot.witness_type != 0 or len(pot.witness) != FORM_SIZE:
        return False
    if pot.number_of_iterations <= 0:
        return False
    disc = discriminant(bytes(pot.challenge_hash), size_bits)
    if not (
        canonical_form(disc, bytes(pot.output.data)) and canonical_form(disc, bytes(pot.witness))
    ):
        return False
    try:
        ok = chiavdf.verify_n_wesolowski(
            disc,
            VDF_START,
            bytes(pot.output.data) + bytes(pot.witness),
            int(pot.number_of_iterations),
            size_bits,
            0,
        )
    except (ValueError, RuntimeError):
        return False
    return bool(ok)


def clear_proof_caches() -> None:
    """Forget memoised proof checks (benchmarks measuring verification itself call this)."""
    _pos_quality.cache_clear()
    _verify_signature.cache_clear()
    _verify_pot.cache_clear()
