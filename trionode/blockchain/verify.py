"""Verifying many blocks (or headers) in the validation workers, each block with its own context.

The workers pull the blocks themselves: :func:`verify_many` starts one job per worker (as many
as the chain's limiter allows), and each job takes the next block not yet taken until none is
left. A worker the system leaves waiting holds only the block it is on, and the event loop is
not in the loop between two blocks. Jobs of one block each, one thread hand-off per block
through the event loop, were the rule before: on 2 cores shared with other work the event loop
(waiting for a core itself) was slow to hand the next block to a worker that finished one, and
in a long sync of 1,000 sim blocks with 2 workers only one job ran for about a third of the
sync's wall time (``scripts/bench_sync.py`` with a profile of the jobs, load 3-6). Fixed jobs
of 8 blocks, tried before that, were slower still: a worker left waiting held all of its 8.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from typing import TypeVar

import trio

from trionode.consensus import ConsensusConstants, Err, ValidationContext
from trionode.nursery.offload import run_blocking

B = TypeVar("B")


async def verify_many(
    check: Callable[[ConsensusConstants, B, ValidationContext], Err | None],
    constants: ConsensusConstants,
    items: Sequence[B],
    contexts: Sequence[ValidationContext],
    limiter: trio.CapacityLimiter,
) -> list[Err | None]:
    """``check(constants, item, ctx)`` of every item in worker threads under ``limiter``
    (module docstring); results in input order. When cancelled, the jobs take no further
    item (each finishes the one it is on, in the background)."""
    if len(items) != len(contexts):
        raise ValueError("one context per item")
    results: list[Err | None] = [None] * len(items)
    # ``next`` on a count is atomic under the GIL: each index is taken by one job only.
    taken = itertools.count()
    stopped = False

    def job() -> None:
        while not stopped:
            i = next(taken)
            if i >= len(items):
                return
            results[i] = check(constants, items[i], contexts[i])

    async def run() -> None:
        nonlocal stopped
        try:
            # Abandoned on cancellation, so a cancelled sync does not wait for a window of
            # blocks: the job stops after its current block (``stopped``).
            await run_blocking(job, limiter=limiter, abandon_on_cancel=True)
        except BaseException:
            stopped = True
            raise

    workers = max(1, min(len(items), int(limiter.total_tokens)))
    if items:
        async with trio.open_nursery() as nursery:
            for _ in range(workers):
                nursery.start_soon(run)
    return results
