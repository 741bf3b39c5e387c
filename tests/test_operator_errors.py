"""Operator errors are one ``trionode:`` line naming the flag, file or port, with the exit code
of the README's table (1: could not start; 2: a flag or value to fix), and never a traceback.

Each case runs ``python -m trionode`` as a real process, as an operator would.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import textwrap
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from trionode.config import unknown_env_names

TIMEOUT = 120


def run(*args: str, env: dict[str, str] | None = None) -> tuple[int, str]:
    """Run ``python -m trionode ARGS``; (exit code, stdout + stderr)."""
    proc = subprocess.run(
        [sys.executable, "-m", "trionode", *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        timeout=TIMEOUT,
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
    )
    assert "Traceback" not in proc.stdout, proc.stdout
    return proc.returncode, proc.stdout


def run_all(*commands: list[str]) -> list[tuple[int, str]]:
    """:func:`run` for each command, all at once (each is a process start)."""
    with ThreadPoolExecutor(len(commands)) as pool:
        return list(pool.map(lambda args: run(*args), commands))


def trionode_lines(output: str) -> list[str]:
    return [line for line in output.splitlines() if line.startswith("trionode: ")]


@pytest.fixture
def busy_port() -> Iterator[int]:
    """A port on 127.0.0.1 that a listening socket holds."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        sock.listen(1)
        yield sock.getsockname()[1]


def test_root_naming_a_file(tmp_path: Path) -> None:
    afile = tmp_path / "afile"
    afile.write_text("x")
    (code, out), (code_sub, out_sub) = run_all(
        ["--role", "full_node", "--root", str(afile)],
        ["--role", "full_node", "--root", str(afile / "sub")],
    )
    assert code == 2
    assert trionode_lines(out) == [f"trionode: --root {afile}: is a file, not a directory"]
    code, out = code_sub, out_sub
    assert code == 2
    assert f"--root {afile / 'sub'}: is under {afile}, which is a file" in out


@pytest.mark.parametrize(
    ("flag", "what"), [("--rpc-port", "RPC port"), ("--metrics-port", "metrics port")]
)
def test_busy_rpc_and_metrics_port(tmp_path: Path, busy_port: int, flag: str, what: str) -> None:
    args = ["--role", "full_node", "--root", str(tmp_path), "--port", "0", "--rpc-port", "0"]
    code, out = run(*args, flag, str(busy_port))
    assert code == 1
    assert trionode_lines(out) == [
        f"trionode: cannot listen on the {what} 127.0.0.1:{busy_port} ({flag}): "
        "Address already in use"
    ]


def test_unknown_trionode_variable_is_reported(tmp_path: Path, busy_port: int) -> None:
    # The report comes at start-up, before the ports are checked: a busy port ends the run
    # right after it.
    code, out = run(
        "--role",
        "introducer",
        "--root",
        str(tmp_path),
        "--rpc-port",
        str(busy_port),
        env={"TRIONODE_NETWROK": "sim"},
    )
    assert code == 1
    assert "WARNING" in out and "environment variable TRIONODE_NETWROK is not a config" in out


def test_unknown_env_names_spares_documented_ones() -> None:
    env = {
        "TRIONODE_ROOT": "/x",
        "TRIONODE_TEST_POSTGRES_URL": "postgresql+psycopg://a@b/c",
        "TRIONODE_REQUIRE_POSTGRES": "1",
        "TRIONODE_NETWORK": "sim",
        "TRIONODE_LOG_LEVEL": "DEBUG",
        "TRIONODE_FULL_NODE__PORT": "1",  # checked (refused if unknown) by env_overrides
        "TRIONODE_NETWROK": "sim",
        "trionode_loglevel": "x",
        "PATH": "/bin",
    }
    assert unknown_env_names(env) == ["TRIONODE_NETWROK", "trionode_loglevel"]


def test_db_directory_that_cannot_be_created(tmp_path: Path) -> None:
    (tmp_path / "afile").write_text("x")
    url = f"sqlite:///{tmp_path}/afile/db/chain.sqlite"
    code, out = run("--role", "full_node", "--root", str(tmp_path / "r"), "--db", url)
    assert code == 1
    assert trionode_lines(out) == [
        f"trionode: --db (full_node.db): cannot create the directory {tmp_path}/afile/db of "
        "the SQLite database: a file is in the way"
    ]


def test_postgresql_without_psycopg(tmp_path: Path) -> None:
    # A directory first on PYTHONPATH whose psycopg cannot be imported: what a machine without
    # the [postgres] extra looks like to the node.
    shim = tmp_path / "shim" / "psycopg"
    shim.mkdir(parents=True)
    (shim / "__init__.py").write_text('raise ImportError("no psycopg on this machine")\n')
    path = os.pathsep.join([str(tmp_path / "shim"), os.environ.get("PYTHONPATH", "")])
    code, out = run(
        "--role",
        "full_node",
        "--root",
        str(tmp_path / "r"),
        "--db",
        "postgresql+psycopg://trionode:pw@127.0.0.1:5432/chain",
        env={"PYTHONPATH": path},
    )
    assert code == 1
    assert trionode_lines(out) == [
        "trionode: --db (full_node.db): a PostgreSQL URL needs the psycopg driver, which is "
        "not installed: pip install 'trionode[postgres]'"
    ]


def test_rpc_port_out_of_range(tmp_path: Path) -> None:
    commands = (
        ["rpc", "get_routes", "--root", str(tmp_path), "--rpc-port", "70000"],
        ["--rpc-port", "70000", "rpc", "get_routes", "--root", str(tmp_path)],
        ["show", "--root", str(tmp_path), "--rpc-port", "-1"],
    )
    for args, (code, out) in zip(commands, run_all(*commands), strict=True):
        assert code == 2, args
        (line,) = trionode_lines(out)
        assert "must be a port number (0-65535)" in line


def test_no_abbreviations(tmp_path: Path) -> None:
    (code, out), (code_devnet, out_devnet) = run_all(
        ["--rol", "full_node", "--root", str(tmp_path)],
        ["devnet", "--root", str(tmp_path), "--full", "3"],
    )
    assert code == 2
    assert trionode_lines(out) == [
        "trionode: unrecognized argument --rol (did you mean --role?) "
        "(see python -m trionode --help)"
    ]
    assert not (tmp_path / "config.yaml").exists()  # nothing started
    assert code_devnet == 2 and "unrecognized arguments: --full" in out_devnet


def test_wallet_errors_use_the_one_prefix(tmp_path: Path) -> None:
    code, out = run("wallet", "balance", "--root", str(tmp_path))
    assert code == 1
    (line,) = trionode_lines(out)
    assert line.startswith(f"trionode: no keys in {tmp_path}")
    assert "error:" not in out


def test_wallet_help_names_units_and_the_farm_root() -> None:
    code, out = run("wallet", "send", "--help")
    assert code == 0
    flat = " ".join(out.split())
    assert "--amount MOJOS amount to pay, in mojos" in flat
    assert "--fee MOJOS fee for the farmer, in mojos" in flat
    assert "--timeout SECONDS seconds to wait" in flat
    assert "--root DIR the farm's root" in flat


def test_keys_generate_refusal_names_the_flag(tmp_path: Path) -> None:
    assert run("keys", "generate", "--root", str(tmp_path))[0] == 0
    code, out = run("keys", "generate", "--root", str(tmp_path))
    assert code == 1
    assert "give --force to replace it" in out and "force=True" not in out


SLOW_SHUTDOWN = textwrap.dedent(
    """
    import sys, trio
    from trionode.roles.runtime import run_until_signal

    async def main(nursery):
        try:
            print("ready", flush=True)
            await trio.sleep_forever()
        finally:
            # A shutdown that does not finish (a stuck close): only a second Ctrl-C ends it.
            with trio.CancelScope(shield=True):
                print("stopping", flush=True)
                await trio.sleep_forever()

    sys.exit(trio.run(run_until_signal, main))
    """
)


def test_second_ctrl_c_exits_130_with_one_line() -> None:
    with subprocess.Popen(
        [sys.executable, "-c", SLOW_SHUTDOWN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    ) as proc:
        try:
            assert proc.stdout is not None and proc.stderr is not None
            assert proc.stdout.readline() == "ready\n"
            proc.send_signal(signal.SIGINT)
            assert proc.stdout.readline() == "stopping\n"
            proc.send_signal(signal.SIGINT)
            assert proc.wait(timeout=TIMEOUT) == 130
            err = proc.stderr.read()
        finally:
            proc.kill()
    assert "Traceback" not in err and "KeyboardInterrupt" not in err
    assert trionode_lines(err) == ["trionode: interrupted again: exiting at once (exit code 130)"]


def test_no_parser_accepts_abbreviations() -> None:
    import argparse

    from trionode.cli import build_parser

    seen = []

    def walk(parser: argparse.ArgumentParser) -> None:
        seen.append(parser.prog)
        assert parser.allow_abbrev is False, parser.prog
        for action in parser._actions:
            if isinstance(action, argparse._SubParsersAction):
                for sub in action.choices.values():
                    walk(sub)

    walk(build_parser())
    assert "python -m trionode wallet send" in seen and "python -m trionode keys generate" in seen
    for script in (Path(__file__).parent.parent / "scripts").glob("*.py"):
        text = script.read_text(encoding="utf-8")
        assert text.count("ArgumentParser(") == text.count("allow_abbrev=False"), script.name
