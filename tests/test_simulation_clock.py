"""The simulator's JumpingClock keeps MockClock(autojump_threshold=0)'s virtual time (same
wake-up times, same order) in fewer passes of trio's run loop."""

from __future__ import annotations

import time

import trio
import trio.testing

from trionode.simulation.clock import JumpingClock


class _Passes(trio.abc.Instrument):
    def __init__(self) -> None:
        self.count = 0

    def before_io_wait(self, timeout: float) -> None:
        self.count += 1


def _run(clock: trio.abc.Clock) -> tuple[list[tuple[str, float]], int]:
    woke: list[tuple[str, float]] = []

    async def sleeper(name: str, delays: list[float]) -> None:
        for delay in delays:
            await trio.sleep(delay)
            woke.append((name, trio.current_time()))

    async def main() -> None:
        async with trio.open_nursery() as nursery:
            nursery.start_soon(sleeper, "a", [0.5, 1.25, 3600.0])
            nursery.start_soon(sleeper, "b", [0.75, 0.75, 0.0])
            with trio.move_on_after(2.0):
                await trio.sleep_forever()
            woke.append(("timeout", trio.current_time()))

    passes = _Passes()
    trio.run(main, clock=clock, instruments=[passes])
    return woke, passes.count


def test_same_times_as_mockclock_in_fewer_passes() -> None:
    started = time.perf_counter()
    jumping, jumping_passes = _run(JumpingClock())
    mock, mock_passes = _run(trio.testing.MockClock(autojump_threshold=0))
    assert time.perf_counter() - started < 5  # an hour of virtual time, at once
    assert jumping == mock
    assert ("a", 3601.75) in jumping and ("timeout", 2.0) in jumping
    assert jumping_passes < mock_passes
