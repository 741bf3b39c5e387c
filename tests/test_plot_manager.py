"""The harvester's plot manager over real k=18 plots: loading, refresh, filter, lookups, signing."""

from __future__ import annotations

import hashlib
import logging
import os
import shutil
from pathlib import Path

import attrs
import pytest
import trio
from blspy import AugSchemeMPL, PrivateKey
from chiapos import Verifier

from tests.conftest import Farm
from trionode.consensus import constants, proofs
from trionode.keys.derive import farmer_sk, master_sk_from_mnemonic, pool_sk
from trionode.plotting.manager import (
    PlotManager,
    QualityHit,
    RefreshResult,
    make_proof_of_space,
    sign_for_plot,
)
from trionode.plotting.plot_info import load_plot
from trionode.plotting.pos import (
    passes_plot_filter,
    plot_filter_input,
    pos_challenge,
    pos_challenge_for,
    quality_for,
)
from trionode.protocols.chain_types import ProofOfSpace
from trionode.protocols.harvester_protocol import RespondPlots
from trionode.testing.block_tools import BlockTools
from trionode.wire import G1Element, bytes32

K = 18
OURS = " ".join(["abandon"] * 23 + ["art"])


@attrs.frozen
class Plots:
    master: PrivateKey
    farmer_pk: G1Element
    pool_pk: G1Element
    ours: list[Path]  # 3 plots of our keys
    foreign: Path  # 1 plot of another farmer and pool


@pytest.fixture(scope="module")
def made(_farm_template: Farm, block_tools: BlockTools) -> Plots:
    """The shared farm's first 3 plots, and a plot of block_tools' keys (other farmer, other
    pool): both made once per session for other tests too."""
    keys = _farm_template.keys
    ours = list(_farm_template.plot_files[:3])
    foreign = block_tools.plots[0].path
    assert bytes(block_tools.farmer_pk) != bytes(keys.farmer_pk)
    assert bytes(block_tools.pool_pk) != bytes(keys.pool_pk)
    return Plots(keys.master_sk, keys.farmer_pk, keys.pool_pk, ours, foreign)


def _copy(paths: list[Path], directory: Path) -> list[Path]:
    directory.mkdir(parents=True, exist_ok=True)
    return [Path(shutil.copy(p, directory / p.name)) for p in paths]


def _copy_atomically(source: Path, directory: Path) -> Path:
    # As plots are made: written under a hidden name, then renamed into place.
    tmp = directory / f".{source.name}.tmp"
    shutil.copy(source, tmp)
    return tmp.rename(directory / source.name)


def _manager(made: Plots, *dirs: Path, **kwargs: object) -> PlotManager:
    return PlotManager(dirs, [made.farmer_pk], [made.pool_pk], **kwargs)  # type: ignore[arg-type]


def _challenge(i: int) -> bytes32:
    return bytes32(hashlib.sha256(b"challenge %d" % i).digest())


# -- pos formulas -----------------------------------------------------------------------------


def test_pos_formulas() -> None:
    plot_id, ch, sp = bytes(range(32)), _challenge(1), _challenge(2)
    f = plot_filter_input(plot_id, ch, sp)
    assert f == hashlib.sha256(plot_id + ch + sp).digest()
    assert pos_challenge(f) == hashlib.sha256(f).digest()
    assert pos_challenge_for(plot_id, ch, sp) == pos_challenge(f)
    assert quality_for(b"a" * 32, b"q" * 32) == hashlib.sha256(b"a" * 32 + b"q" * 32).digest()


@pytest.mark.parametrize(
    ("f", "bits", "passes"),
    [
        (b"\xff" * 32, 0, True),
        (b"\x00" * 32, 256, True),
        (b"\x00" * 31 + b"\x01", 256, False),
        (b"\x00\x7f" + b"\xff" * 30, 9, True),
        (b"\x00\x80" + b"\xff" * 30, 9, False),
        (b"\x01" + b"\x00" * 31, 7, True),
        (b"\x01" + b"\x00" * 31, 8, False),
    ],
)
def test_passes_plot_filter(f: bytes, bits: int, passes: bool) -> None:
    assert passes_plot_filter(f, bits) is passes


def test_passes_plot_filter_rejects_bad_bits() -> None:
    with pytest.raises(ValueError, match="plot filter bits"):
        passes_plot_filter(bytes(32), 257)
    with pytest.raises(ValueError, match="plot filter bits"):
        passes_plot_filter(bytes(32), -1)


def test_pos_formulas_agree_with_consensus() -> None:
    for i in range(50):
        plot_id, ch = _challenge(1000 + i), _challenge(i)
        f = plot_filter_input(plot_id, ch, ch)
        assert f == proofs.plot_filter_input(plot_id, ch, ch)
        assert pos_challenge(f) == proofs.expected_pos_challenge(plot_id, ch)
        for bits in (0, 1, 2, 9):
            assert passes_plot_filter(f, bits) == proofs.passes_plot_filter(f, bits)
        assert quality_for(f, ch) == proofs.quality_for(f, ch)


# -- loading and refresh ----------------------------------------------------------------------


def test_loads_plots_and_lists_bad_and_foreign_files(made: Plots, tmp_path: Path) -> None:
    ours = _copy(made.ours, tmp_path)
    (foreign,) = _copy([made.foreign], tmp_path)
    (tmp_path / "garbage.plot").write_bytes(b"not a plot at all" * 100)
    (tmp_path / "notes.txt").write_text("ignored: not a .plot")
    (tmp_path / ".hidden.plot").write_bytes(b"ignored: hidden")
    (tmp_path / ".plotting-abc").mkdir()  # a plot being made
    shutil.copy(made.ours[0], tmp_path / ".plotting-abc" / "x.plot")

    manager = _manager(made, tmp_path)
    result = manager.refresh()
    assert set(manager.plots) == set(ours)
    assert set(result.added) == {*ours, foreign}
    assert result.failed == (tmp_path / "garbage.plot",)
    assert list(manager.failed_to_open_filenames) == [tmp_path / "garbage.plot"]
    assert "not a readable plot" in manager.failed_to_open_filenames[tmp_path / "garbage.plot"]
    assert list(manager.no_key_filenames) == [foreign]
    assert "farmer key" in manager.no_key_filenames[foreign]

    answer = manager.respond_plots()
    assert isinstance(answer, RespondPlots)
    assert RespondPlots.from_bytes(bytes(answer)) == answer
    assert sorted(p.filename for p in answer.plots) == sorted(str(p) for p in ours)
    assert answer.failed_to_open_filenames == (str(tmp_path / "garbage.plot"),)
    assert answer.no_key_filenames == (str(foreign),)

    info = manager.plots[ours[1]]
    assert manager.plot_by_id(info.plot_id) is info
    assert manager.plot_for_identifier(str(ours[1])) is info
    assert manager.plot_for_identifier(info.plot_id.hex()) is info
    assert manager.plot_for_identifier("nonsense") is None
    assert manager.plot_for_identifier(str(foreign)) is None


def test_pool_key_must_match_too(made: Plots, tmp_path: Path) -> None:
    _copy(made.ours, tmp_path)
    other_pool = pool_sk(master_sk_from_mnemonic(OURS, "x")).get_g1()
    manager = PlotManager([tmp_path], [made.farmer_pk], [other_pool])
    manager.refresh()
    assert manager.plots == {}
    assert all("pool key" in why for why in manager.no_key_filenames.values())
    assert len(manager.no_key_filenames) == 3


def test_keys_set_later_make_plots_usable_without_reloading(made: Plots, tmp_path: Path) -> None:
    ours = _copy(made.ours, tmp_path)
    manager = PlotManager([tmp_path])
    manager.refresh()
    assert manager.plots == {}
    assert set(manager.no_key_filenames) == set(ours)
    manager.set_public_keys([made.farmer_pk], [made.pool_pk.point])
    assert set(manager.plots) == set(ours)
    assert manager.no_key_filenames == {}
    assert manager.refresh() == RefreshResult()  # nothing reloaded


def test_refresh_picks_up_new_removed_changed_and_fixed_files(made: Plots, tmp_path: Path) -> None:
    manager = _manager(made, tmp_path)
    assert manager.refresh() == RefreshResult()
    first, second, third = made.ours
    (a,) = _copy([first], tmp_path)
    assert manager.refresh().added == (a,)
    assert manager.refresh() == RefreshResult()  # unchanged: nothing reloaded
    (b,) = _copy([second], tmp_path)
    a.unlink()
    result = manager.refresh()
    assert result.added == (b,) and result.removed == (a,)
    assert set(manager.plots) == {b}

    # A broken file is listed, not retried until it changes, then loads once fixed.
    broken = tmp_path / third.name
    broken.write_bytes(third.read_bytes()[:1000])
    assert manager.refresh().failed == (broken,)
    assert manager.refresh() == RefreshResult()
    shutil.copy(third, broken)
    assert manager.refresh().added == (broken,)
    assert broken not in manager.failed_to_open_filenames
    assert set(manager.plots) == {b, broken}

    # A loaded plot replaced by garbage moves to the failed list.
    b.write_bytes(b"garbage" * 10)
    assert manager.refresh().failed == (b,)
    assert set(manager.plots) == {broken}
    b.unlink()
    assert manager.refresh().removed == (b,)
    assert manager.failed_to_open_filenames == {}


def test_missing_directory_is_not_fatal(made: Plots, tmp_path: Path, caplog) -> None:
    later = tmp_path / "later"
    manager = _manager(made, later, tmp_path / "also-missing")
    with caplog.at_level(logging.WARNING):
        assert manager.refresh() == RefreshResult()
        manager.refresh()
    assert caplog.text.count("cannot read plot directory") == 2  # once per directory
    _copy(made.ours[:1], later)
    assert len(manager.refresh().added) == 1
    assert len(manager.plots) == 1


def test_duplicate_plots_are_used_once(made: Plots, tmp_path: Path) -> None:
    (a,) = _copy(made.ours[:1], tmp_path / "one")
    dup = tmp_path / "two" / "copy-of-plot.plot"
    dup.parent.mkdir()
    shutil.copy(made.ours[0], dup)
    manager = _manager(made, tmp_path / "one", tmp_path / "two")
    manager.refresh()
    assert list(manager.plots) == [a]
    assert manager.duplicate_filenames == {dup: a}
    hits = manager.lookup_sync(_challenge(3), _challenge(3), 0)
    assert all(hit.plot.path == a for hit in hits)


def test_bad_max_workers(made: Plots, tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="max_workers"):
        _manager(made, tmp_path, max_workers=0)


# -- lookups ----------------------------------------------------------------------------------


async def test_lookup_finds_verifiable_proofs(made: Plots, tmp_path: Path) -> None:
    _copy(made.ours, tmp_path)
    manager = _manager(made, tmp_path, max_workers=2)
    await trio.to_thread.run_sync(manager.refresh)
    verifier = Verifier()
    hits_total = 0
    for i in range(12):
        ch = _challenge(i)
        hits = await manager.lookup(ch, ch, 0)
        assert sorted(hits, key=_key) == sorted(manager.lookup_sync(ch, ch, 0), key=_key)
        # Every plot was asked (filter bits 0) and its answers are exactly chiapos' qualities.
        for info in manager.plots.values():
            pc = pos_challenge(plot_filter_input(info.plot_id, ch, ch))
            mine = [h for h in hits if h.plot is info]
            assert [h.quality_string for h in mine] == info.qualities_for_challenge(pc)
            assert [h.quality_index for h in mine] == list(range(len(mine)))
        for hit in hits:
            assert isinstance(hit, QualityHit)
            plot, pc, index, quality_string = hit  # a plain tuple, too
            assert pc == pos_challenge_for(plot.plot_id, ch, ch)
            assert hit.quality == hashlib.sha256(pc + quality_string).digest()
            proof = await manager.full_proof(plot, pc, index)
            assert verifier.validate_proof(plot.plot_id, K, pc, proof) == quality_string
            pos = await manager.proof_of_space(hit)
            assert isinstance(pos, ProofOfSpace)
            assert pos.proof == proof
            assert pos.get_plot_id() == plot.plot_id
            assert ProofOfSpace.from_bytes(bytes(pos)) == pos
            hits_total += 1
    assert hits_total > 10  # ~1 per plot and challenge


def _key(hit: QualityHit) -> tuple[bytes, int]:
    return (hit.plot.plot_id, hit.quality_index)


async def test_plot_filter_limits_lookups(made: Plots, tmp_path: Path) -> None:
    _copy(made.ours, tmp_path)
    manager = _manager(made, tmp_path)
    manager.refresh()
    asked = 0
    for i in range(64):
        ch, sp = _challenge(i), _challenge(1000 + i)
        passing = manager.passing_plots(ch, sp, 2)
        expected = {
            info.plot_id
            for info in manager.plots.values()
            if plot_filter_input(info.plot_id, ch, sp)[0] >> 6 == 0
        }
        assert {info.plot_id for info, _ in passing} == expected
        hits = await manager.lookup(ch, sp, 2)
        assert {h.plot.plot_id for h in hits} <= expected
        asked += len(expected)
    assert 0 < asked < 64 * 3  # about a quarter pass with 2 bits
    assert await manager.lookup(_challenge(0), _challenge(0), 256) == []


async def test_lookup_skips_a_plot_damaged_after_loading(
    made: Plots, tmp_path: Path, caplog
) -> None:
    good, damaged = _copy(made.ours[:2], tmp_path)
    manager = _manager(made, tmp_path)
    manager.refresh()
    os.truncate(damaged, 2000)  # header intact, tables gone
    seen_good = False
    with caplog.at_level(logging.WARNING):
        for i in range(8):
            hits = await manager.lookup(_challenge(i), _challenge(i), 0)
            assert all(h.plot.path == good for h in hits)
            seen_good = seen_good or bool(hits)
    assert seen_good
    assert "skipping plot in lookup" in caplog.text
    assert str(damaged) in caplog.text
    assert manager.refresh().failed == (damaged,)


def test_sign_for_plot_is_the_harvester_half(made: Plots) -> None:
    info = load_plot(made.ours[0])
    m = hashlib.sha256(b"header data").digest()
    local_pk, half = sign_for_plot(info, m)
    assert local_pk == info.local_pk
    plot_pk = info.plot_public_key.point
    farmer_half = AugSchemeMPL.sign(farmer_sk(made.master), m, plot_pk)
    assert AugSchemeMPL.verify(plot_pk, m, AugSchemeMPL.aggregate([half.point, farmer_half]))
    assert not AugSchemeMPL.verify(plot_pk, m, half.point)
    assert not AugSchemeMPL.verify(local_pk.point, m, half.point)  # bound to the plot key


def test_make_proof_of_space_verifies_with_consensus(made: Plots) -> None:
    info = load_plot(made.ours[0])
    found = 0
    for i in range(10):
        ch = _challenge(i)
        pc = pos_challenge_for(info.plot_id, ch, ch)
        for index, quality_string in enumerate(info.qualities_for_challenge(pc)):
            pos = make_proof_of_space(info, pc, info.full_proof(pc, index))
            assert proofs.pos_quality_string(constants.DEVNET, pos, ch) == quality_string
            found += 1
    assert found > 0


# -- watching ---------------------------------------------------------------------------------


async def test_watch_reports_new_and_removed_plots(made: Plots, tmp_path: Path) -> None:
    manager = _manager(made, tmp_path)
    send, receive = trio.open_memory_channel[RefreshResult](10)
    with trio.fail_after(20):
        async with trio.open_nursery() as nursery:
            first = await nursery.start(
                lambda task_status: manager.watch(
                    0.05, on_change=send.send_nowait, task_status=task_status
                )
            )
            assert first == RefreshResult()
            a = await trio.to_thread.run_sync(_copy_atomically, made.ours[0], tmp_path)
            assert (await receive.receive()).added == (a,)
            assert list(manager.plots) == [a]
            a.unlink()
            assert (await receive.receive()).removed == (a,)
            assert manager.plots == {}
            nursery.cancel_scope.cancel()
