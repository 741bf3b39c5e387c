"""The command line: logging flags, flags that fall to config.yaml, the testnet subcommand's
usage errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from trionode.cli import build_parser, main


def test_logging_flags() -> None:
    args = build_parser().parse_args(["--role", "full_node", "--log-level", "debug"])
    assert args.log_level == "DEBUG"
    assert args.log_format is None  # not given: config.yaml decides
    args = build_parser().parse_args(["--role", "full_node", "--log-format", "json"])
    assert args.log_format == "json" and args.log_level is None


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["--role", "full_node", "--log-format", "xml"], "invalid choice: 'xml'"),
        (["--role", "full_node", "--log-level", "loud"], "invalid choice: 'LOUD'"),
        (["--role", "full_node", "--metrics-port", "x"], "invalid int value: 'x'"),
        (["testnet", "--topology", "ring"], "invalid choice: 'ring'"),
        (["testnet", "--nodes", "0"], "must be at least 1, got 0"),
    ],
)
def test_bad_flags_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as info:
        main(argv)
    assert info.value.code == 2
    assert message in capsys.readouterr().err


def test_testnet_usage_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    root = str(tmp_path / "tn")
    assert main(["testnet", "--root", root, "--split", "n0/n1"]) == 2
    assert "--split needs --blocks" in capsys.readouterr().err
    assert main(["testnet", "--root", root, "--blocks", "2", "--split", "n0"]) == 2
    assert "at least two non-empty groups" in capsys.readouterr().err
    assert main(["--network", "mainnet", "testnet", "--root", root]) == 2
    assert "unknown network 'mainnet'" in capsys.readouterr().err
    assert not (tmp_path / "tn").exists()  # nothing was set up
