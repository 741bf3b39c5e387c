"""The README says what the code does: its integration-test example is the test file CI runs,
its quick start is two commands, and the devnet's ready output it shows is what devnet prints."""

from __future__ import annotations

import re
from pathlib import Path

from trionode.consensus import get_constants
from trionode.devnet.layout import DevnetLayout
from trionode.devnet.network import Devnet

REPO = Path(__file__).resolve().parent.parent
README = (REPO / "README.md").read_text(encoding="utf-8")


def section(title: str) -> str:
    start = README.index(f"\n## {title}\n")
    end = README.find("\n## ", start + 1)
    return README[start : end if end != -1 else None]


def blocks(text: str, language: str = "") -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", text, flags=re.S)


def test_the_integration_example_is_the_test_file_ci_runs() -> None:
    example = REPO / "tests" / "test_operator_readme_example.py"
    python_blocks = blocks(section("Testnets of separate processes"), "python")
    assert example.read_text(encoding="utf-8") in python_blocks
    assert f"`{example.relative_to(REPO)}`" in README


def test_quick_start_is_two_commands() -> None:
    (commands,) = blocks(section("Quick start"), "bash")
    assert commands.splitlines() == [
        "pip install -e . && python -m trionode devnet --root ./devnet --blocks 5",
        "pip install -e '.[test]' && python -m pytest -q",
    ]


def test_devnet_ready_output_is_what_devnet_prints() -> None:
    shown = [b for b in blocks(section("The devnet")) if "devnet: ready:" in b]
    (block,) = shown
    devnet = Devnet(DevnetLayout(Path("/home/me/devnet")), get_constants("devnet"), 2, print)
    printed = "".join(f"devnet: {line}\n" for line in devnet.ready_lines(None))
    assert block == printed


def test_readme_commands_name_existing_flags() -> None:
    """Every ``--flag`` the README writes after ``python -m trionode`` exists (no abbreviations
    are accepted, so a stale flag in the README would fail for a reader)."""
    from trionode.cli import build_parser

    parser = build_parser()
    known: set[str] = set()

    def collect(p: object) -> None:
        for action in p._actions:  # type: ignore[attr-defined]
            known.update(action.option_strings)
            for sub in getattr(action, "choices", None) or {}:
                if isinstance(action.choices, dict):
                    collect(action.choices[sub])

    collect(parser)
    used = set()
    lines = [line for block in blocks(README, r"\w*") for line in block.splitlines()]
    for line in lines:
        if "python -m trionode " in line:
            used.update(re.findall(r"(?<![\w-])(--[a-z][a-z-]*)", line.split("#")[0]))
    assert {"--root", "--node", "--blocks", "--peer", "--db"} <= used
    assert used - known == set()
