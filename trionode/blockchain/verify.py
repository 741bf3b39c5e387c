"""Verifying many blocks (or headers) in the validation workers, a few per job.

One worker-thread job per block cost a thread hand-off and a wake-up of the event loop each,
and both hold the GIL the other workers' Python parts need: a sync window of 128 blocks made
256 of them (headers, then bodies). Jobs of a few blocks keep every worker busy (the jobs are
still many more than the workers, and the limiter serves them in order) at a fraction of the
hand-offs. Every block is still validated on its own, with its own context: only the
scheduling is batched.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import trio

from trionode.consensus import ConsensusConstants, Err, ValidationContext
from trionode.nursery.offload import run_blocking

B = TypeVar("B")

#: Blocks per worker job: a window of 128 makes 16 jobs per stage.
BLOCKS_PER_JOB = 8


async def verify_many(
    check: Callable[[ConsensusConstants, B, ValidationContext], Err | None],
    constants: ConsensusConstants,
    items: Sequence[B],
    contexts: Sequence[ValidationContext],
    limiter: trio.CapacityLimiter,
    per_job: int = BLOCKS_PER_JOB,
) -> list[Err | None]:
    """``check(constants, item, ctx)`` of every item, in worker threads under ``limiter``,
    ``per_job`` items per job, all jobs at once; results in input order."""
    if len(items) != len(contexts):
        raise ValueError("one context per item")
    results: list[Err | None] = [None] * len(items)

    def job(start: int, stop: int) -> list[Err | None]:
        return [check(constants, items[i], contexts[i]) for i in range(start, stop)]

    async def run(start: int, stop: int) -> None:
        results[start:stop] = await run_blocking(job, start, stop, limiter=limiter)

    async with trio.open_nursery() as nursery:
        for start in range(0, len(items), per_job):
            nursery.start_soon(run, start, min(start + per_job, len(items)))
    return results
