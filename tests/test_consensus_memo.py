"""The proof memo shares a computation in flight between threads, and a second worker checking
a block's proofs ahead (``check_proofs_ahead``) leaves validation nothing to compute twice."""

from __future__ import annotations

import threading

from trionode.consensus import ConsensusConstants, check_proofs_ahead, validate_block
from trionode.consensus.memo import ByteBoundedMemo
from trionode.consensus.proofs import clear_proof_caches, proof_cache_stats
from trionode.protocols.chain_types import FullBlock
from trionode.testing.chain_cache import chain_contexts

KEY = b"k" * 32


def _in_thread(fn: object, out: list[object]) -> threading.Thread:
    thread = threading.Thread(target=lambda: out.append(fn()))  # type: ignore[operator]
    thread.start()
    return thread


def test_a_key_in_flight_is_computed_once_and_its_value_shared() -> None:
    memo: ByteBoundedMemo[str] = ByteBoundedMemo("t", 1 << 20)
    entered, release = threading.Event(), threading.Event()
    calls: list[str] = []

    def slow() -> str:
        calls.append("slow")
        entered.set()
        release.wait(10)
        return "value"

    def fast() -> str:
        calls.append("fast")
        return "other"

    got: list[object] = []
    first = _in_thread(lambda: memo.get_or_compute(KEY, slow), got)
    assert entered.wait(10)
    second = _in_thread(lambda: memo.get_or_compute(KEY, fast), got)
    second.join(0.2)
    assert second.is_alive()  # waiting for the first's result, not computing its own
    assert memo.computing() == 1
    release.set()
    first.join(10)
    second.join(10)
    assert got == ["value", "value"]
    assert calls == ["slow"]
    assert memo.computing() == 0
    stats = memo.stats()
    assert (stats.misses, stats.hits) == (1, 1)


def test_a_failed_computation_in_flight_leaves_the_waiter_to_compute() -> None:
    memo: ByteBoundedMemo[str] = ByteBoundedMemo("t", 1 << 20)
    entered, release = threading.Event(), threading.Event()

    def failing() -> str:
        entered.set()
        release.wait(10)
        raise RuntimeError("broken")

    errors: list[object] = []

    def first_call() -> object:
        try:
            return memo.get_or_compute(KEY, failing)
        except RuntimeError as exc:
            errors.append(exc)
            return None

    got: list[object] = []
    first = _in_thread(first_call, got)
    assert entered.wait(10)
    second = _in_thread(lambda: memo.get_or_compute(KEY, lambda: "mine"), got)
    release.set()
    first.join(10)
    second.join(10)
    assert len(errors) == 1
    assert sorted(got, key=str) == [None, "mine"]
    assert memo.get_or_compute(KEY, lambda: "never") == "mine"
    assert memo.computing() == 0


def _proof_misses() -> int:
    return sum(s.misses for s in proof_cache_stats().values())


def test_proofs_checked_ahead_leave_validation_nothing_to_compute(
    sim_constants: ConsensusConstants, tx_chain: list[FullBlock]
) -> None:
    contexts = chain_contexts(sim_constants, tx_chain)
    block, ctx = tx_chain[10], contexts[10]
    assert block.body.transactions
    clear_proof_caches()
    base = _proof_misses()
    check_proofs_ahead(sim_constants, FullBlock.from_bytes(bytes(block)), lambda: False)
    ahead = _proof_misses() - base
    assert ahead >= 3  # the VDF, the transaction's signature, the coinbase's
    fresh = FullBlock.from_bytes(bytes(block))
    assert validate_block(sim_constants, fresh, ctx) is None
    # Validation computed only what comes before the checked-ahead ones (the proof of space,
    # the plot signature, the discriminant): nothing the other thread did.
    before = _proof_misses() - base - ahead
    clear_proof_caches()
    base = _proof_misses()
    assert validate_block(sim_constants, FullBlock.from_bytes(bytes(block)), ctx) is None
    assert _proof_misses() - base == before + ahead


def test_checking_ahead_stops_when_asked(
    sim_constants: ConsensusConstants, tx_chain: list[FullBlock]
) -> None:
    clear_proof_caches()
    base = _proof_misses()
    check_proofs_ahead(sim_constants, tx_chain[10], lambda: True)
    assert _proof_misses() == base
