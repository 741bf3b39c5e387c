"""Proof of space and proof of time formulas (PROTOCOL.md section 2), pure and thread-safe.

chiapos' Verifier, chiavdf's verify and blspy release the GIL, so these may run in several worker
threads at once. The only shared state is a few :class:`~trionode.consensus.memo.ByteBoundedMemo`
(locked; a race only computes the same value twice).

The expensive checks (chiapos proof, VDF proof, plot signature) and the VDF discriminant are
memoised on a digest of their complete input bytes. They are pure functions, so a hit returns
exactly what the check would: nothing is skipped, a header verified by header sync, or an
unfinished block verified on arrival, is just not verified again when the same bytes come back
inside the full block.

Every length is checked before anything is verified or memoised (docs/protocol.md section 3):
a chiapos proof is 8*k bytes with k <= :data:`MAX_K`; a VDF witness is exactly what its
witness_type allows (only type 0, :data:`FORM_SIZE` bytes, is accepted); BLS points have their
one size. Input that fails these checks is rejected at once and never enters a memo, and each
memo holds at most :data:`PROOF_CACHE_BYTES` (keys, values and per-entry overhead), so a peer
feeding oversized or endless distinct proofs cannot grow the node's memory through them.
"""

from __future__ import annotations

import hashlib
from typing import Any

import chiavdf
from blspy import AugSchemeMPL, G1Element, G2Element
from chiapos import Verifier

from trionode.consensus.constants import ConsensusConstants
from trionode.consensus.memo import ByteBoundedMemo, MemoStats, digest
from trionode.protocols.chain_types import ProofOfSpace, ProofOfTime
from trionode.wire import BLSElement, DecodeError, Streamable, bytes32

#: The VDF starts from the default class group form: 0x08 followed by 99 zero bytes.
VDF_START: bytes = b"\x08" + bytes(99)
#: A serialized class group element (the VDF output) and a Wesolowski witness are 100 bytes.
FORM_SIZE = 100
#: chiavdf's n-Wesolowski proof blob is output + witness, the witness being one form plus, per
#: level of witness_type, a segment of 8 bytes (iterations) + 33 bytes (B) + one form. Only
#: witness_type 0 is accepted by this consensus, so a valid witness is exactly FORM_SIZE bytes.
VDF_SEGMENT_SIZE = 8 + 33 + FORM_SIZE
ACCEPTED_WITNESS_TYPE = 0
#: The largest plot size chiapos verifies (its kMaxPlotSize), and every network's MAX_PLOT_SIZE.
MAX_K = 50
#: Serialized BLS12-381 points: G1 (public key) 48 bytes, G2 (signature) 96 bytes.
G1_SIZE = 48
G2_SIZE = 96
#: Signed messages are hashes (32 bytes); longer ones are verified but not memoised.
MAX_MEMO_MESSAGE = 1024

MiB = 1024 * 1024
#: Bytes each memo may hold (key digest + value + ENTRY_OVERHEAD per entry): 2 MiB is about
#: 5,900 proof checks, a few windows of a sync and minutes of gossip. Five memos: 10 MiB at most.
PROOF_CACHE_BYTES = 2 * MiB

_POS_MEMO: ByteBoundedMemo[bytes | None] = ByteBoundedMemo("pos_quality", PROOF_CACHE_BYTES)
_SIGNATURE_MEMO: ByteBoundedMemo[bool] = ByteBoundedMemo("plot_signature", PROOF_CACHE_BYTES)
_POT_MEMO: ByteBoundedMemo[bool] = ByteBoundedMemo("vdf_proof", PROOF_CACHE_BYTES)
_DISCRIMINANT_MEMO: ByteBoundedMemo[str] = ByteBoundedMemo("discriminant", PROOF_CACHE_BYTES)
_AGGREGATE_MEMO: ByteBoundedMemo[bool] = ByteBoundedMemo("aggregate_signature", PROOF_CACHE_BYTES)
_MEMOS = (_POS_MEMO, _SIGNATURE_MEMO, _POT_MEMO, _DISCRIMINANT_MEMO, _AGGREGATE_MEMO)


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


def check_pos_proof(pos: ProofOfSpace) -> bytes | None:
    """chiapos ``Verifier().validate_proof``: the quality string, or None for a bad proof.

    A k outside 1..MAX_K or a proof that is not 8*k bytes is rejected before chiapos sees it
    and is not memoised."""
    size = int(pos.size)
    proof = bytes(pos.proof)
    if not 1 <= size <= MAX_K or len(proof) != 8 * size:
        return None
    plot_id, challenge = bytes(pos.get_plot_id()), bytes(pos.challenge)
    return _POS_MEMO.get_or_compute(
        digest(b"pos", plot_id, size, challenge, proof),
        lambda: _pos_quality(plot_id, size, challenge, proof),
    )


def _pos_quality(plot_id: bytes, size: int, challenge: bytes, proof: bytes) -> bytes | None:
    result = Verifier().validate_proof(plot_id, size, challenge, proof)
    return None if result is None else bytes(result)


def verify_signature(public_key: Any, message: bytes, signature: Any) -> bool:
    """``AugSchemeMPL.verify`` (memoised on the bytes: the plot signature of a header is
    checked by header sync and again with its block). The key and signature are wire elements
    (``G1Element``/``G2Element``, whose checked points are reused and kept) or their bytes.
    False for invalid points; points of the wrong size are rejected without being memoised."""
    pk_raw, sig_raw, message = bytes(public_key), bytes(signature), bytes(message)
    if len(pk_raw) != G1_SIZE or len(sig_raw) != G2_SIZE:
        return False
    if len(message) > MAX_MEMO_MESSAGE:
        return _verify_signature(public_key, message, signature)
    return _SIGNATURE_MEMO.get_or_compute(
        digest(b"sig", pk_raw, message, sig_raw),
        lambda: _verify_signature(public_key, message, signature),
    )


def verify_aggregate_signature(
    public_keys: list[BLSElement], messages: list[bytes], signature: BLSElement
) -> bool:
    """``AugSchemeMPL.aggregate_verify`` of wire elements (memoised on the bytes: a
    transaction's signature is checked by the mempool and again with each block holding it,
    and, in one process running many nodes, once for all of them). An invalid point raises
    the element's DecodeError, as ``.point`` does, and is not memoised."""
    parts: list[bytes] = [b"agg", bytes(signature)]
    for pk, msg in zip(public_keys, messages, strict=True):
        parts += (bytes(pk), bytes(msg))
    return _AGGREGATE_MEMO.get_or_compute(
        digest(*parts),
        lambda: bool(
            AugSchemeMPL.aggregate_verify(
                [pk.point for pk in public_keys], messages, signature.point
            )
        ),
    )


def _verify_signature(public_key: Any, message: bytes, signature: Any) -> bool:
    try:
        pk = _point(public_key, G1Element)
        sig = _point(signature, G2Element)
    except (RuntimeError, ValueError):  # DecodeError is a ValueError
        return False
    return bool(AugSchemeMPL.verify(pk, message, sig))


def _point(value: Any, blspy_type: Any) -> Any:
    """The checked blspy point of a wire element (decompressed once, then kept) or of bytes
    (the caller checked the size, so an element here is of the right group)."""
    if isinstance(value, BLSElement):
        return value.point
    return blspy_type.from_bytes(bytes(value))


def invalid_point(record: Streamable) -> DecodeError | None:
    """Check every BLS point of a block or header block, or None when all are points of their
    groups. Block points decode lazily (docs/protocol.md, "Where an invalid point is
    rejected"), so validation runs this before the first signature check; the error is the one
    decoding raised before (``FullBlock.body.transactions[3].spends[0].public_key: invalid
    G1Element: ...``). The checked points are kept for the signature checks that follow."""
    try:
        record.check_points()
    except DecodeError as exc:
        return exc
    return None


def required_iterations(
    constants: ConsensusConstants, pos: ProofOfSpace, quality_string: bytes, difficulty: int
) -> int:
    """The VDF iterations a block with this proof of space needs at ``difficulty``."""
    quality = quality_for(pos.challenge, quality_string)
    return iterations_for_quality(constants, quality, int(pos.size), difficulty)


def discriminant(challenge_hash: bytes, size_bits: int) -> str:
    """The VDF discriminant for a challenge, as the decimal string chiavdf's verify takes
    (memoised: a challenge is asked for by every proof of time that answers it)."""
    challenge = bytes(challenge_hash)
    if len(challenge) != 32:  # always a bytes32 from the wire; longer input is not memoised
        return _discriminant(challenge, size_bits)
    return _DISCRIMINANT_MEMO.get_or_compute(
        digest(b"disc", challenge, size_bits), lambda: _discriminant(challenge, size_bits)
    )


def _discriminant(challenge: bytes, size_bits: int) -> str:
    return str(int(chiavdf.create_discriminant(challenge, size_bits), 16))


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
    altered without rejection. The witness type and length are checked first: a proof failing
    them is rejected without being memoised (its witness may be megabytes).
    """
    witness = bytes(pot.witness)
    if pot.witness_type != ACCEPTED_WITNESS_TYPE or len(witness) != FORM_SIZE:
        return False
    iterations = int(pot.number_of_iterations)
    if iterations <= 0:
        return False
    size_bits = int(constants.DISCRIMINANT_SIZE_BITS)
    challenge, output = bytes(pot.challenge_hash), bytes(pot.output.data)
    if len(challenge) != 32 or len(output) != FORM_SIZE:
        return False
    return _POT_MEMO.get_or_compute(
        digest(b"pot", size_bits, challenge, iterations, output, witness),
        lambda: _check_pot(size_bits, challenge, iterations, output, witness),
    )


def _check_pot(
    size_bits: int, challenge: bytes, iterations: int, output: bytes, witness: bytes
) -> bool:
    disc = discriminant(challenge, size_bits)
    if not (canonical_form(disc, output) and canonical_form(disc, witness)):
        return False
    try:
        ok = chiavdf.verify_n_wesolowski(
            disc, VDF_START, output + witness, iterations, size_bits, 0
        )
    except (ValueError, RuntimeError):
        return False
    return bool(ok)


def proof_cache_stats() -> dict[str, MemoStats]:
    """Entries, bytes and hit counts of each memo, by name (metrics, tests, scripts)."""
    return {memo.name: memo.stats() for memo in _MEMOS}


def clear_proof_caches() -> None:
    """Forget memoised proof checks (benchmarks measuring verification itself call this)."""
    for memo in _MEMOS:
        memo.clear()
