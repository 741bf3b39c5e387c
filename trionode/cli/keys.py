"""``python -m trionode keys generate|show``: make and inspect the farm's master key.

``register(subparsers)`` adds the ``keys`` command to the top-level parser; each leaf parser sets
``handler`` (``handler(args) -> exit status``). ``--root`` defaults to ``$TRIONODE_ROOT`` or
``~/.trionode``; it is also accepted before the subcommand when the top-level parser defines it
(the leaf parsers leave it unset when not given, so they never clobber a top-level value).
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path
from typing import Any

from trionode.keys.derive import fingerprint
from trionode.keys.keychain import FarmKeys, Keychain, KeychainError

__all__ = [
    "add_root_argument",
    "cmd_generate",
    "cmd_show",
    "default_root",
    "describe_keys",
    "register",
    "root_from_args",
]

ROOT_ENV = "TRIONODE_ROOT"


def default_root() -> Path:
    env = os.environ.get(ROOT_ENV)
    return Path(env) if env else Path.home() / ".trionode"


def add_root_argument(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--root",
        default=argparse.SUPPRESS,
        metavar="DIR",
        help=f"the node's root directory (default: ${ROOT_ENV} or ~/.trionode)",
    )


def root_from_args(args: argparse.Namespace) -> Path:
    root = getattr(args, "root", None)
    return Path(root).expanduser() if root else default_root()


def register(subparsers: Any) -> argparse.ArgumentParser:
    """Add ``keys generate`` and ``keys show`` to ``subparsers`` (from ``add_subparsers``)."""
    keys = subparsers.add_parser(
        "keys",
        help="create or show the farm's master key (BIP39 mnemonic)",
        description="Create or show the farm's master key. Farmer, pool and plot keys derive "
        "from it; it is stored under ROOT/keys/ readable only by you.",
    )
    commands = keys.add_subparsers(dest="keys_command", metavar="{generate,show}", required=True)

    generate = commands.add_parser(
        "generate",
        help="make a new master key",
        description="Make a new 24-word master key and store it in ROOT/keys/mnemonic.txt "
        "(mode 0600). Refuses to replace an existing key unless --force.",
    )
    add_root_argument(generate)
    generate.add_argument(
        "--force",
        action="store_true",
        help="replace an existing key (plots made with it will no longer be usable)",
    )
    generate.set_defaults(handler=cmd_generate)

    show = commands.add_parser(
        "show",
        help="show public keys, fingerprints and puzzle hashes",
        description="Show the farm's public keys, fingerprints and puzzle hashes. Secrets are "
        "printed only with --show-secrets.",
    )
    add_root_argument(show)
    show.add_argument(
        "--show-secrets",
        action="store_true",
        help="also print the mnemonic and secret keys (anyone who sees them owns the farm)",
    )
    show.set_defaults(handler=cmd_show)
    return keys


def cmd_generate(args: argparse.Namespace) -> int:
    root = root_from_args(args)
    chain = Keychain(root)
    try:
        chain.generate(force=bool(getattr(args, "force", False)))
        keys = chain.farm_keys()
    except (KeychainError, OSError) as exc:
        print(f"trionode keys generate: {exc}", file=sys.stderr)
        return 1
    print(f"generated a new master key, fingerprint {fingerprint(keys.master_sk.get_g1())}")
    print(f"stored in {chain.mnemonic_path} (mode 0600)")
    print(f"back up the mnemonic: python -m trionode keys show --root {root} --show-secrets")
    return 0


def cmd_show(args: argparse.Namespace) -> int:
    root = root_from_args(args)
    chain = Keychain(root)
    try:
        mnemonic = chain.load_mnemonic()
        keys = chain.farm_keys()
    except KeychainError as exc:
        print(f"trionode keys show: {exc}", file=sys.stderr)
        return 1
    for line in describe_keys(keys):
        print(line)
    if getattr(args, "show_secrets", False):
        print(f"master secret key:  {bytes(keys.master_sk).hex()}")
        print(f"farmer secret key:  {bytes(keys.farmer_sk).hex()}")
        print(f"pool secret key:    {bytes(keys.pool_sk).hex()}")
        print(f"mnemonic:           {mnemonic}")
    return 0


def describe_keys(keys: FarmKeys) -> list[str]:
    """The public facts about a farm's keys, one per line (no secrets)."""
    master_pk = keys.master_sk.get_g1()
    return [
        f"master fingerprint: {fingerprint(master_pk)}",
        f"master public key:  {bytes(master_pk).hex()}",
        f"farmer fingerprint: {fingerprint(keys.farmer_pk)}",
        f"farmer public key:  {keys.farmer_pk.hex()}",
        f"farmer puzzle hash: {keys.farmer_puzzle_hash.hex()}",
        f"pool fingerprint:   {fingerprint(keys.pool_pk)}",
        f"pool public key:    {keys.pool_pk.hex()}",
        f"pool puzzle hash:   {keys.pool_puzzle_hash.hex()}",
    ]
