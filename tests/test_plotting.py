"""Plot memo, creation with chiapos (real k=18 plots) and loading, including corrupt files."""

from __future__ import annotations

import hashlib
import random
from pathlib import Path

import attrs
import pytest
from blspy import AugSchemeMPL, PrivateKey
from chiapos import Verifier

from trionode.keys.derive import (
    farmer_sk,
    local_master_sk_for_plot,
    master_sk_from_mnemonic,
    plot_local_sk,
    plot_public_key,
    pool_sk,
)
from trionode.plotting.create import PlotCreateError, create_plot, ensure_plots, planned_plot
from trionode.plotting.memo import (
    MEMO_SIZE,
    make_memo,
    parse_memo,
    plot_filename,
    plot_id_for,
)
from trionode.plotting.plot_info import PlotError, PlotInfo, load_plot
from trionode.protocols.harvester_protocol import Plot
from trionode.wire import G1Element

MNEMONIC = " ".join(["abandon"] * 23 + ["art"])
K = 18


@attrs.frozen
class Farm:
    master: PrivateKey
    farmer_pk: G1Element
    pool_pk: G1Element
    plot_dir: Path
    plots: list[Path]


@pytest.fixture(scope="module")
def farm(tmp_path_factory: pytest.TempPathFactory) -> Farm:
    master = master_sk_from_mnemonic(MNEMONIC)
    farmer_pk = G1Element(farmer_sk(master).get_g1())
    pool_pk = G1Element(pool_sk(master).get_g1())
    plot_dir = tmp_path_factory.mktemp("plots")
    plots = ensure_plots(plot_dir, K, 2, farmer_pk, pool_pk, master)
    return Farm(master, farmer_pk, pool_pk, plot_dir, plots)


def _keys() -> tuple[G1Element, G1Element, PrivateKey]:
    master = master_sk_from_mnemonic(MNEMONIC)
    return (
        G1Element(pool_sk(master).get_g1()),
        G1Element(farmer_sk(master).get_g1()),
        local_master_sk_for_plot(master, 9),
    )


def test_memo_round_trip() -> None:
    pool, farmer, local_master = _keys()
    memo = make_memo(pool, farmer, local_master)
    assert len(memo) == MEMO_SIZE == 128
    assert memo == make_memo(pool.point, bytes(farmer), local_master)
    parsed = parse_memo(memo)
    assert parsed.pool_public_key == pool
    assert parsed.farmer_public_key == farmer
    assert bytes(parsed.local_master_sk) == bytes(local_master)
    assert bytes(local_master).hex() not in repr(parsed)


@pytest.mark.parametrize(
    ("mangle", "reason"),
    [
        (lambda m: m[:-1], "must be 128 or 112 bytes, got 127"),
        (lambda m: m + b"\x00", "must be 128 or 112 bytes, got 129"),
        (lambda m: b"\x00" * 48 + m[48:], "bad pool public key"),
        (lambda m: m[:48] + b"\x01" * 48 + m[96:], "bad farmer public key"),
        (lambda m: m[:96] + b"\xff" * 32, "bad local master secret"),
    ],
)
def test_parse_memo_rejects_bad_memos(mangle, reason: str) -> None:
    memo = make_memo(*_keys())
    with pytest.raises(ValueError, match=reason):
        parse_memo(mangle(memo))


def test_plot_id_and_filename() -> None:
    pool, farmer, local_master = _keys()
    plot_pk = plot_public_key(plot_local_sk(local_master).get_g1(), farmer)
    plot_id = plot_id_for(pool, plot_pk)
    assert plot_id == hashlib.sha256(bytes(pool) + bytes(plot_pk)).digest()
    assert plot_filename(18, plot_id) == f"plot-k18-{plot_id.hex()}.plot"
    assert planned_plot(18, farmer, pool, local_master)[:2] == (plot_id, plot_filename(18, plot_id))


def test_created_plots_load_and_match_their_keys(farm: Farm) -> None:
    master = farm.master
    assert len(farm.plots) == 2
    for index, path in enumerate(farm.plots):
        info = load_plot(path)
        local_master = local_master_sk_for_plot(master, index)
        local_sk = plot_local_sk(local_master)
        assert info.k == K
        assert info.path == path
        assert info.farmer_public_key == farm.farmer_pk
        assert info.pool_public_key == farm.pool_pk
        assert bytes(info.memo.local_master_sk) == bytes(local_master)
        assert bytes(info.local_sk) == bytes(local_sk)
        assert info.local_pk == local_sk.get_g1()
        assert info.plot_public_key == local_sk.get_g1() + farm.farmer_pk.point
        assert info.plot_id == plot_id_for(farm.pool_pk, info.plot_public_key)
        assert path.name == plot_filename(K, info.plot_id)
        assert info.file_size == path.stat().st_size > 1_000_000
        assert bytes(local_sk).hex() not in repr(info)
    # No temporary work directories or half-written files are left behind.
    assert sorted(p.name for p in farm.plot_dir.iterdir()) == sorted(p.name for p in farm.plots)


def test_proofs_verify_and_qualities_match(farm: Farm) -> None:
    info = load_plot(farm.plots[0])
    verifier = Verifier()
    proofs = 0
    for i in range(40):
        challenge = hashlib.sha256(b"challenge %d" % i).digest()
        qualities = info.qualities_for_challenge(challenge)
        for index, quality in enumerate(qualities):
            proof = info.full_proof(challenge, index)
            assert len(proof) == 8 * K
            assert verifier.validate_proof(info.plot_id, K, challenge, proof) == quality
            # The proof is bound to its plot and challenge.
            other = hashlib.sha256(challenge).digest()
            assert verifier.validate_proof(info.plot_id, K, other, proof) is None
            proofs += 1
    assert proofs > 0  # ~1 quality per challenge on average


def test_two_of_two_signature_with_a_loaded_plot(farm: Farm) -> None:
    info = load_plot(farm.plots[1])
    m = hashlib.sha256(b"header").digest()
    harvester = AugSchemeMPL.sign(info.local_sk, m, info.plot_public_key.point)
    farmer = AugSchemeMPL.sign(farmer_sk(farm.master), m, info.plot_public_key.point)
    assert AugSchemeMPL.verify(
        info.plot_public_key.point, m, AugSchemeMPL.aggregate([harvester, farmer])
    )
    assert not AugSchemeMPL.verify(info.plot_public_key.point, m, harvester)


def test_plot_message(farm: Farm) -> None:
    info = load_plot(farm.plots[0])
    msg = info.to_plot_message()
    assert isinstance(msg, Plot)
    assert Plot.from_bytes(bytes(msg)) == msg
    assert msg.filename == str(farm.plots[0])
    assert msg.size == K
    assert msg.plot_id == info.plot_id
    assert msg.pool_public_key == farm.pool_pk
    assert msg.pool_contract_puzzle_hash is None
    assert msg.plot_public_key == info.plot_public_key
    assert msg.file_size == info.file_size
    assert msg.time_modified == int(info.time_modified)


def test_ensure_plots_reuses_existing_plots(farm: Farm) -> None:
    before = {p: p.stat().st_mtime_ns for p in farm.plots}
    seen: list[tuple[int, float]] = []
    again = ensure_plots(
        farm.plot_dir,
        K,
        2,
        farm.farmer_pk,
        farm.pool_pk,
        farm.master,
        progress=lambda i, f: seen.append((i, f)),
    )
    assert again == farm.plots
    assert {p: p.stat().st_mtime_ns for p in again} == before
    assert seen == [(0, 1.0), (1, 1.0)]


def test_create_plot_in_separate_tmp_dir_reports_progress(farm: Farm, tmp_path: Path) -> None:
    final_dir = tmp_path / "final"
    tmp_dir = tmp_path / "tmp"
    tmp_dir.mkdir()
    local_master = local_master_sk_for_plot(farm.master, 0)
    fractions: list[float] = []
    path = create_plot(
        final_dir,
        K,
        farm.farmer_pk,
        farm.pool_pk,
        local_master,
        tmp_dir=tmp_dir,
        progress=fractions.append,
    )
    # Same keys and index, same plot id and file name (deterministic plotting).
    assert path.name == farm.plots[0].name
    assert load_plot(path).plot_id == load_plot(farm.plots[0]).plot_id
    assert fractions[-1] == 1.0
    assert len(fractions) > 5
    assert fractions == sorted(fractions)
    assert list(tmp_dir.iterdir()) == []
    assert list(final_dir.iterdir()) == [path]


@pytest.mark.parametrize("k", [17, 0, 51])
def test_create_plot_refuses_bad_k(tmp_path: Path, k: int) -> None:
    pool, farmer, local_master = _keys()
    with pytest.raises(PlotCreateError, match=f"k={k} is out of range"):
        create_plot(tmp_path, k, farmer, pool, local_master)
    assert list(tmp_path.iterdir()) == []


def test_ensure_plots_rejects_negative_count(tmp_path: Path) -> None:
    pool, farmer, _ = _keys()
    with pytest.raises(ValueError, match="number of plots"):
        ensure_plots(tmp_path, K, -1, farmer, pool, master_sk_from_mnemonic(MNEMONIC))


def _corrupt_copies(source: Path, where: Path) -> dict[str, Path]:
    data = source.read_bytes()
    files = {
        "empty": b"",
        "header only": data[:100],
        "truncated": data[: len(data) // 2],
        "random": random.Random(1).randbytes(100_000),
    }
    # A valid plot whose memo names another farmer key: its plot id no longer matches.
    memo_at = data.index(bytes(load_plot(source).memo.farmer_public_key))
    other_pk = bytes(farmer_sk(master_sk_from_mnemonic(MNEMONIC, "x")).get_g1())
    files["foreign memo"] = data[:memo_at] + other_pk + data[memo_at + 48 :]
    paths = {}
    for name, content in files.items():
        path = where / f"{name.replace(' ', '-')}.plot"
        path.write_bytes(content)
        paths[name] = path
    paths["directory"] = where / "dir.plot"
    paths["directory"].mkdir()
    paths["missing"] = where / "missing.plot"
    return paths


@pytest.mark.parametrize(
    ("name", "reason"),
    [
        ("empty", "not a readable plot"),
        ("header only", "not a readable plot"),
        ("truncated", "not a readable plot"),
        ("random", "not a readable plot"),
        ("foreign memo", "does not match its memo's keys"),
        ("directory", "not a regular file"),
        ("missing", "cannot stat"),
    ],
)
def test_corrupt_files_raise_plot_error(farm: Farm, tmp_path: Path, name: str, reason: str) -> None:
    path = _corrupt_copies(farm.plots[0], tmp_path)[name]
    with pytest.raises(PlotError, match=reason) as info:
        load_plot(path)
    assert str(path) in str(info.value)


def test_damaged_plot_body_fails_lookups_with_plot_error(farm: Farm, tmp_path: Path) -> None:
    data = bytearray(farm.plots[0].read_bytes())
    middle = len(data) // 2
    data[middle : middle + 400_000] = random.Random(5).randbytes(400_000)  # deterministic
    path = tmp_path / "damaged.plot"
    path.write_bytes(bytes(data))
    info: PlotInfo = load_plot(path)  # the header is intact
    verifier = Verifier()
    failures = bad_proofs = 0
    for i in range(60):
        challenge = hashlib.sha256(b"damaged %d" % i).digest()
        try:
            for index, quality in enumerate(info.qualities_for_challenge(challenge)):
                proof = info.full_proof(challenge, index)
                if verifier.validate_proof(info.plot_id, K, challenge, proof) != quality:
                    bad_proofs += 1
        except PlotError as exc:
            assert str(path) in str(exc)
            failures += 1
    assert failures + bad_proofs > 0


# -- CLI: python -m trionode plots create|check -------------------------------------------------


def _run_cli(argv: list[str]) -> int:
    import argparse

    from trionode.cli import plots as plots_cli

    parser = argparse.ArgumentParser(prog="python -m trionode")
    parser.add_argument("--root")  # as the top-level parser has them
    parser.add_argument("--network")
    plots_cli.register(parser.add_subparsers(dest="command"))
    args = parser.parse_args(argv)
    return int(args.handler(args))


def _root_with_keys(tmp_path: Path, mnemonic: str = MNEMONIC) -> Path:
    from trionode.keys.keychain import Keychain

    root = tmp_path / "root"
    Keychain(root).add_mnemonic(mnemonic)
    return root


def test_cli_create_reuses_and_extends(farm: Farm, tmp_path: Path, capsys) -> None:
    root = _root_with_keys(tmp_path)
    plot_dir = tmp_path / "plots"
    plot_dir.mkdir()
    for p in farm.plots:  # plots 0 and 1 of the same key
        (plot_dir / p.name).write_bytes(p.read_bytes())
    argv = ["plots", "create", "-k", "18", "-n", "3", "--dir", str(plot_dir), "--root", str(root)]
    assert _run_cli(argv) == 0
    out = capsys.readouterr().out
    assert "3 plots of k=18" in out and "(1 created, 2 already there)" in out
    # Not a terminal: plain progress lines with an ETA.
    assert "plot 3/3: 100% (overall 100%" in out and "ETA" in out
    names = sorted(p.name for p in plot_dir.iterdir())
    assert len(names) == 3
    third = local_master_sk_for_plot(farm.master, 2)
    assert planned_plot(K, farm.farmer_pk, farm.pool_pk, third)[1] in names
    assert _run_cli(argv) == 0
    assert "(0 created, 3 already there)" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        (["-k", "17"], "k=17 is below the devnet minimum plot size k=18"),
        (["-k", "24", "--network", "testnet"], "k=24 is below the testnet minimum plot size k=25"),
        (["--network", "testnet"], None),  # default k is the network minimum: checked below
        (["-k", "17", "--network", "sim"], "k=17 is below the sim minimum plot size k=18"),
        (["-k", "99"], "above the devnet maximum"),
    ],
)
def test_cli_create_refuses_bad_k(
    tmp_path: Path, capsys, flags: list[str], message: str | None
) -> None:
    root = tmp_path / "no-keys-needed"
    argv = ["plots", "create", *flags, "--dir", str(tmp_path / "p"), "--root", str(root)]
    if message is None:
        # k=25 passes the check; it fails next only because this root has no keys.
        assert _run_cli(argv) == 1
        assert "no keys in" in capsys.readouterr().err
    else:
        assert _run_cli(argv) == 2
        assert message in capsys.readouterr().err
    assert not (tmp_path / "p").exists()


def test_cli_network_from_top_level_flag(tmp_path: Path, capsys) -> None:
    argv = ["--network", "testnet", "plots", "create", "-k", "20", "--dir", str(tmp_path)]
    assert _run_cli(argv) == 2
    assert "below the testnet minimum" in capsys.readouterr().err


def test_cli_create_without_keys(tmp_path: Path, capsys) -> None:
    argv = ["plots", "create", "--dir", str(tmp_path / "p"), "--root", str(tmp_path)]
    assert _run_cli(argv) == 1
    assert "run `python -m trionode keys generate --root" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["plots"], "required: {create,check}"),
        (["plots", "create", "-n", "2"], "required: --dir"),
        (["plots", "create", "--dir", "d", "-n", "0"], "must be at least 1, got 0"),
        (["plots", "create", "--dir", "d", "-k", "big"], "invalid int value: 'big'"),
        (["plots", "create", "--dir", "d", "--network", "main"], "invalid choice: 'main'"),
        (["plots", "check", "--dir", "d", "-c", "x"], "not an integer: 'x'"),
    ],
)
def test_cli_bad_flags(argv: list[str], message: str, capsys) -> None:
    with pytest.raises(SystemExit) as exit_info:
        _run_cli(argv)
    assert exit_info.value.code == 2
    assert message in capsys.readouterr().err


def test_cli_check_without_a_directory(capsys) -> None:
    assert _run_cli(["plots", "check"]) == 2
    assert "name the plot directories" in capsys.readouterr().err


@pytest.mark.parametrize("form", ["--dir", "positional"])
def test_cli_check_good_plots(farm: Farm, tmp_path: Path, capsys, form: str) -> None:
    root = _root_with_keys(tmp_path)
    where = [str(farm.plot_dir)] if form == "positional" else ["--dir", str(farm.plot_dir)]
    argv = ["plots", "check", *where, "--seed", "s", "--root", str(root)]
    assert _run_cli(argv) == 0
    out = capsys.readouterr().out
    for p in farm.plots:
        assert f"OK   {p}  k=18" in out
    assert "2 plots checked: 2 good, 0 bad" in out


def test_cli_check_reports_bad_plots(farm: Farm, tmp_path: Path, capsys) -> None:
    bad_dir = tmp_path / "bad"
    bad_dir.mkdir()
    data = farm.plots[0].read_bytes()
    (bad_dir / "truncated.plot").write_bytes(data[:1000])
    damaged = bytearray(data)
    damaged[len(data) // 2 : len(data) // 2 + 400_000] = random.Random(5).randbytes(400_000)
    (bad_dir / "damaged.plot").write_bytes(bytes(damaged))
    (bad_dir / farm.plots[1].name).write_bytes(farm.plots[1].read_bytes())
    argv = ["plots", "check", "--dir", str(bad_dir), "--seed", "s"]
    assert _run_cli(argv) == 1
    out = capsys.readouterr().out
    assert f"BAD  {bad_dir / 'truncated.plot'}  not a readable plot" in out
    assert f"BAD  {bad_dir / 'damaged.plot'}" in out
    assert "lookups failed or gave proofs that do not verify" in out
    assert f"OK   {bad_dir / farm.plots[1].name}" in out
    assert "3 plots checked: 1 good, 2 bad" in out


def test_cli_check_foreign_keys_with_root(farm: Farm, tmp_path: Path, capsys) -> None:
    other_root = _root_with_keys(tmp_path, " ".join(["zoo"] * 23 + ["vote"]))
    argv = ["plots", "check", "--dir", str(farm.plot_dir), "-c", "3", "--root", str(other_root)]
    assert _run_cli(argv) == 1
    out = capsys.readouterr().out
    assert "its farmer key is not this root's; its pool key is not this root's" in out


def test_cli_check_empty_and_missing_dirs(tmp_path: Path, capsys) -> None:
    assert _run_cli(["plots", "check", "--dir", str(tmp_path)]) == 1
    assert "no *.plot files in" in capsys.readouterr().err
    assert _run_cli(["plots", "check", "--dir", str(tmp_path / "missing")]) == 1
    assert "cannot read" in capsys.readouterr().err


@pytest.mark.slow
def test_cli_end_to_end_via_python_m(tmp_path: Path) -> None:
    import subprocess
    import sys
    from concurrent.futures import ThreadPoolExecutor

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "trionode", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    root, plots = str(tmp_path / "root"), str(tmp_path / "plots")
    assert run("keys", "generate", "--root", root).returncode == 0
    # Each command is a process of its own: those that need only the keys run at once.
    with ThreadPoolExecutor(4) as pool:
        shown_f = pool.submit(run, "keys", "show", "--root", root)
        made_f = pool.submit(
            run, "plots", "create", "-k", "18", "-n", "1", "--dir", plots, "--root", root
        )
        refused_f = pool.submit(
            run, "plots", "create", "-k", "18", "--network", "testnet", "--dir", plots
        )
        bad_flag_f = pool.submit(run, "plots", "create", "--dir", plots, "-n", "zero")
        shown, made, refused, bad_flag = (
            f.result() for f in (shown_f, made_f, refused_f, bad_flag_f)
        )
    assert shown.returncode == 0 and "farmer public key" in shown.stdout
    assert made.returncode == 0, made.stderr
    assert "(1 created, 0 already there)" in made.stdout
    checked = run("plots", "check", "--dir", plots, "--root", root)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert "1 plots checked: 1 good, 0 bad" in checked.stdout
    assert refused.returncode == 2 and "testnet minimum plot size k=25" in refused.stderr
    assert bad_flag.returncode == 2 and "-n/--num" in bad_flag.stderr
