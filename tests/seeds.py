"""Seeds for tests that pick something at random (kill timing): a fresh seed per run, unless
``TRIONODE_TEST_SEED`` fixes it, so a failure that names its seed can be replayed with
``TRIONODE_TEST_SEED=<seed> python -m pytest ...``."""

from __future__ import annotations

import os


def test_seed() -> int:
    fixed = os.environ.get("TRIONODE_TEST_SEED")
    if fixed:
        return int(fixed)
    return int.from_bytes(os.urandom(4), "big")


test_seed.__test__ = False  # type: ignore[attr-defined]  # not a pytest test
