"""Key derivation and the on-disk keychain."""

from __future__ import annotations

import hashlib
import stat

import pytest
from blspy import AugSchemeMPL, G1Element, PrivateKey

from trionode.keys.derive import (
    as_g1,
    farmer_sk,
    fingerprint,
    generate_mnemonic,
    local_master_sk_for_plot,
    master_sk_from_mnemonic,
    plot_local_sk,
    plot_public_key,
    pool_sk,
    puzzle_hash_for_pk,
)
from trionode.keys.keychain import FarmKeys, Keychain, KeychainError
from trionode.wire import G1Element as WireG1

# The BIP39 test mnemonic (all "abandon" + "art"): valid checksum, fixed keys.
FIXED = " ".join(["abandon"] * 23 + ["art"])


def test_generate_mnemonic_is_24_valid_words() -> None:
    words = generate_mnemonic().split()
    assert len(words) == 24
    master_sk_from_mnemonic(" ".join(words))  # valid checksum
    assert generate_mnemonic() != generate_mnemonic()


def test_derivation_is_deterministic_and_paths_differ() -> None:
    a = master_sk_from_mnemonic(FIXED)
    b = master_sk_from_mnemonic("  " + FIXED.upper().replace(" ", "\n") + " ")
    assert bytes(a) == bytes(b)
    assert bytes(master_sk_from_mnemonic(FIXED, "secret")) != bytes(a)
    keys = [
        farmer_sk(a),
        pool_sk(a),
        local_master_sk_for_plot(a, 0),
        local_master_sk_for_plot(a, 1),
        plot_local_sk(local_master_sk_for_plot(a, 0)),
    ]
    assert len({bytes(k) for k in keys}) == len(keys)
    assert bytes(farmer_sk(a)) == bytes(farmer_sk(b))
    assert bytes(local_master_sk_for_plot(a, 7)) == bytes(local_master_sk_for_plot(b, 7))


def test_derivation_paths_are_pinned() -> None:
    # Changing a path would orphan every existing plot and wallet: pin the derived keys.
    master = master_sk_from_mnemonic(FIXED)
    expected_master = AugSchemeMPL.key_gen(
        hashlib.pbkdf2_hmac("sha512", FIXED.encode(), b"mnemonic", 2048)
    )
    assert bytes(master) == bytes(expected_master)
    manual = master
    for i in (12381, 8444, 0, 0):
        manual = AugSchemeMPL.derive_child_sk(manual, i)
    assert bytes(farmer_sk(master)) == bytes(manual)
    manual = master
    for i in (12381, 8444, 1, 0):
        manual = AugSchemeMPL.derive_child_sk(manual, i)
    assert bytes(pool_sk(master)) == bytes(manual)
    manual = master
    for i in (12381, 8444, 3, 5):
        manual = AugSchemeMPL.derive_child_sk(manual, i)
    assert bytes(local_master_sk_for_plot(master, 5)) == bytes(manual)
    assert bytes(plot_local_sk(manual)) == bytes(AugSchemeMPL.derive_child_sk(manual, 0))


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("", "expected 24 words, got 0"),
        (" ".join(["abandon"] * 12), "expected 24 words, got 12"),
        (" ".join(["abandon"] * 23 + ["notaword"]), "not BIP39 English words: notaword"),
        (" ".join(["abandon"] * 24), "checksum"),
    ],
)
def test_invalid_mnemonic_is_a_clear_value_error(text: str, reason: str) -> None:
    with pytest.raises(ValueError, match=reason):
        master_sk_from_mnemonic(text)


def test_plot_index_out_of_range() -> None:
    master = master_sk_from_mnemonic(FIXED)
    with pytest.raises(ValueError, match="plot index"):
        local_master_sk_for_plot(master, -1)
    with pytest.raises(ValueError, match="plot index"):
        local_master_sk_for_plot(master, 2**32)


def test_two_of_two_plot_signature() -> None:
    master = master_sk_from_mnemonic(FIXED)
    f_sk = farmer_sk(master)
    local_sk = plot_local_sk(local_master_sk_for_plot(master, 0))
    plot_pk = plot_public_key(local_sk.get_g1(), WireG1(f_sk.get_g1()))
    assert isinstance(plot_pk, G1Element)
    assert plot_pk == local_sk.get_g1() + f_sk.get_g1()
    m = hashlib.sha256(b"header data").digest()
    harvester_half = AugSchemeMPL.sign(local_sk, m, plot_pk)
    farmer_half = AugSchemeMPL.sign(f_sk, m, plot_pk)
    both = AugSchemeMPL.aggregate([harvester_half, farmer_half])
    assert AugSchemeMPL.verify(plot_pk, m, both)
    assert not AugSchemeMPL.verify(plot_pk, m, harvester_half)
    assert not AugSchemeMPL.verify(plot_pk, m, farmer_half)
    assert not AugSchemeMPL.verify(plot_pk, hashlib.sha256(b"other").digest(), both)


def test_puzzle_hash_and_key_conversions() -> None:
    pk = farmer_sk(master_sk_from_mnemonic(FIXED)).get_g1()
    assert puzzle_hash_for_pk(pk) == hashlib.sha256(bytes(pk)).digest()
    assert puzzle_hash_for_pk(WireG1(pk)) == puzzle_hash_for_pk(bytes(pk))
    assert fingerprint(pk) == pk.get_fingerprint()
    with pytest.raises(ValueError, match="invalid public key"):
        as_g1(b"\x00" * 48)
    with pytest.raises(TypeError):
        as_g1(12)


def test_keychain_generate_and_load(tmp_path) -> None:
    chain = Keychain(tmp_path)
    assert not chain.exists()
    mnemonic = chain.generate()
    assert chain.exists()
    assert stat.S_IMODE(chain.mnemonic_path.stat().st_mode) == 0o600
    assert stat.S_IMODE(chain.keys_dir.stat().st_mode) == 0o700
    assert chain.load_mnemonic() == mnemonic
    master = chain.load_master_sk()
    assert bytes(master) == bytes(master_sk_from_mnemonic(mnemonic))
    keys = chain.farm_keys()
    assert keys == FarmKeys.from_master(master)
    assert keys.farmer_pk == farmer_sk(master).get_g1()
    assert keys.pool_pk == pool_sk(master).get_g1()
    assert keys.farmer_puzzle_hash == puzzle_hash_for_pk(keys.farmer_pk)
    assert keys.pool_puzzle_hash == puzzle_hash_for_pk(keys.pool_pk)
    # No secret in the repr (it ends up in logs).
    text = repr(keys)
    for secret in (keys.master_sk, keys.farmer_sk, keys.pool_sk):
        assert bytes(secret).hex() not in text
    assert not list(chain.keys_dir.glob(".*tmp"))


def test_keychain_refuses_to_overwrite(tmp_path) -> None:
    chain = Keychain(tmp_path)
    first = chain.generate()
    with pytest.raises(KeychainError, match="refusing to overwrite"):
        chain.generate()
    assert chain.load_mnemonic() == first
    second = chain.generate(force=True)
    assert second != first
    assert chain.load_mnemonic() == second


def test_keychain_add_existing_mnemonic(tmp_path) -> None:
    chain = Keychain(tmp_path)
    with pytest.raises(ValueError, match="invalid mnemonic"):
        chain.add_mnemonic("hello world")
    assert not chain.exists()
    chain.add_mnemonic(FIXED)
    assert bytes(chain.load_master_sk()) == bytes(master_sk_from_mnemonic(FIXED))


def test_keychain_missing_key_says_what_to_do(tmp_path) -> None:
    with pytest.raises(KeychainError, match=r"no keys in .*python -m trionode keys generate"):
        Keychain(tmp_path).load_master_sk()


def test_keychain_corrupt_file(tmp_path) -> None:
    chain = Keychain(tmp_path)
    chain.generate()
    chain.mnemonic_path.write_text("abandon abandon\n")
    with pytest.raises(KeychainError, match="holds no valid key"):
        chain.load_master_sk()
    chain.mnemonic_path.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(KeychainError, match="cannot read"):
        chain.load_master_sk()


def test_keychain_tightens_loose_permissions(tmp_path, caplog) -> None:
    chain = Keychain(tmp_path)
    chain.generate()
    chain.mnemonic_path.chmod(0o644)
    chain.load_master_sk()
    assert stat.S_IMODE(chain.mnemonic_path.stat().st_mode) == 0o600
    assert "readable by others" in caplog.text


def test_private_key_bytes_roundtrip() -> None:
    sk = farmer_sk(master_sk_from_mnemonic(FIXED))
    assert bytes(PrivateKey.from_bytes(bytes(sk))) == bytes(sk)


# -- CLI: python -m trionode keys generate|show -------------------------------------------------


def _run_cli(argv: list[str]) -> int:
    import argparse

    from trionode.cli import keys as keys_cli

    parser = argparse.ArgumentParser(prog="python -m trionode")
    parser.add_argument("--root")  # as the top-level parser has it
    keys_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def test_cli_generate_and_show(tmp_path, capsys) -> None:
    root = tmp_path / "root"
    assert _run_cli(["keys", "generate", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    chain = Keychain(root)
    mnemonic = chain.load_mnemonic()
    assert mnemonic.split()[0] not in out.split()  # the words are not printed
    assert str(chain.mnemonic_path) in out
    keys = chain.farm_keys()

    assert _run_cli(["keys", "show", "--root", str(root)]) == 0
    out = capsys.readouterr().out
    assert keys.farmer_pk.hex() in out
    assert keys.pool_pk.hex() in out
    assert keys.farmer_puzzle_hash.hex() in out
    assert keys.pool_puzzle_hash.hex() in out
    assert str(fingerprint(keys.farmer_pk)) in out
    for secret in (keys.master_sk, keys.farmer_sk, keys.pool_sk):
        assert bytes(secret).hex() not in out
    assert mnemonic not in out

    # --root before the subcommand (top-level flag) works too.
    assert _run_cli(["--root", str(root), "keys", "show", "--show-secrets"]) == 0
    out = capsys.readouterr().out
    assert mnemonic in out
    assert bytes(keys.farmer_sk).hex() in out


def test_cli_generate_refuses_overwrite_unless_forced(tmp_path, capsys) -> None:
    assert _run_cli(["keys", "generate", "--root", str(tmp_path)]) == 0
    first = Keychain(tmp_path).load_mnemonic()
    assert _run_cli(["keys", "generate", "--root", str(tmp_path)]) == 1
    assert "refusing to overwrite" in capsys.readouterr().err
    assert Keychain(tmp_path).load_mnemonic() == first
    assert _run_cli(["keys", "generate", "--force", "--root", str(tmp_path)]) == 0
    assert Keychain(tmp_path).load_mnemonic() != first


def test_cli_show_without_keys(tmp_path, capsys) -> None:
    assert _run_cli(["keys", "show", "--root", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert f"no keys in {tmp_path}: run `python -m trionode keys generate --root {tmp_path}`" in err


def test_cli_default_root_from_environment(tmp_path, capsys, monkeypatch) -> None:
    monkeypatch.setenv("TRIONODE_ROOT", str(tmp_path / "env-root"))
    assert _run_cli(["keys", "generate"]) == 0
    assert Keychain(tmp_path / "env-root").exists()


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["keys"], "required: {generate,show}"),
        (["keys", "delete"], "invalid choice: 'delete'"),
        (["keys", "show", "--secrets"], "unrecognized arguments: --secrets"),
        (["keys", "generate", "--root"], "expected one argument"),
    ],
)
def test_cli_bad_flags(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run_cli(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err
