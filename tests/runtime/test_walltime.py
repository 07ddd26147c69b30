"""A wall-clock deadline ends a block even when virtual time stands still
because the loop is never idle."""

from __future__ import annotations

import asyncio

import pytest

from engine.clock import VirtualClock
from runtime.walltime import WallTimeout, wall_deadline


async def _saturate(stop: asyncio.Event) -> None:
    """Keep the loop's ready queue full: every turn schedules more work at once."""
    while not stop.is_set():
        asyncio.get_running_loop().call_soon(lambda: None)
        await asyncio.sleep(0)


async def test_wall_deadline_ends_a_saturated_virtual_loop(clock: VirtualClock) -> None:
    stop = asyncio.Event()
    spinners = [asyncio.create_task(_saturate(stop)) for _ in range(4)]
    try:
        with pytest.raises(WallTimeout):
            async with wall_deadline(0.05) as deadline:
                await clock.sleep(60)  # never due: the loop is never idle
        assert deadline.expired
        assert clock.monotonic() == 0  # cluster time stood still all along
    finally:
        stop.set()
        await asyncio.gather(*spinners)


async def test_a_block_that_finishes_first_is_untouched(clock: VirtualClock) -> None:
    async with wall_deadline(30) as deadline:
        await clock.sleep(3600)  # virtual: instant
    assert not deadline.expired
    async with wall_deadline(None) as unbounded:
        await asyncio.sleep(0)
    assert not unbounded.expired


async def test_a_timeout_of_the_block_itself_is_not_the_wall_deadline(
    clock: VirtualClock,
) -> None:
    with pytest.raises(TimeoutError) as caught:
        async with wall_deadline(30):
            async with asyncio.timeout(5):  # cluster time
                await clock.sleep(10)
    assert not isinstance(caught.value, WallTimeout)
