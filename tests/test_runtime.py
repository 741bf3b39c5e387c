"""The role runner's edge: a role that fails at once surfaces its own error, alone."""

from __future__ import annotations

import pytest
import trio

from trionode.nursery import unwrapped_exception_groups
from trionode.roles.runtime import run_until_signal


def test_failure_before_the_first_checkpoint_surfaces_alone() -> None:
    async def main(nursery: trio.Nursery) -> None:
        raise ValueError("bad setting")

    with pytest.raises(ValueError, match="bad setting"), unwrapped_exception_groups():
        trio.run(run_until_signal, main)


def test_main_returning_ends_with_status_0() -> None:
    async def main(nursery: trio.Nursery) -> None:
        await trio.lowlevel.checkpoint()

    assert trio.run(run_until_signal, main) == 0
