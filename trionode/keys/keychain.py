"""The on-disk keychain: one BIP39 mnemonic under ``<root>/keys/``, readable only by its owner.

Layout: ``<root>/keys/`` (mode 0700) holds ``mnemonic.txt`` (mode 0600), the 24 words and a
newline. The file is written to a temporary name and renamed into place, so a crash never
leaves a half-written key. Everything else (farmer, pool, plot keys) is derived on demand.
"""

from __future__ import annotations

import logging
import os
import stat
from pathlib import Path

import attrs
from blspy import PrivateKey

from trionode.keys.derive import (
    farmer_sk,
    generate_mnemonic,
    master_sk_from_mnemonic,
    normalize_mnemonic,
    pool_sk,
    puzzle_hash_for_pk,
)
from trionode.wire import G1Element, bytes32

__all__ = ["FarmKeys", "KeychainError", "Keychain"]

logger = logging.getLogger(__name__)

KEYS_DIRNAME = "keys"
MNEMONIC_FILENAME = "mnemonic.txt"


class KeychainError(Exception):
    """The keychain is missing, unreadable or would be overwritten."""


@attrs.frozen
class FarmKeys:
    """The keys a farm needs, derived from the master key. Secrets are left out of ``repr``."""

    master_sk: PrivateKey = attrs.field(repr=False)
    farmer_sk: PrivateKey = attrs.field(repr=False)
    pool_sk: PrivateKey = attrs.field(repr=False)
    farmer_pk: G1Element
    pool_pk: G1Element
    farmer_puzzle_hash: bytes32
    pool_puzzle_hash: bytes32

    @classmethod
    def from_master(cls, master: PrivateKey) -> FarmKeys:
        f_sk = farmer_sk(master)
        p_sk = pool_sk(master)
        f_pk = G1Element(f_sk.get_g1())
        p_pk = G1Element(p_sk.get_g1())
        return cls(
            master_sk=master,
            farmer_sk=f_sk,
            pool_sk=p_sk,
            farmer_pk=f_pk,
            pool_pk=p_pk,
            farmer_puzzle_hash=puzzle_hash_for_pk(f_pk),
            pool_puzzle_hash=puzzle_hash_for_pk(p_pk),
        )


class Keychain:
    """The mnemonic stored under ``root``; see the module docstring for the layout."""

    def __init__(self, root: Path | str) -> None:
        self.root = Path(root)
        self.keys_dir = self.root / KEYS_DIRNAME
        self.mnemonic_path = self.keys_dir / MNEMONIC_FILENAME

    def exists(self) -> bool:
        return self.mnemonic_path.is_file()

    def generate(self, *, force: bool = False) -> str:
        """Make and store a new mnemonic and return it.

        Refuses (KeychainError) to replace an existing key unless ``force``: losing the mnemonic
        loses every plot made with it.
        """
        mnemonic = generate_mnemonic()
        self.add_mnemonic(mnemonic, force=force)
        return mnemonic

    def add_mnemonic(self, mnemonic: str, *, force: bool = False) -> None:
        """Store an existing mnemonic (ValueError if invalid; KeychainError if one exists)."""
        text = normalize_mnemonic(mnemonic)
        if self.exists() and not force:
            raise KeychainError(
                f"a key already exists in {self.mnemonic_path}; refusing to overwrite it "
                "(give --force to replace it, which orphans plots made with it)"
            )
        self.keys_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.chmod(self.keys_dir, 0o700)
        tmp = self.keys_dir / f".{MNEMONIC_FILENAME}.{os.getpid()}.tmp"
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.fchmod(fd, 0o600)
            os.write(fd, (text + "\n").encode())
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.mnemonic_path)
        logger.info("stored a new master key in %s", self.mnemonic_path)

    def load_mnemonic(self) -> str:
        """The stored mnemonic. KeychainError if there is none or it is unreadable/invalid."""
        if not self.exists():
            raise KeychainError(
                f"no keys in {self.root}: run `python -m trionode keys generate --root {self.root}`"
            )
        mode = stat.S_IMODE(self.mnemonic_path.stat().st_mode)
        if mode & 0o077:
            logger.warning(
                "%s is readable by others (mode %o); restricting it to 0600",
                self.mnemonic_path,
                mode,
            )
            os.chmod(self.mnemonic_path, 0o600)
        try:
            text = self.mnemonic_path.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise KeychainError(f"cannot read {self.mnemonic_path}: {exc}") from exc
        try:
            return normalize_mnemonic(text)
        except ValueError as exc:
            raise KeychainError(f"{self.mnemonic_path} holds no valid key: {exc}") from exc

    def load_master_sk(self) -> PrivateKey:
        return master_sk_from_mnemonic(self.load_mnemonic())

    def farm_keys(self) -> FarmKeys:
        return FarmKeys.from_master(self.load_master_sk())
