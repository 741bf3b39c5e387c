"""Tests for trionode.nursery: restart policies, backoff, intensity, ordered shutdown, state.

Every test runs on trio's MockClock with autojump (the ``autojump_clock`` fixture): time only
moves when all tasks are blocked, so backoff and deadlines are checked to the exact virtual
second and nothing really sleeps. Every test body is bounded by ``trio.fail_after``.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest
import trio
import trio.testing

from trionode.nursery import (
    ChildInfo,
    ChildReturned,
    ChildStartFailed,
    ChildState,
    RestartIntensityExceeded,
    RestartPolicy,
    StopSignal,
    Supervisor,
    backoff_delay,
    unwrap_exception_group,
    unwrapped_exception_groups,
)

# Virtual seconds: generous, since the clock jumps, but it catches a hang.
LIMIT = 1000


@asynccontextmanager
async def supervising(sup: Supervisor) -> AsyncIterator[Supervisor]:
    """Run ``sup`` in a nursery for the block, shutting it down at the end."""
    with unwrapped_exception_groups():
        async with trio.open_nursery() as nursery:
            assert await nursery.start(sup.run) is sup
            yield sup
            await sup.shutdown()


class Flaky:
    """A child that raises ``failures`` times, then runs until cancelled; records call times."""

    def __init__(self, failures: int, *, error: type[Exception] = ValueError) -> None:
        self.failures = failures
        self.error = error
        self.calls: list[float] = []

    async def __call__(self) -> None:
        self.calls.append(trio.current_time())
        if len(self.calls) <= self.failures:
            raise self.error(f"failure {len(self.calls)}")
        await trio.sleep_forever()


# -- policy and helpers ------------------------------------------------------------------------


def test_backoff_delay_doubles_and_caps() -> None:
    delays = [backoff_delay(n, initial=0.5, maximum=3.0) for n in range(6)]
    assert delays == [0.5, 1.0, 2.0, 3.0, 3.0, 3.0]
    assert backoff_delay(10_000, initial=1.0, maximum=30.0) == 30.0
    with pytest.raises(ValueError):
        backoff_delay(-1, initial=1.0, maximum=2.0)


def test_restart_policy_table() -> None:
    assert RestartPolicy.PERMANENT.restarts_after(raised=False)
    assert RestartPolicy.PERMANENT.restarts_after(raised=True)
    assert not RestartPolicy.TRANSIENT.restarts_after(raised=False)
    assert RestartPolicy.TRANSIENT.restarts_after(raised=True)
    assert not RestartPolicy.TEMPORARY.restarts_after(raised=False)
    assert not RestartPolicy.TEMPORARY.restarts_after(raised=True)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"max_restarts": -1},
        {"within_seconds": 0},
        {"backoff_initial": 2.0, "backoff_max": 1.0},
        {"backoff_initial": -1.0},
        {"shutdown_timeout": -1.0},
    ],
)
def test_supervisor_rejects_bad_settings(kwargs: dict[str, float]) -> None:
    with pytest.raises(ValueError):
        Supervisor("bad", **kwargs)  # type: ignore[arg-type]


# -- exception group helper ------------------------------------------------------------------


def test_unwrap_exception_group_returns_single_leaf() -> None:
    leaf = KeyError("k")
    nested = BaseExceptionGroup("outer", [ExceptionGroup("inner", [leaf])])
    assert unwrap_exception_group(nested) is leaf
    assert unwrap_exception_group(leaf) is leaf


def test_unwrap_exception_group_leaves_several_alone() -> None:
    group = ExceptionGroup("two", [ValueError(), ExceptionGroup("one", [KeyError()])])
    assert unwrap_exception_group(group) is group
    nested = ExceptionGroup("outer", [ExceptionGroup("two", [ValueError(), KeyError()])])
    assert unwrap_exception_group(nested) is nested.exceptions[0]


async def test_unwrapped_exception_groups_reraises_the_inner_exception() -> None:
    cause = OSError("disk")

    async def fail() -> None:
        raise RuntimeError("boom") from cause

    with pytest.raises(RuntimeError, match="boom") as info:
        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(fail)
    assert info.value.__cause__ is cause
    # Not chained to the group that carried it.
    assert not isinstance(info.value.__context__, BaseExceptionGroup)
    # The traceback still reaches the frame that raised it.
    assert info.traceback[-1].name == "fail"


async def test_unwrapped_exception_groups_keeps_real_groups() -> None:
    async def fail(exc: Exception) -> None:
        raise exc

    with pytest.raises(ExceptionGroup) as info:
        with unwrapped_exception_groups():
            async with trio.open_nursery() as nursery:
                nursery.start_soon(fail, ValueError("a"))
                nursery.start_soon(fail, KeyError("b"))
    assert sorted(type(e).__name__ for e in info.value.exceptions) == ["KeyError", "ValueError"]


def test_unwrapped_exception_groups_passes_plain_exceptions() -> None:
    with pytest.raises(ValueError, match="plain"):
        with unwrapped_exception_groups():
            raise ValueError("plain")
    with unwrapped_exception_groups():
        pass


# -- restart policies --------------------------------------------------------------------------


async def test_permanent_child_is_restarted_after_failures(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = Flaky(failures=2)
    with trio.fail_after(LIMIT):
        async with supervising(Supervisor("sup")) as sup:
            await sup.start_child("loop", flaky)
            await trio.sleep(10)
            info = sup.child("loop")
            assert len(flaky.calls) == 3
            assert info.state is ChildState.RUNNING
            assert info.restart_count == 2
            assert isinstance(info.last_exception, ValueError)
            assert str(info.last_exception) == "failure 2"


async def test_permanent_child_that_returns_is_restarted_and_logged(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    calls = 0

    async def daemon() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            return
        await trio.sleep_forever()

    with trio.fail_after(LIMIT):
        async with supervising(Supervisor("sup")) as sup:
            await sup.start_child("daemon", daemon)
            await trio.sleep(10)
            assert calls == 2
            info = sup.child("daemon")
            assert info.restart_count == 1
            assert isinstance(info.last_exception, ChildReturned)
    errors = [r for r in caplog.records if r.levelno == logging.ERROR]
    assert any("'daemon' returned" in r.getMessage() for r in errors)


async def test_transient_child_is_restarted_only_when_it_raised(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    async def job() -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise ConnectionError("first try")
        # Second run succeeds and returns: done, no restart.

    with trio.fail_after(LIMIT):
        async with supervising(Supervisor("sup")) as sup:
            await sup.start_child("job", job, policy=RestartPolicy.TRANSIENT)
            await trio.sleep(100)
            info = sup.child("job")
            assert calls == 2
            assert info.state is ChildState.STOPPED
            assert info.restart_count == 1


async def test_temporary_child_is_never_restarted_and_siblings_keep_running(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    seen: list[ChildInfo] = []
    ticks = 0
    peer_calls = 0

    async def role_loop() -> None:
        nonlocal ticks
        while True:
            ticks += 1
            await trio.sleep(1)

    async def peer() -> None:
        nonlocal peer_calls
        peer_calls += 1
        await trio.sleep(2)
        raise ConnectionResetError("peer hung up")

    with trio.fail_after(LIMIT):
        async with supervising(Supervisor("sup", on_change=seen.append)) as sup:
            await sup.start_child("role", role_loop)
            await sup.start_child("peer-1", peer, policy=RestartPolicy.TEMPORARY)
            await trio.sleep(50)
            assert peer_calls == 1
            assert [c.name for c in sup.children] == ["role"]  # temporary: forgotten
            role = sup.child("role")
            assert role.state is ChildState.RUNNING
            assert role.restart_count == 0
            assert ticks >= 50
    peer_final = [c for c in seen if c.name == "peer-1"][-1]
    assert peer_final.state is ChildState.FAILED
    assert isinstance(peer_final.last_exception, ConnectionResetError)
    warnings = [r.getMessage() for r in caplog.records if r.levelno == logging.WARNING]
    assert any("peer-1" in m and "peer hung up" in m for m in warnings)


async def test_temporary_child_that_returns_is_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    seen: list[ChildInfo] = []
    calls = 0

    async def peer() -> None:
        nonlocal calls
        calls += 1

    with trio.fail_after(LIMIT):
        async with supervising(Supervisor("sup", on_change=seen.append)) as sup:
            await sup.start_child("peer", peer, policy=RestartPolicy.TEMPORARY)
            await trio.sleep(10)
            assert calls == 1
            assert sup.children == ()
    assert [c.state for c in seen] == [ChildState.RUNNING, ChildState.STOPPED]


# -- backoff -----------------------------------------------------------------------------------


async def test_backoff_doubles_per_consecutive_restart_and_is_capped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = Flaky(failures=6)
    sup = Supervisor("sup", max_restarts=100, backoff_initial=0.5, backoff_max=4.0)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            start = trio.current_time()
            await sup.start_child("loop", flaky)
            await trio.sleep(100)
    gaps = [b - a for a, b in zip(flaky.calls, flaky.calls[1:], strict=False)]
    assert flaky.calls[0] == start
    assert gaps == [0.5, 1.0, 2.0, 4.0, 4.0, 4.0]


async def test_backoff_resets_after_a_stable_run(autojump_clock: trio.testing.MockClock) -> None:
    calls: list[float] = []
    fifth_call = trio.Event()

    async def child() -> None:
        calls.append(trio.current_time())
        if len(calls) == 5:
            fifth_call.set()
        if len(calls) == 3:
            await trio.sleep(20)  # a stable run: longer than stable_after
        raise ValueError("again")

    sup = Supervisor("sup", max_restarts=100, backoff_initial=1.0, stable_after=10.0)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("c", child)
            await fifth_call.wait()
    gaps = [b - a for a, b in zip(calls, calls[1:], strict=False)]
    # 1, 2, then the 20 s run plus a delay back at 1 (not 4), then 2 (not 8).
    assert gaps == [1.0, 2.0, 21.0, 2.0]


# -- intensity ---------------------------------------------------------------------------------


async def test_intensity_limit_fails_supervisor_with_named_error(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sibling_stopped = trio.Event()

    async def sibling() -> None:
        try:
            await trio.sleep_forever()
        finally:
            sibling_stopped.set()

    flaky = Flaky(failures=1000, error=OSError)
    sup = Supervisor("node", max_restarts=3, within_seconds=60, backoff_initial=1.0)
    with trio.fail_after(LIMIT):
        with pytest.raises(RestartIntensityExceeded) as info:
            async with supervising(sup):
                await sup.start_child("other", sibling)
                await sup.start_child("db", flaky)
                await trio.sleep_forever()
    err = info.value
    assert err.child == "db"
    assert err.supervisor == "node"
    assert "'db'" in str(err) and "failure 4" in str(err)
    assert isinstance(err.__cause__, OSError)
    assert err.__cause__ is err.last_exception
    assert str(err.__cause__) == "failure 4"
    assert len(flaky.calls) == 4  # first run + 3 restarts, then gave up
    assert sibling_stopped.is_set()
    assert sup.child("db").state is ChildState.FAILED
    assert sup.child("other").state is ChildState.STOPPED


async def test_restarts_spread_beyond_the_window_do_not_exceed_the_limit(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    async def child() -> None:
        nonlocal calls
        calls += 1
        await trio.sleep(15)  # each run outlives the 10 s window
        raise ValueError("periodic")

    sup = Supervisor("sup", max_restarts=1, within_seconds=10)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("c", child)
            await trio.sleep(200)
            assert calls > 5
            assert sup.child("c").state is not ChildState.FAILED


async def test_zero_restarts_allowed_fails_on_first_failure(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = Flaky(failures=1)
    with trio.fail_after(LIMIT):
        with pytest.raises(RestartIntensityExceeded, match="'only'"):
            async with supervising(Supervisor("sup", max_restarts=0)) as sup:
                await sup.start_child("only", flaky)
                await trio.sleep_forever()
    assert len(flaky.calls) == 1


# -- shutdown ----------------------------------------------------------------------------------


async def test_shutdown_stops_children_in_reverse_start_order(
    autojump_clock: trio.testing.MockClock,
) -> None:
    order: list[str] = []

    async def child(name: str) -> None:
        try:
            await trio.sleep_forever()
        finally:
            order.append(name)

    sup = Supervisor("sup")
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            for name in ["storage", "peers", "sync", "api"]:
                await sup.start_child(name, child, name)
            await sup.shutdown()
            assert [c.state for c in sup.children] == [ChildState.STOPPED] * 4
            assert not sup.running
    assert order == ["api", "sync", "peers", "storage"]


async def test_graceful_stop_signal_lets_a_child_finish_its_work(
    autojump_clock: trio.testing.MockClock,
) -> None:
    committed: list[float] = []

    async def writer(*, stopping: StopSignal) -> None:
        while not stopping.is_set():
            with trio.move_on_after(1):
                await stopping.wait()
        await trio.sleep(0.25)  # finish the block it was writing
        committed.append(trio.current_time())

    sup = Supervisor("sup", shutdown_timeout=5)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("writer", writer)
            await trio.sleep(3)
            t0 = trio.current_time()
            await sup.stop_child("writer")
            assert trio.current_time() == t0 + 0.25
            assert committed == [t0 + 0.25]  # returned on its own, not cancelled
            info = sup.child("writer")
            assert info.state is ChildState.STOPPED
            assert info.restart_count == 0  # a stopped permanent child is not restarted


async def test_shutdown_deadline_cancels_a_child_that_ignores_the_stop_signal(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[tuple[str, float]] = []

    async def stubborn(*, stopping: StopSignal) -> None:
        try:
            await trio.sleep_forever()  # never looks at `stopping`
        except trio.Cancelled:
            events.append(("stubborn cancelled", trio.current_time()))
            raise

    async def first() -> None:
        try:
            await trio.sleep_forever()
        finally:
            events.append(("first stopped", trio.current_time()))

    sup = Supervisor("sup", shutdown_timeout=5)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("first", first)
            await sup.start_child("stubborn", stubborn)
            t0 = trio.current_time()
            await sup.shutdown()
    assert events == [("stubborn cancelled", t0 + 5), ("first stopped", t0 + 5)]
    assert any(
        "stubborn" in r.getMessage() and "cancelling" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.WARNING
    )


async def test_shutdown_carries_on_when_a_child_overruns_its_cleanup(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    events: list[tuple[str, float]] = []

    async def slow_closer() -> None:
        try:
            await trio.sleep_forever()
        finally:
            # A shielded cleanup that takes longer than the supervisor's deadline: trio
            # cannot cancel it, so shutdown must not wait on it before stopping the rest.
            with trio.CancelScope(shield=True):
                await trio.sleep(30)
            events.append(("slow closed", trio.current_time()))

    async def first() -> None:
        try:
            await trio.sleep_forever()
        finally:
            events.append(("first stopped", trio.current_time()))

    sup = Supervisor("sup", shutdown_timeout=5)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("first", first)
            await sup.start_child("slow", slow_closer)
            t0 = trio.current_time()
            await sup.shutdown()
            # run() still waited for the overrunning child: nothing outlives the supervisor.
            assert trio.current_time() == t0 + 30
    assert events == [("first stopped", t0 + 5), ("slow closed", t0 + 30)]
    assert any(
        "slow" in r.getMessage() and "still cleaning up" in r.getMessage()
        for r in caplog.records
        if r.levelno == logging.ERROR
    )


async def test_cancelling_the_supervisor_propagates_to_children(
    autojump_clock: trio.testing.MockClock,
) -> None:
    cancelled: list[str] = []

    async def child(name: str) -> None:
        try:
            await trio.sleep_forever()
        except trio.Cancelled:
            cancelled.append(name)
            raise

    sup = Supervisor("sup")
    with trio.fail_after(LIMIT):
        with trio.CancelScope() as scope:
            async with trio.open_nursery() as nursery:
                await nursery.start(sup.run)
                await sup.start_child("a", child, "a")
                await sup.start_child("b", child, "b")
                scope.cancel()
                await trio.sleep_forever()
    assert scope.cancelled_caught
    assert sorted(cancelled) == ["a", "b"]
    # Cancellation is a stop, not a failure: nothing was restarted.
    assert [(c.state, c.restart_count) for c in sup.children] == [
        (ChildState.STOPPED, 0),
        (ChildState.STOPPED, 0),
    ]
    with pytest.raises(RuntimeError, match="not running"):
        await sup.start_child("late", child, "late")


async def test_stop_child_cancels_a_restarting_child_and_it_stays_stopped(
    autojump_clock: trio.testing.MockClock,
) -> None:
    flaky = Flaky(failures=1000)
    sup = Supervisor("sup", max_restarts=100, backoff_initial=10)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("loop", flaky)
            await trio.sleep(1)
            assert sup.child("loop").state is ChildState.RESTARTING
            t0 = trio.current_time()
            await sup.stop_child("loop")
            assert trio.current_time() == t0  # backoff sleep cancelled at once
            await trio.sleep(100)
            assert len(flaky.calls) == 1
            assert sup.child("loop").state is ChildState.STOPPED
            await sup.stop_child("loop")  # stopping again does nothing


async def test_child_failing_while_cancelled_does_not_take_siblings_down(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    async def closes_badly() -> None:
        async def part() -> None:
            try:
                await trio.sleep_forever()
            finally:
                raise OSError("close failed")  # noqa: B012 - the failure under test

        async with trio.open_nursery() as nursery:
            nursery.start_soon(part)
            nursery.start_soon(trio.sleep_forever)

    sup = Supervisor("sup")
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("sibling", trio.sleep_forever)
            await sup.start_child("bad", closes_badly)
            await trio.sleep(1)
            await sup.stop_child("bad")
            info = sup.child("bad")
            assert info.state is ChildState.STOPPED
            assert isinstance(info.last_exception, ExceptionGroup)
            assert sup.child("sibling").state is ChildState.RUNNING
    assert any("close failed" in r.getMessage() for r in caplog.records)


# -- start_child -------------------------------------------------------------------------------


async def test_start_child_waits_for_started_and_returns_its_value(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def listener(*, task_status: trio.TaskStatus[int] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.sleep(2)  # binding takes a while
        task_status.started(8444)
        await trio.sleep_forever()

    sup = Supervisor("sup")
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            t0 = trio.current_time()
            assert await sup.start_child("listener", listener) == 8444
            assert trio.current_time() == t0 + 2
            assert sup.child("listener").state is ChildState.RUNNING


async def test_start_child_reports_a_child_that_fails_before_starting(
    autojump_clock: trio.testing.MockClock,
) -> None:
    calls = 0

    async def broken(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal calls
        calls += 1
        raise PermissionError("port 80")

    async def quitter(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        return

    sup = Supervisor("sup")
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            with pytest.raises(ChildStartFailed, match="'broken'") as info:
                await sup.start_child("broken", broken)
            assert isinstance(info.value.__cause__, PermissionError)
            with pytest.raises(ChildStartFailed, match="started"):
                await sup.start_child("quitter", quitter)
            await trio.sleep(100)
            assert calls == 1  # a child that cannot start is not restarted
            assert sup.children == ()
            assert sup.running


async def test_a_child_stopped_or_abandoned_while_starting_is_forgotten(
    autojump_clock: trio.testing.MockClock,
) -> None:
    async def slow_start(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        await trio.sleep(10)
        task_status.started()
        await trio.sleep_forever()

    sup = Supervisor("sup")
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            # stop_child() while start_child() waits: the starter hears why.
            async with trio.open_nursery() as nursery:
                nursery.start_soon(sup.stop_child, "slow", name="stopper")
                with pytest.raises(ChildStartFailed, match="stopped before it started"):
                    await sup.start_child("slow", slow_start)
            # The caller of start_child() gives up: the half-started child goes with it.
            with trio.move_on_after(1) as scope:
                await sup.start_child("slow", slow_start)
            assert scope.cancelled_caught
            assert sup.children == ()


async def test_start_child_rejects_duplicates_and_allows_reuse_after_end(
    autojump_clock: trio.testing.MockClock,
) -> None:
    sup = Supervisor("sup")
    with pytest.raises(RuntimeError, match="not running"):
        await sup.start_child("x", trio.sleep_forever)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("x", trio.sleep_forever)
            with pytest.raises(ValueError, match="'x'"):
                await sup.start_child("x", trio.sleep_forever)
            await sup.stop_child("x")
            await sup.start_child("x", trio.sleep_forever)
            assert sup.child("x").state is ChildState.RUNNING
            with pytest.raises(LookupError, match="'nope'"):
                await sup.stop_child("nope")


# -- observable state --------------------------------------------------------------------------


async def test_state_transitions_are_observable(autojump_clock: trio.testing.MockClock) -> None:
    seen: list[tuple[ChildState, int]] = []

    def observe(info: ChildInfo) -> None:
        assert info.name == "svc"
        seen.append((info.state, info.restart_count))

    calls = 0

    async def svc(*, task_status: trio.TaskStatus[None] = trio.TASK_STATUS_IGNORED) -> None:
        nonlocal calls
        calls += 1
        if calls == 1:
            task_status.started()
            await trio.sleep(1)
            raise ValueError("first run fails after starting")
        await trio.sleep(1)  # the restart takes a second to get ready
        task_status.started()
        await trio.sleep_forever()

    sup = Supervisor("sup", on_change=observe, backoff_initial=2)
    with trio.fail_after(LIMIT):
        async with supervising(sup):
            await sup.start_child("svc", svc)
            assert sup.child("svc").state is ChildState.RUNNING
            await trio.sleep(1.5)
            assert sup.child("svc").state is ChildState.RESTARTING
            await trio.sleep(2)
            assert sup.child("svc").state is ChildState.STARTING  # waiting for started()
            await trio.sleep(1)
            assert sup.child("svc").state is ChildState.RUNNING
    assert seen == [
        (ChildState.RUNNING, 0),
        (ChildState.RESTARTING, 1),
        (ChildState.STARTING, 1),
        (ChildState.RUNNING, 1),
        (ChildState.STOPPED, 1),
    ]


async def test_a_failing_observer_does_not_break_supervision(
    autojump_clock: trio.testing.MockClock, caplog: pytest.LogCaptureFixture
) -> None:
    def observe(info: ChildInfo) -> None:
        raise RuntimeError("metrics down")

    with trio.fail_after(LIMIT):
        async with supervising(Supervisor("sup", on_change=observe)) as sup:
            await sup.start_child("a", trio.sleep_forever)
            assert sup.child("a").state is ChildState.RUNNING
    assert any("observer" in r.getMessage() for r in caplog.records)
