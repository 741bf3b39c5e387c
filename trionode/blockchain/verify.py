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

A lone block (gossip: each hop of its propagation waits for this node's validation) is
gathered and validated in one worker thread (:func:`verify_after_snapshot`): the thread reads
its context in a store snapshot, tells the event loop the snapshot ended (the chain's lock,
held for the read, is released then) and validates at once, without a round trip through the
loop; on a busy machine each hand-off waits for a CPU.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

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


def claim_token(limiter: trio.CapacityLimiter, borrower: object) -> bool:
    """Take one of ``limiter``'s tokens for ``borrower`` if one is free now (no waiting)."""
    try:
        limiter.acquire_on_behalf_of_nowait(borrower)
    except trio.WouldBlock:
        return False
    return True


#: ``ChainStore.snapshot_then``: ``then(fn(reader, *args))`` in one worker thread.
SnapshotThen = Callable[..., Awaitable[Any]]


async def verify_after_snapshot(
    check: Callable[[ConsensusConstants, B, ValidationContext], Err | None],
    constants: ConsensusConstants,
    snapshot_then: SnapshotThen,
    gather: Callable[..., list[ValidationContext]],
    args: tuple[Any, ...],
    claimed: tuple[trio.CapacityLimiter, object],
    gathered: trio.Event,
    out: list[Err | None],
) -> None:
    """``check`` of the one item of ``args[0]`` with its context from ``gather(reader,
    *args)``, in the same worker thread right after the store snapshot; the result is appended
    to ``out``. ``claimed`` is (the validation limiter, the borrower the caller took one of its
    tokens for): the thread runs on that token, given back when it is done. ``gathered`` is set
    once the snapshot ended, also when it failed or never ran (the caller waits for it holding
    the chain's lock)."""
    limiter, borrower = claimed
    try:
        (item,) = args[0]

        def validate(contexts: list[ValidationContext]) -> Err | None:
            return check(constants, item, contexts[0])

        # The claimed token bounds this thread; its own limiter never makes it wait.
        own = trio.CapacityLimiter(1)
        out.append(await snapshot_then(gather, args, validate, limiter=own, read_done=gathered))
    finally:
        limiter.release_on_behalf_of(borrower)
        gathered.set()  # normally set already, when the snapshot ended
