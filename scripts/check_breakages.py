"""Make each deliberate breakage the suite must catch, in a scratch copy, and run its guards.

Each breakage below is one small edit a reviewer would try (a hard fork, a removed ban, a
disabled check, a commit split in two); its guards are the tests that must fail with it. For
each, the tree's tracked files are copied to a scratch directory, the edit is made there, the
guards run (``pytest -n 0``) and the tests that failed are listed. The unbroken copy runs the
same guards first: they must pass there, or a failure would prove nothing. The working tree is
never changed.

    python scripts/check_breakages.py            # every breakage (about 3 min on 2 cores)
    python scripts/check_breakages.py --only hard-fork,split-commit
    python scripts/check_breakages.py --list

Exit status 0 when every breakage made at least one guard fail, 1 otherwise (a breakage not
caught, or one whose text is no longer in the tree: the edit must then be brought up to date
with the code it breaks; ``tests/test_breakages.py`` checks that in the suite).
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import attrs

ROOT = Path(__file__).resolve().parent.parent


@attrs.frozen
class Breakage:
    name: str
    what: str
    path: str  # relative to the repository
    old: str  # must occur exactly once in the file
    new: str
    guards: tuple[str, ...]  # pytest node ids or files


SPLIT_COMMIT = """        from trionode.storage import chain_writes as _w

        def _rows(c, m):  # the block and header rows, committed alone
            c.execute(_w.q.INS_FULL, _w._full_row(m))
            c.execute(_w.q.INS_HEADER, _w._header_row(m.block))

        def _rest(c, m):  # tips, chain and coins in a second transaction
            if m.tips is not None:
                _w._write_tips(c, m.tips)
            if m.fork_height is not None:
                _w._apply_fork(c, m, None)

        await self.runner.write(_rows, commit)
        await self.runner.write(_rest, commit)
"""

BREAKAGES = (
    Breakage(
        "hard-fork",
        "Challenge.total_iters + 1 (every challenge and header hash changes)",
        "trionode/consensus/block_fields.py",
        "        total_iters=header_data.total_iters,\n    )",
        "        total_iters=header_data.total_iters + 1,\n    )",
        ("tests/test_vectors.py",),
    ),
    Breakage(
        "ban-block",
        "no ban for a gossiped Block that fails validation (parent known)",
        "trionode/sync/intake.py",
        '                raise InvalidBlockFromPeer(f"invalid block at height {block.height}: {err}")',
        "                pass",
        (
            "tests/test_bans.py::test_invalid_block_bans_its_sender",
            "tests/test_hostile_intake.py::"
            "test_invalid_copies_do_not_hide_the_valid_block_or_unfinished_block",
        ),
    ),
    Breakage(
        "ban-detached-block",
        "no ban for a gossiped Block with an unknown parent that fails the detached checks",
        "trionode/sync/intake.py",
        "            raise InvalidBlockFromPeer(\n"
        '                f"invalid block at height {block.height} (parent unknown): {err.name}"\n'
        "            )",
        "            return",
        ("tests/test_bans.py::test_invalid_block_with_an_unknown_parent_bans_its_sender",),
    ),
    Breakage(
        "ban-unfinished",
        "no ban for an invalid UnfinishedBlock",
        "trionode/roles/full_node/unfinished.py",
        '            raise InvalidBlockFromPeer(f"invalid unfinished block: {err.name}")',
        "            return",
        ("tests/test_bans.py::test_invalid_unfinished_block_bans_its_sender",),
    ),
    Breakage(
        "ban-transaction",
        "no ban for a full node relaying an invalid transaction",
        "trionode/roles/full_node/transactions.py",
        '                raise InvalidTransactionFromPeer(f"invalid transaction: {result.describe()}")',
        "                return result",
        ("tests/test_bans.py::test_invalid_transaction_bans_the_full_node_relaying_it",),
    ),
    Breakage(
        "ban-proof-of-time",
        "no ban for a proof of time that does not verify",
        "trionode/roles/full_node/unfinished.py",
        "            if source is not None:\n                raise InvalidProofOfTime(",
        "            if False:\n                raise InvalidProofOfTime(",
        ("tests/test_bans.py::test_proof_of_time_that_does_not_finish_the_block_bans_its_sender",),
    ),
    Breakage(
        "hash-list-unchecked",
        "check_hash_list disabled (any AllHeaderHashes answer accepted)",
        "trionode/sync/hashes.py",
        "def check_hash_list(hashes: Sequence[bytes32], tip_hash: bytes32, tip_height: int) -> None:\n",
        "def check_hash_list(hashes: Sequence[bytes32], tip_hash: bytes32, tip_height: int) -> None:\n"
        "    return\n",
        ("tests/test_sync_hashes.py",),
    ),
    Breakage(
        "block-hash-unchecked",
        "the per-block check of a synced block against its hash list disabled",
        "trionode/sync/hashes.py",
        "        if item.header_hash != hashes[height]:\n",
        "        if False:\n",
        ("tests/test_sync_hashes.py::test_answer_not_in_the_list",),
    ),
    Breakage(
        "split-commit",
        "a block's commit split in two transactions (block rows, then tips, chain and coins)",
        "trionode/storage/chain_store.py",
        "        await self.runner.write(commit_sync, commit)\n",
        SPLIT_COMMIT,
        (
            "tests/test_storage_chain_store.py::test_failed_commit_leaves_nothing",
            "tests/test_storage_chain_store.py::test_reads_run_while_writing",
        ),
    ),
)


def tracked_copy(dest: Path) -> None:
    """The working tree's tracked files (as they are now, edits included) under ``dest``."""
    names = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, check=True, capture_output=True
    ).stdout.split(b"\0")
    for raw in names:
        if not raw:
            continue
        name = raw.decode()
        source = ROOT / name
        if not source.is_file():
            continue  # deleted in the working tree
        target = dest / name
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target)


def apply(tree: Path, b: Breakage) -> str | None:
    """Make ``b`` in ``tree``; None, or why it cannot be made."""
    path = tree / b.path
    if not path.is_file():
        return f"{b.path} is gone"
    text = path.read_text()
    count = text.count(b.old)
    if count != 1:
        return f"its text occurs {count} times in {b.path} (must be once)"
    path.write_text(text.replace(b.old, b.new))
    return None


def run_guards(tree: Path, guards: tuple[str, ...]) -> tuple[int, list[str], float]:
    """Exit code, failed test ids and seconds of one pytest run of ``guards`` in ``tree``."""
    env = dict(os.environ, PYTHONPATH=str(tree))
    began = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rfE"]
        + list(guards),
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
    )
    failed = re.findall(r"^(?:FAILED|ERROR) (\S+)", proc.stdout, re.M)
    return proc.returncode, failed, time.monotonic() - began


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--only", default="", help="comma-separated breakage names")
    parser.add_argument("--list", action="store_true", help="list the breakages and exit")
    args = parser.parse_args(argv)
    if args.list:
        for b in BREAKAGES:
            print(f"{b.name:22} {b.what}")
        return 0
    wanted = {n for n in args.only.split(",") if n}
    unknown = wanted - {b.name for b in BREAKAGES}
    if unknown:
        print(
            f"check_breakages: unknown breakage(s): {', '.join(sorted(unknown))}", file=sys.stderr
        )
        return 2
    chosen = [b for b in BREAKAGES if not wanted or b.name in wanted]
    ok = True
    with tempfile.TemporaryDirectory(prefix="trionode-breakages-") as scratch:
        tree = Path(scratch) / "tree"
        tracked_copy(tree)
        guards = tuple(dict.fromkeys(g for b in chosen for g in b.guards))
        code, failed, seconds = run_guards(tree, guards)
        if code != 0:
            print(f"the guards fail on the unbroken tree ({seconds:.0f} s): {failed}")
            return 1
        print(f"unbroken tree: every guard passes ({seconds:.0f} s)")
        print()
        print("| breakage | what | guards that failed |")
        print("|---|---|---|")
        for b in chosen:
            original = (tree / b.path).read_text() if (tree / b.path).is_file() else None
            why = apply(tree, b)
            if why is not None:
                ok = False
                print(f"| {b.name} | {b.what} | **not made: {why}** |")
                continue
            try:
                code, failed, seconds = run_guards(tree, b.guards)
            finally:
                assert original is not None
                (tree / b.path).write_text(original)
            if code == 0 or not failed:
                ok = False
                print(f"| {b.name} | {b.what} | **none: not caught** ({seconds:.0f} s) |")
            else:
                names = ", ".join(f"`{f}`" for f in failed)
                print(f"| {b.name} | {b.what} | {names} ({seconds:.0f} s) |")
            sys.stdout.flush()
    print()
    print("every breakage caught" if ok else "SOME BREAKAGE NOT CAUGHT OR NOT MADE")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
