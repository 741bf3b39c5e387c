"""Key derivation for farming (pure: no files, no I/O).

Everything derives from one BIP39 mnemonic. The seed (BIP39, PBKDF2 of mnemonic + passphrase)
goes through ``AugSchemeMPL.key_gen`` to give the master secret; the other keys are hardened
EIP-2333 children (``AugSchemeMPL.derive_child_sk``) along fixed paths:

=====================  ===========================  ==========================================
key                    path from the master          used for
=====================  ===========================  ==========================================
farmer                 m/12381/8444/0/0             farmer half of every plot signature
pool                   m/12381/8444/1/0             pool key in plot memos, signs coinbases
plot local master      m/12381/8444/3/<index>       the secret stored in plot number <index>'s memo
plot local             <local master>/0             harvester half of that plot's signatures
=====================  ===========================  ==========================================

12381 is the curve (BLS12-381), 8444 the project's coin type. A plot's public key is the 2-of-2
sum ``local_pk + farmer_pk`` (PROTOCOL.md section 2): a header needs both the harvester's and the
farmer's signature, made with ``AugSchemeMPL.sign(sk, m, plot_pk)`` and aggregated.

Functions accept blspy points or ``trionode.wire`` wrappers and return blspy objects.
"""

from __future__ import annotations

import hashlib
from typing import Any

from blspy import AugSchemeMPL, G1Element, PrivateKey
from mnemonic import Mnemonic

from trionode.wire import bytes32

__all__ = [
    "FARMER_PATH",
    "LOCAL_MASTER_PATH_PREFIX",
    "POOL_PATH",
    "as_g1",
    "derive_path",
    "farmer_sk",
    "fingerprint",
    "generate_mnemonic",
    "local_master_sk_for_plot",
    "master_sk_from_mnemonic",
    "normalize_mnemonic",
    "plot_local_sk",
    "plot_public_key",
    "pool_sk",
    "puzzle_hash_for_pk",
]

FARMER_PATH: tuple[int, ...] = (12381, 8444, 0, 0)
POOL_PATH: tuple[int, ...] = (12381, 8444, 1, 0)
LOCAL_MASTER_PATH_PREFIX: tuple[int, ...] = (12381, 8444, 3)
_MNEMONIC_WORDS = 24
_english = Mnemonic("english")


def generate_mnemonic() -> str:
    """A fresh 24-word BIP39 mnemonic (256 bits of OS entropy)."""
    return str(_english.generate(strength=256))


def normalize_mnemonic(mnemonic: str) -> str:
    """Lower-case, single-spaced words; raises ValueError if it is not a valid 24-word mnemonic."""
    words = mnemonic.lower().split()
    if len(words) != _MNEMONIC_WORDS:
        raise ValueError(f"invalid mnemonic: expected {_MNEMONIC_WORDS} words, got {len(words)}")
    unknown = [w for w in words if w not in _english.wordlist]
    if unknown:
        raise ValueError(f"invalid mnemonic: not BIP39 English words: {', '.join(unknown[:3])}")
    text = " ".join(words)
    if not _english.check(text):
        raise ValueError("invalid mnemonic: checksum does not match (a word is wrong or misplaced)")
    return text


def master_sk_from_mnemonic(mnemonic: str, passphrase: str = "") -> PrivateKey:
    """The master secret key of a mnemonic: ``key_gen(BIP39 seed)``. ValueError if invalid."""
    seed = Mnemonic.to_seed(normalize_mnemonic(mnemonic), passphrase)
    return AugSchemeMPL.key_gen(seed)


def derive_path(sk: PrivateKey, path: tuple[int, ...] | list[int]) -> PrivateKey:
    """Hardened derivation of ``sk`` along ``path``."""
    for index in path:
        sk = AugSchemeMPL.derive_child_sk(sk, index)
    return sk


def farmer_sk(master: PrivateKey) -> PrivateKey:
    """The farmer key, m/12381/8444/0/0."""
    return derive_path(master, FARMER_PATH)


def pool_sk(master: PrivateKey) -> PrivateKey:
    """The pool key, m/12381/8444/1/0."""
    return derive_path(master, POOL_PATH)


def local_master_sk_for_plot(master: PrivateKey, index: int) -> PrivateKey:
    """Plot number ``index``'s local master secret (stored in its memo), m/12381/8444/3/index."""
    if not 0 <= index < 2**32:
        raise ValueError(f"plot index must be in [0, 2**32), got {index}")
    return derive_path(master, (*LOCAL_MASTER_PATH_PREFIX, index))


def plot_local_sk(local_master_sk: PrivateKey) -> PrivateKey:
    """The key the harvester signs with for a plot: child 0 of the plot's local master secret."""
    return AugSchemeMPL.derive_child_sk(local_master_sk, 0)


def as_g1(pk: Any) -> G1Element:
    """A blspy G1Element from a blspy point, a ``trionode.wire.G1Element`` or 48 bytes."""
    if isinstance(pk, G1Element):
        return pk
    point = getattr(pk, "point", None)
    if isinstance(point, G1Element):
        return point
    if isinstance(pk, (bytes, bytearray)):
        try:
            return G1Element.from_bytes(bytes(pk))
        except (ValueError, RuntimeError) as exc:
            raise ValueError(f"invalid public key: {exc}") from None
    raise TypeError(f"expected a G1 public key, got {type(pk).__name__}")


def plot_public_key(local_pk: Any, farmer_pk: Any) -> G1Element:
    """The 2-of-2 plot key ``local_pk + farmer_pk``."""
    return as_g1(local_pk) + as_g1(farmer_pk)


def puzzle_hash_for_pk(pk: Any) -> bytes32:
    """The standard address of a key: ``sha256(bytes(pk))`` (PROTOCOL.md section 3)."""
    return bytes32(hashlib.sha256(bytes(as_g1(pk))).digest())


def fingerprint(pk: Any) -> int:
    """The key's fingerprint (first 4 bytes of sha256 of the key, as blspy computes it)."""
    return int(as_g1(pk).get_fingerprint())
