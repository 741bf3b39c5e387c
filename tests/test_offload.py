"""Blocking work leaves the event loop through one door (trionode.nursery.offload)."""

from __future__ import annotations

import threading
from pathlib import Path

import trio

import trionode
from trionode.nursery.offload import InlineExecutor, run_blocking, using_executor


async def test_default_runs_in_a_worker_thread() -> None:
    main = threading.get_ident()
    assert await run_blocking(threading.get_ident) != main


async def test_inline_executor_runs_in_the_calling_thread_for_spawned_tasks_too() -> None:
    main = threading.get_ident()
    seen: list[int] = []
    inline = InlineExecutor()
    with using_executor(inline):
        async with trio.open_nursery() as nursery:
            # A child task inherits the executor of the context it was spawned from.
            nursery.start_soon(lambda: _record(seen))
        seen.append(await run_blocking(threading.get_ident))
    assert seen == [main, main]
    assert inline.calls == 2
    assert await run_blocking(threading.get_ident) != main


async def _record(seen: list[int]) -> None:
    seen.append(await run_blocking(threading.get_ident))


def test_no_module_calls_trio_to_thread_directly() -> None:
    package = Path(trionode.__file__).parent
    offenders = [
        str(p.relative_to(package))
        for p in package.rglob("*.py")
        if p.name != "offload.py" and "to_thread" in p.read_text(encoding="utf-8")
    ]
    assert offenders == []


async def test_world_clock_and_rng_follow_the_context() -> None:
    import random

    from trionode.nursery.clock import using_world, wall_time

    assert abs(wall_time() - __import__("time").time()) < 60
    with using_world(wall=lambda: 1234.5, rand=random.Random(7)):
        async with trio.open_nursery() as nursery:
            got: list[object] = []
            nursery.start_soon(lambda: _world(got))
        first = got
    with using_world(rand=random.Random(7)):
        again: list[object] = []
        await _world(again)
    assert first[0] == 1234.5
    assert first[1] == again[1]  # same seed, same draw


async def _world(got: list[object]) -> None:
    from trionode.nursery.clock import rng, wall_time

    got.append(wall_time())
    got.append(rng().random())
