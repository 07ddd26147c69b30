"""Virtual and real clocks: time is virtual for everything on the loop."""

from __future__ import annotations

import asyncio
import itertools
import math
import time

import anyio
import pytest

from engine.clock import DEFAULT_EPOCH, RealClock, VirtualClock


async def test_auto_clock_jumps_to_next_timer(clock: VirtualClock) -> None:
    start = clock.monotonic()
    await clock.sleep(3600)
    assert clock.monotonic() - start == pytest.approx(3600)
    assert (clock.now() - DEFAULT_EPOCH).total_seconds() == pytest.approx(3600)


async def test_timers_fire_in_order_of_due_time(clock: VirtualClock) -> None:
    fired: list[tuple[str, float]] = []

    async def sleeper(name: str, delay: float) -> None:
        await clock.sleep(delay)
        fired.append((name, clock.monotonic()))

    async with anyio.create_task_group() as tg:
        tg.start_soon(sleeper, "c", 30.0)
        tg.start_soon(sleeper, "a", 10.0)
        tg.start_soon(sleeper, "b", 20.0)
    assert [name for name, _ in fired] == ["a", "b", "c"]
    assert [t for _, t in fired] == pytest.approx([10.0, 20.0, 30.0])


async def test_anyio_timeouts_are_virtual(clock: VirtualClock) -> None:
    with anyio.move_on_after(5) as scope:
        await anyio.sleep(1000)
    assert scope.cancelled_caught
    assert clock.monotonic() == pytest.approx(5)


async def test_manual_clock_stands_still_until_advanced() -> None:
    clock = VirtualClock(auto=False)
    with clock.installed():
        fired: list[float] = []
        clock.call_later(10, lambda: fired.append(clock.monotonic()))
        await clock.advance(5)
        assert fired == []
        assert clock.monotonic() == pytest.approx(5)
        await clock.advance(5)
        assert fired == pytest.approx([10.0])


async def test_manual_clock_runs_tasks_woken_during_advance() -> None:
    clock = VirtualClock(auto=False)
    with clock.installed():
        woke: list[float] = []

        async def wait() -> None:
            await clock.sleep(2)
            woke.append(clock.monotonic())

        task = asyncio.create_task(wait())
        await clock.advance(1)
        assert woke == []
        await clock.advance(1)
        assert woke == pytest.approx([2.0])
        await task


async def test_clock_restores_loop_time_when_uninstalled() -> None:
    loop = asyncio.get_running_loop()
    clock = VirtualClock()
    with clock.installed():
        await clock.sleep(100)
    real_before = loop.time()
    await asyncio.sleep(0)
    assert loop.time() >= real_before
    with pytest.raises(RuntimeError):
        await clock.sleep(1)


async def test_real_clock_reads_the_loop() -> None:
    clock = RealClock()
    before = clock.monotonic()
    await clock.sleep(0)
    assert clock.monotonic() >= before
    assert clock.now().tzinfo is not None


def test_advance_backwards_is_refused() -> None:
    clock = VirtualClock(auto=False)
    with pytest.raises(ValueError):
        asyncio.run(clock.advance(-1))


async def test_a_paced_clock_never_runs_ahead_of_the_wall_clock(clock: VirtualClock) -> None:
    # 200 cluster seconds per wall second: 2 cluster seconds take >= 10 ms.
    clock.pace(200.0)
    wall_start = time.monotonic()
    for _ in range(4):
        await clock.sleep(0.5)
    elapsed = time.monotonic() - wall_start
    assert clock.monotonic() == pytest.approx(2.0)  # timers still fire at their time
    assert elapsed >= 2.0 / 200.0
    clock.pace(None)
    await clock.sleep(3600)  # unpaced again: no wall wait
    assert clock.monotonic() == pytest.approx(3602.0)


async def test_a_paced_clock_follows_its_wall_source(clock: VirtualClock) -> None:
    # A wall source that has already moved on lets due timers fire at once.
    wall = iter(itertools.count(0.0, 1000.0))
    clock.pace(1.0, wall=lambda: next(wall))
    await clock.sleep(500)
    assert clock.monotonic() == pytest.approx(500.0)


def test_pace_rates_must_be_positive() -> None:
    clock = VirtualClock()
    for rate in (0.0, -1.0, math.nan):
        with pytest.raises(ValueError, match="pace rate"):
            clock.pace(rate)


@pytest.mark.parametrize("seconds", [2.0**24 + 1, 2e7, 1e12, 1e300])
async def test_far_timers_fire_in_a_few_loop_turns(clock: VirtualClock, seconds: float) -> None:
    # Past 2**24 s a float cannot hold now + 1e-9, which asyncio adds before
    # running a due timer; and asyncio waits at most a day per loop turn.
    selector = asyncio.get_running_loop()._selector  # type: ignore[attr-defined]
    virtual_select = selector.select
    turns = 0

    def counting(timeout: float | None = None) -> object:
        nonlocal turns
        turns += 1
        return virtual_select(timeout)

    selector.select = counting
    try:
        await clock.sleep(seconds)
    finally:
        selector.select = virtual_select
    assert clock.monotonic() == pytest.approx(seconds)
    assert turns < 10
    assert clock.now().year == (9999 if seconds > 1e11 else DEFAULT_EPOCH.year)


async def test_manual_clock_runs_far_timers() -> None:
    clock = VirtualClock(auto=False)
    with clock.installed():
        fired: list[float] = []
        clock.call_later(3e7, lambda: fired.append(clock.monotonic()))
        await clock.advance(3e7)
        assert fired == pytest.approx([3e7])
