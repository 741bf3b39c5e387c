"""Verifying many blocks (or headers) in the validation workers, each block its own job.

Every block is validated on its own, with its own context, in a worker thread under the
chain's limiter (served in order, so a sync window's bodies and the next window's headers
share the workers). Jobs of several blocks were tried, to save thread hand-offs: they cost a
little less CPU but made the sync slower (with 1,000 sim blocks on 2 busy cores, load 8-11,
16-24 s with jobs of 8 blocks against 9-11 s with jobs of one, ``scripts/bench_sync.py``),
likely because a worker thread the system leaves waiting holds all its blocks while the rest
of its window is done; hence :data:`BLOCKS_PER_JOB`. Jobs that pull the next untaken block
until none is left (one job per worker, the event loop out of the loop between blocks) were
tried in session 6: in a profile the workers were never idle, where jobs of one block leave
one worker idle for about a third of a sync, yet the sync was slower: 1,000 sim blocks
synced at 63-90 blocks/s against 95-129 with jobs of one block, alternately, at load 7-8 on
2 cores (each worker thread got about 20% of a core per second of its jobs against about
45%). A thread that never sleeps seems to lose out to the machine's other work (and to its
sibling for the GIL) more than one that waits a moment for its next block. Two jobs per
block (its header's rules, then the block, whose proofs the memo answers) were tried as
well: 72-121 blocks/s against 73-128 with one job (and main's separate header stage 59-131),
alternately at load 5-8; no difference the scatter would show, so one job it stays.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import TypeVar

import trio

from trionode.consensus import ConsensusConstants, Err, ValidationContext
from trionode.nursery.offload import run_blocking

B = TypeVar("B")

#: Blocks per worker job (module docstring).
BLOCKS_PER_JOB = 1


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
