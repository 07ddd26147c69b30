"""Helpers shared by tests: running a coroutine on a fresh loop with virtual time."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import TypeVar

from engine.clock import VirtualClock

T = TypeVar("T")


def run_virtual(fn: Callable[[VirtualClock], Awaitable[T]], *, auto: bool = True) -> T:
    """Run `fn(clock)` on a new event loop whose time is a `VirtualClock`.

    For hypothesis tests: each example gets its own loop and clock, so examples
    never share state and replay exactly.
    """

    async def main() -> T:
        clock = VirtualClock(auto=auto)
        with clock.installed():
            return await fn(clock)

    return asyncio.run(main())
