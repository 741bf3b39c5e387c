"""scripts/check_breakages.py stays true to the code it breaks: each breakage's text is in the
tree exactly once and each guard it names exists, so a refactor that moves a ban or a check
fails here (and the breakage must be brought up to date) instead of the script quietly
breaking nothing. One cheap breakage is made end to end, in a scratch copy."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest

REPO = Path(__file__).resolve().parent.parent
SCRIPT = REPO / "scripts" / "check_breakages.py"


def load() -> ModuleType:
    spec = importlib.util.spec_from_file_location("check_breakages", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # attrs resolves the module of its classes
    spec.loader.exec_module(module)
    return module


CHECK = load()


@pytest.mark.parametrize("breakage", CHECK.BREAKAGES, ids=lambda b: b.name)
def test_each_breakage_can_be_made_in_this_tree(breakage) -> None:  # type: ignore[no-untyped-def]
    text = (REPO / breakage.path).read_text()
    assert text.count(breakage.old) == 1, f"{breakage.name}: its text is not in {breakage.path}"
    for guard in breakage.guards:
        path, _, rest = guard.partition("::")
        source = (REPO / path).read_text()
        if rest:
            assert f"def {rest}(" in source, f"{breakage.name}: no test {guard}"


def test_the_names_are_unique_and_the_list_prints() -> None:
    names = [b.name for b in CHECK.BREAKAGES]
    assert len(names) == len(set(names))
    out = subprocess.run(
        [sys.executable, str(SCRIPT), "--list"], capture_output=True, text=True, check=True
    ).stdout
    assert [line.split()[0] for line in out.splitlines()] == names


def test_an_unknown_breakage_is_refused() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", "no-such"], capture_output=True, text=True
    )
    assert proc.returncode == 2
    assert "unknown breakage(s): no-such" in proc.stderr


def test_a_disabled_block_hash_check_is_caught_in_a_scratch_copy() -> None:
    proc = subprocess.run(
        [sys.executable, str(SCRIPT), "--only", "block-hash-unchecked"],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "unbroken tree: every guard passes" in proc.stdout
    assert "test_sync_hashes.py::test_answer_not_in_the_list" in proc.stdout
    assert "every breakage caught" in proc.stdout
