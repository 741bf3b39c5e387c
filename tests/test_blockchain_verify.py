"""verify_many: the workers pull the blocks themselves (trionode/blockchain/verify.py)."""

from __future__ import annotations

import threading
from typing import Any

import trio

from trionode.blockchain.verify import verify_many
from trionode.consensus import Err, get_constants
from trionode.nursery.offload import run_blocking

CONSTANTS = get_constants("sim")


async def test_every_item_gets_its_own_result_in_order_from_at_most_limiter_jobs() -> None:
    threads: set[int] = set()
    calls: list[int] = []

    def check(constants: Any, item: int, ctx: Any) -> Err | None:
        assert ctx == ("ctx", item)
        threads.add(threading.get_ident())
        calls.append(item)
        return Err.INVALID_HEIGHT if item % 3 == 0 else None

    items = list(range(50))
    results = await verify_many(
        check,
        CONSTANTS,
        items,
        [("ctx", i) for i in items],  # type: ignore[misc]
        trio.CapacityLimiter(2),
    )
    assert results == [Err.INVALID_HEIGHT if i % 3 == 0 else None for i in items]
    assert sorted(calls) == items  # each item checked once
    assert 1 <= len(threads) <= 2
    assert await verify_many(check, CONSTANTS, [], [], trio.CapacityLimiter(2)) == []


async def test_a_cancelled_verification_takes_no_further_item() -> None:
    started, release = threading.Event(), threading.Event()
    checked: list[int] = []

    def check(constants: Any, item: int, ctx: Any) -> Err | None:
        checked.append(item)
        started.set()
        release.wait(30)
        return None

    limiter = trio.CapacityLimiter(1)
    items = list(range(10))
    with trio.fail_after(30):
        async with trio.open_nursery() as nursery:
            scope = trio.CancelScope()

            async def verify() -> None:
                with scope:
                    await verify_many(check, CONSTANTS, items, [None] * 10, limiter)  # type: ignore[list-item]

            nursery.start_soon(verify)
            await run_blocking(started.wait, 30)
            scope.cancel()  # returns at once: the job is abandoned, not waited for
        release.set()
        async with limiter:  # the abandoned job's thread has ended
            pass
    assert checked == [0]
