"""A lone block (gossip) is gathered and validated in one worker thread (one hand-off, not two),
while the chain's lock is held only for the read and never waits for a validation worker; and
the store's ``read_then`` under it: the read's end is reported before the work after it."""

from __future__ import annotations

import threading
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import trio
from sqlalchemy import Connection, text

import trionode.blockchain.blockchain as blockchain_module
from trionode.blockchain import AddBlockStatus, Blockchain
from trionode.consensus import ConsensusConstants, Err, ValidationContext
from trionode.nursery.offload import ThreadExecutor, using_executor
from trionode.protocols.chain_types import FullBlock
from trionode.storage import ChainStore

T = TypeVar("T")


class CountingThreads(ThreadExecutor):
    """Worker threads, counted: each call is one hand-off to a thread and back."""

    def __init__(self) -> None:
        self.calls = 0

    async def run(self, fn: Callable[..., T], *args: Any, **options: Any) -> T:
        self.calls += 1
        return await super().run(fn, *args, **options)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[ChainStore]:
    async with await ChainStore.open(f"sqlite:///{tmp_path / 'chain.sqlite'}") as st:
        yield st


@pytest.fixture
async def chain(store: ChainStore, sim_constants: ConsensusConstants) -> Blockchain:
    return await Blockchain.create(store, sim_constants)


async def test_a_lone_block_is_read_and_validated_in_one_hand_off(
    chain: Blockchain, chain_20: list[FullBlock]
) -> None:
    for block in chain_20[:5]:
        assert (await chain.add_block(block)).added
    threads = CountingThreads()
    hand_offs: list[int] = []

    async def on_valid(block: FullBlock, planned: object) -> None:
        hand_offs.append(threads.calls)

    workers = int(chain._verify_limiter.total_tokens)
    with using_executor(threads):
        result = await chain.add_block(chain_20[5], on_valid=on_valid)
    assert result.status is AddBlockStatus.ADDED_TO_TIP
    # Context and validation in one worker call; before this change, two (then the commit).
    # A second free worker checks the block's proofs ahead beside it: one call more.
    assert hand_offs == [1 + (workers > 1)]
    # A window of several blocks still gathers once, then validates in one job per worker.
    threads.calls = 0
    with using_executor(threads):
        results = await chain.add_blocks(chain_20[6:9], on_valid=on_valid)
    assert all(r.status is AddBlockStatus.ADDED_TO_TIP for r in results)
    assert hand_offs[1:] == [1 + min(3, workers)] * 3


async def test_the_lock_is_free_while_a_lone_block_validates(
    chain: Blockchain, chain_20: list[FullBlock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The lock is held for the snapshot only: a reader of the chain's state (which takes the
    lock) is served while the block's validation is still running in its thread."""
    for block in chain_20[:5]:
        await chain.add_block(block)
    entered, release = threading.Event(), threading.Event()
    real = blockchain_module.validate_block

    def slow_validate(c: ConsensusConstants, b: FullBlock, ctx: ValidationContext) -> Err | None:
        entered.set()
        release.wait(10)
        return real(c, b, ctx)

    monkeypatch.setattr(blockchain_module, "validate_block", slow_validate)
    results = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _add(chain, chain_20[5], results))
        with trio.fail_after(10):
            assert await trio.to_thread.run_sync(entered.wait, 10)
            # Takes the chain's lock and reads a snapshot: not blocked by the validation.
            assert await chain.get_next_difficulty() > 0
        assert results == []  # still validating
        release.set()
    assert results[0].status is AddBlockStatus.ADDED_TO_TIP
    assert chain._verify_limiter.borrowed_tokens == 0


async def test_with_no_validation_worker_free_the_lock_is_not_held_waiting(
    chain: Blockchain, chain_20: list[FullBlock]
) -> None:
    """Both validation workers busy: the lone block is gathered (lock released) and waits for
    a worker outside the lock, as a batch does."""
    for block in chain_20[:5]:
        await chain.add_block(block)
    limiter = chain._verify_limiter
    busy = [object() for _ in range(int(limiter.total_tokens))]
    for b in busy:
        limiter.acquire_on_behalf_of_nowait(b)
    results = []
    async with trio.open_nursery() as nursery:
        nursery.start_soon(lambda: _add(chain, chain_20[5], results))
        await trio.testing.wait_all_tasks_blocked()
        with trio.fail_after(10):
            assert await chain.get_next_difficulty() > 0  # the lock is free
        assert results == []
        for b in busy:
            limiter.release_on_behalf_of(b)
    assert results[0].status is AddBlockStatus.ADDED_TO_TIP
    assert limiter.borrowed_tokens == 0


async def test_an_invalid_lone_block_gives_its_worker_back(
    chain: Blockchain, chain_20: list[FullBlock]
) -> None:
    for block in chain_20[:5]:
        await chain.add_block(block)
    block = chain_20[5]
    bad = block.replace(header=block.header.replace(data=block.header.data.replace(timestamp=0)))
    result = await chain.add_block(bad)
    assert result.status is AddBlockStatus.INVALID
    assert chain._verify_limiter.borrowed_tokens == 0
    assert (await chain.add_block(block)).status is AddBlockStatus.ADDED_TO_TIP


async def test_a_lone_block_has_its_proofs_checked_ahead_on_a_second_free_worker(
    chain: Blockchain, tx_chain: list[FullBlock], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With two workers free, a second thread works through the block's costly proof checks
    (``check_proofs_ahead``) while the first reads and validates; with one free, it does not
    run; either way the block is added and every token comes back."""
    for block in tx_chain[:10]:
        assert (await chain.add_block(block)).added
    assert tx_chain[10].body.transactions  # proofs ahead: the VDF and three signatures
    ran: list[int] = []
    real = blockchain_module.check_proofs_ahead

    def spy(c: ConsensusConstants, b: FullBlock, stop: Callable[[], bool]) -> None:
        ran.append(threading.get_ident())
        real(c, b, stop)

    monkeypatch.setattr(blockchain_module, "check_proofs_ahead", spy)
    limiter = chain._verify_limiter
    assert limiter.total_tokens >= 2
    assert (await chain.add_block(tx_chain[10])).status is AddBlockStatus.ADDED_TO_TIP
    assert len(ran) == 1 and ran[0] != threading.get_ident()
    assert limiter.borrowed_tokens == 0
    # All workers but one busy: the block is validated alone, nothing runs ahead.
    busy = [object() for _ in range(int(limiter.total_tokens) - 1)]
    for b in busy:
        limiter.acquire_on_behalf_of_nowait(b)
    assert (await chain.add_block(tx_chain[11])).status is AddBlockStatus.ADDED_TO_TIP
    assert len(ran) == 1
    for b in busy:
        limiter.release_on_behalf_of(b)
    assert limiter.borrowed_tokens == 0


async def test_a_bad_proof_found_ahead_is_still_reported_by_validation(
    chain: Blockchain, tx_chain: list[FullBlock]
) -> None:
    """The thread checking ahead decides nothing: a block whose proof of time does not verify
    is INVALID_POT (the memoised result validation takes), its workers come back, and the
    true block is added afterwards."""
    for block in tx_chain[:10]:
        await chain.add_block(block)
    block = tx_chain[10]
    pot = block.proof_of_time
    assert pot is not None
    witness = bytearray(pot.witness)
    witness[50] ^= 0xFF
    bad = block.replace(proof_of_time=pot.replace(witness=bytes(witness)))
    result = await chain.add_block(bad)
    assert result.status is AddBlockStatus.INVALID
    assert result.error is Err.INVALID_POT
    assert chain._verify_limiter.borrowed_tokens == 0
    assert (await chain.add_block(block)).status is AddBlockStatus.ADDED_TO_TIP


async def _add(chain: Blockchain, block: FullBlock, out: list[Any]) -> None:
    out.append(await chain.add_block(block))


# -- StoreRunner.read_then ----------------------------------------------------------------------


def _one(conn: Connection) -> int:
    return int(conn.execute(text("SELECT 1")).scalar_one())


async def test_read_then_reports_the_read_before_the_work_after_it(store: ChainStore) -> None:
    runner = store.runner
    read_done = trio.Event()
    seen_in_then: list[bool] = []
    go_on = threading.Event()

    def then(got: int) -> int:
        go_on.wait(10)  # the loop saw read_done meanwhile, without this thread's help
        seen_in_then.append(True)
        return got + 1

    results: list[int] = []

    async def run() -> None:
        limiter = trio.CapacityLimiter(1)
        results.append(await runner.read_then(_one, (), then, limiter=limiter, read_done=read_done))

    async with trio.open_nursery() as nursery:
        nursery.start_soon(run)
        with trio.fail_after(10):
            await read_done.wait()
        assert runner._read_limiter.borrowed_tokens == 0  # the reader's slot is back
        assert seen_in_then == []
        go_on.set()
    assert results == [2]


async def test_read_then_cancelled_before_a_thread_took_it(store: ChainStore) -> None:
    runner = store.runner
    read_done = trio.Event()
    full = trio.CapacityLimiter(1)
    full.acquire_on_behalf_of_nowait(object())  # the work never gets a thread
    with trio.move_on_after(0.05):
        await runner.read_then(_one, (), lambda got: got, limiter=full, read_done=read_done)
    assert read_done.is_set()
    assert runner._read_limiter.borrowed_tokens == 0


async def test_read_then_a_failed_read_still_reports_its_end(store: ChainStore) -> None:
    runner = store.runner
    read_done = trio.Event()

    def broken(conn: Connection) -> int:
        raise LookupError("broken read")

    with pytest.raises(LookupError):
        await runner.read_then(
            broken, (), lambda got: got, limiter=trio.CapacityLimiter(1), read_done=read_done
        )
    assert read_done.is_set()
    assert runner._read_limiter.borrowed_tokens == 0
