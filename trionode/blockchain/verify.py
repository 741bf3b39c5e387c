"""Verifying many blocks (or headers) in the validation workers, each block with its own context.

Every block is validated on its own, with its own context, in a worker thread under the
chain's limiter. :func:`verify_many` starts one job per limiter token (a sync window's jobs
queue behind the previous window's), and each job takes the next block not yet taken until
none is left: the event loop is not in the loop between two blocks, and a worker the system
leaves waiting holds only the block it is on.

The choice was measured twice. A job per block (one thread hand-off through the event loop
per block) left one of 2 workers idle for about a third of a long sync; pulling jobs keep both
busy. Under heavy load from other work (load 7-8 on 2 cores, session 6) the pulling jobs
synced slower (63-90 blocks/s against 95-129), a thread that never sleeps seemingly losing
out to the machine's other work, and were reverted. On an otherwise idle machine (load
1-1.8, session 8, ``scripts/bench_sync.py``, 1,000 sim blocks, three alternated pairs of
three rounds) they are the faster: sync / verification 0.69-0.93 per round (best against
best 0.81, 0.75, 0.87) against 0.60-0.83 (0.77, 0.69, 0.74) with a job per block, and the
sync's CPU per block 5.8-6.8 ms against 6.5-7.2. Jobs of 8 blocks, tried before, were slower
still (a worker left waiting held all 8); two jobs per block (header rules, then the block)
made no difference the scatter would show.

A lone block (gossip: each hop of its propagation waits for this node's validation) is
gathered and validated in one worker thread (:func:`verify_after_snapshot`): the thread reads
its context in a store snapshot, tells the event loop the snapshot ended (the chain's lock,
held for the read, is released then) and validates at once, without a round trip through the
loop; on a busy machine each hand-off waits for a CPU. If a second worker is free at that
moment (never waited for), it checks the block's costly context-free proofs from the other end
meanwhile (``check_proofs_ahead``: the proof of time, the transactions' and the coinbase's
signatures); the validating thread finds each memoised or waits for it in flight, so a hop of
the block's propagation costs about 1.2-2 ms less on 2 idle cores (``scripts/bench_propagation.py``,
session 8: per hop 7.0-7.7 ms against 8.4-9.7 ms, a sim block's validation 5.2-6.0 ms).
"""

from __future__ import annotations

import itertools
import threading
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

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


def claim_token(limiter: trio.CapacityLimiter, borrower: object) -> bool:
    """Take one of ``limiter``'s tokens for ``borrower`` if one is free now (no waiting)."""
    try:
        limiter.acquire_on_behalf_of_nowait(borrower)
    except trio.WouldBlock:
        return False
    return True


#: ``ChainStore.snapshot_then``: ``then(fn(reader, *args))`` in one worker thread.
SnapshotThen = Callable[..., Awaitable[Any]]

#: ``check_proofs_ahead``: (constants, item, stop) in a second worker thread.
Ahead = Callable[[ConsensusConstants, B, Callable[[], bool]], None]


async def verify_after_snapshot(
    check: Callable[[ConsensusConstants, B, ValidationContext], Err | None],
    constants: ConsensusConstants,
    snapshot_then: SnapshotThen,
    gather: Callable[..., list[ValidationContext]],
    args: tuple[Any, ...],
    claimed: tuple[trio.CapacityLimiter, object],
    gathered: trio.Event,
    out: list[Err | None],
    ahead: Ahead[B] | None = None,
) -> None:
    """``check`` of the one item of ``args[0]`` with its context from ``gather(reader,
    *args)``, in the same worker thread right after the store snapshot; the result is appended
    to ``out``. ``claimed`` is (the validation limiter, the borrower the caller took one of its
    tokens for): the thread runs on that token, given back when it is done. ``gathered`` is set
    once the snapshot ended, also when it failed or never ran (the caller waits for it holding
    the chain's lock).

    ``ahead(constants, item, stop)``, if given, runs beside it in a second worker thread when
    a second token is free now (never waited for): it works through the item's costly
    memoised checks from the other end while this thread reads and validates, until ``stop()``
    (set once ``check`` returned)."""
    limiter, borrower = claimed
    stopped = threading.Event()
    try:
        (item,) = args[0]

        def validate(contexts: list[ValidationContext]) -> Err | None:
            return check(constants, item, contexts[0])

        async with trio.open_nursery() as nursery:
            helper = object()
            if ahead is not None and claim_token(limiter, helper):
                nursery.start_soon(_run_ahead, ahead, constants, item, stopped, limiter, helper)
            try:
                # The claimed token bounds this thread; its own limiter never makes it wait.
                own = trio.CapacityLimiter(1)
                out.append(
                    await snapshot_then(gather, args, validate, limiter=own, read_done=gathered)
                )
            finally:
                stopped.set()
    finally:
        limiter.release_on_behalf_of(borrower)
        gathered.set()  # normally set already, when the snapshot ended


async def _run_ahead(
    ahead: Ahead[B],
    constants: ConsensusConstants,
    item: B,
    stopped: threading.Event,
    limiter: trio.CapacityLimiter,
    helper: object,
) -> None:
    try:
        await run_blocking(ahead, constants, item, stopped.is_set, limiter=trio.CapacityLimiter(1))
    finally:
        limiter.release_on_behalf_of(helper)
