"""Clocks: every timer, timeout, heartbeat and backoff in kubeloop goes through one.

`Clock` is the protocol: wall time (`now`), monotonic seconds, `sleep` and
`call_later`. `RealClock` reads the event loop. `VirtualClock` makes the
running asyncio loop itself virtual: it replaces the loop's `time()` and the
wait of its selector, so that when no task is ready the loop does not wait on
the wall clock but jumps straight to its next timer. Because it works at the
loop level, `anyio.sleep`, `anyio.fail_after` and `asyncio.wait_for` are
virtual too, and a simulation runs as fast as the CPU allows.

The virtual clock has two modes:

* auto (default): whenever every task is idle, time jumps to the next timer;
* manual: time stands still until `advance(dt)` moves it (timers due on the
  way fire in order).

In auto mode, `pace(rate)` caps how fast idle time may jump: from then on
the clock stays at most `rate` cluster seconds per wall second ahead of where
it was when pacing began, and an idle loop waits on the wall clock (in its
`select`, so I/O and other threads still wake it) until the next timer is
due. `pace(1.0)` turns a simulation into a cluster that idles like a real
one (`kubeloop run --watch` does this once converged); `pace(None)` lifts
the cap. A busy loop never moves time, paced or not.

Far timers work too: a jump to a timer years ahead takes one loop turn (asyncio
itself waits at most a day per turn), and past 2**24 s, where asyncio's
`now + 1e-9` no longer changes a float, the clock lands one float past the
timer so that it runs. `now()` holds at the end of the year 9999.

Virtual time needs the asyncio backend with the standard selector loop; real
I/O (sockets, subprocesses) still works, it just does not make time pass.

Neighbours: everything that waits; `engine.workqueue`, `engine.informer` and
the controllers take a `Clock` at construction.
"""

from __future__ import annotations

import asyncio
import math
import selectors
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, runtime_checkable

__all__ = ["DEFAULT_EPOCH", "Clock", "RealClock", "TimerHandle", "VirtualClock", "resolve"]

_MAX_SELECT_TIMEOUT: float = getattr(asyncio.base_events, "MAXIMUM_SELECT_TIMEOUT", 86400.0)

DEFAULT_EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
"""Wall time at virtual t=0, fixed so that virtual runs are reproducible."""


@runtime_checkable
class TimerHandle(Protocol):
    def cancel(self) -> None: ...


class Clock(Protocol):
    """Time as kubeloop sees it."""

    def now(self) -> datetime:
        """Wall-clock time, timezone-aware UTC (creationTimestamp, conditions)."""
        ...

    def monotonic(self) -> float:
        """Seconds on a monotonic scale (timeouts, backoff, latency)."""
        ...

    async def sleep(self, seconds: float) -> None: ...

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        """Run `callback` once after `delay` seconds on the running loop."""
        ...


class RealClock:
    """The wall clock, through the running event loop.

    `monotonic()` counts seconds from the clock's creation (as the virtual
    clock counts from 0), not the machine's uptime, so "cluster seconds" and
    scenario `at:` times mean the same on both clocks. `now()` is the real
    wall time.
    """

    def __init__(self) -> None:
        # asyncio's default loop time is time.monotonic(), so this origin is
        # on the loop's scale without needing a running loop here.
        self._origin = time.monotonic()

    def now(self) -> datetime:
        return datetime.now(UTC)

    def monotonic(self) -> float:
        return asyncio.get_running_loop().time() - self._origin

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)


class VirtualClock:
    """A clock that advances only when the loop is idle (auto) or when told (manual).

    Use it as `with clock.installed():` inside a running loop (or let
    `Cluster` and the test fixtures do it). Outside `installed()` it reads as
    frozen time and cannot sleep.
    """

    def __init__(self, *, auto: bool = True, epoch: datetime = DEFAULT_EPOCH) -> None:
        self._auto = auto
        self._epoch = epoch
        self._offset = 0.0  # virtual seconds since installation
        self._limit = math.inf if auto else 0.0
        self._loop: asyncio.AbstractEventLoop | None = None
        self._pace: _Pace | None = None

    @property
    def auto(self) -> bool:
        return self._auto

    def now(self) -> datetime:
        try:
            return self._epoch + timedelta(seconds=self._offset)
        except OverflowError:  # past the year 9999 (a wait of int64 seconds)
            return datetime.max.replace(tzinfo=self._epoch.tzinfo)

    def monotonic(self) -> float:
        return self._offset

    def _loop_time(self) -> float:
        return self._offset

    async def sleep(self, seconds: float) -> None:
        self._require_loop()
        await asyncio.sleep(max(0.0, seconds))

    def call_later(self, delay: float, callback: Callable[[], object]) -> TimerHandle:
        return self._require_loop().call_later(max(0.0, delay), callback)

    def pace(self, rate: float | None, *, wall: Callable[[], float] = time.monotonic) -> None:
        """Let idle time advance at most `rate` cluster seconds per second of
        `wall` from now on (None: as fast as timers allow)."""
        if rate is not None and not rate > 0:
            raise ValueError(f"pace rate must be > 0, got {rate}")
        self._pace = None if rate is None else _Pace(rate, self._offset, wall(), wall)

    async def advance(self, seconds: float) -> None:
        """Move time forward by `seconds`, firing due timers in order, then let
        every task that became ready run before returning."""
        if seconds < 0:
            raise ValueError("cannot advance a clock backwards")
        loop = self._require_loop()
        target = self._offset + seconds
        if not self._auto:
            self._limit = target
        done = loop.create_future()
        loop.call_at(target, resolve, done)
        await done
        await self.settle()
        if not self._auto:
            self._limit = self._offset

    async def settle(self, rounds: int = 64) -> None:
        """Yield until no other task is ready, without moving time (bounded)."""
        loop = self._require_loop()
        for _ in range(rounds):
            await asyncio.sleep(0)
            if not getattr(loop, "_ready", None):
                break

    def _require_loop(self) -> asyncio.AbstractEventLoop:
        if self._loop is None:
            raise RuntimeError("VirtualClock is not installed on a running loop")
        return self._loop

    @contextmanager
    def installed(self) -> Iterator[VirtualClock]:
        """Make the running loop's time virtual for the duration of the block."""
        loop = asyncio.get_running_loop()
        selector = getattr(loop, "_selector", None)
        if selector is None or not isinstance(selector, selectors.BaseSelector):
            raise RuntimeError("VirtualClock needs asyncio's selector event loop")
        if self._loop is not None:
            raise RuntimeError("VirtualClock is already installed")
        original_select = selector.select
        resolution: float = getattr(loop, "_clock_resolution", 1e-9)

        def land(target: float) -> float:
            # asyncio runs a timer once `when < time() + resolution`. Past
            # 2**24 s (194 days) adding 1e-9 no longer changes a float, so a
            # clock landing exactly on a timer would never run it: land one
            # float further.
            return target if target + resolution > target else math.nextafter(target, math.inf)

        # Loop time becomes the virtual offset itself, starting near zero, so
        # float arithmetic on timers never depends on the machine's uptime
        # (which would make timer order differ between runs). Timers already
        # scheduled keep their distance from now.
        shift_timers(loop, self._offset - loop.time())

        def virtual_select(timeout: float | None = None) -> list[Any]:
            # The loop asks to wait `timeout` seconds only when nothing is ready:
            # that is the moment to jump to the next timer instead of waiting.
            if timeout is None:
                if self._limit is math.inf or self._limit <= self._offset:
                    return original_select(None)
                self._offset = land(self._limit)
                return original_select(0)
            if timeout >= _MAX_SELECT_TIMEOUT and (scheduled := getattr(loop, "_scheduled", None)):
                # asyncio waits at most a day at a time; a virtual jump to a
                # timer years away need not take one loop turn per day.
                timeout = max(timeout, scheduled[0].when() - self._offset)
            if timeout > 0:
                step = min(timeout, max(0.0, self._limit - self._offset))
                if step > 0:
                    pace = self._pace
                    if pace is not None and (early := self._offset + step - pace.allowed()) > 0:
                        # Ahead of the pace: wait on the wall clock (woken early
                        # by I/O), then move only as far as the pace allows.
                        events = original_select(early / pace.rate)
                        target = min(self._offset + step, pace.allowed())
                        self._offset = max(self._offset, land(target))
                        return events
                    self._offset = land(self._offset + step)
                    return original_select(0)
            return original_select(timeout)

        loop.time = self._loop_time  # type: ignore[method-assign]
        selector.select = virtual_select  # type: ignore[method-assign]
        self._loop = loop
        try:
            yield self
        finally:
            self._loop = None
            del loop.time
            del selector.select
            shift_timers(loop, loop.time() - self._offset)


@dataclass(frozen=True, slots=True)
class _Pace:
    rate: float  # cluster seconds per wall second
    origin: float  # cluster time when pacing began
    wall_origin: float
    wall: Callable[[], float]

    def allowed(self) -> float:
        """The latest cluster time the pace allows now."""
        return self.origin + (self.wall() - self.wall_origin) * self.rate


def shift_timers(loop: asyncio.AbstractEventLoop, delta: float) -> None:
    """Move every scheduled timer of `loop` by `delta` seconds (order kept)."""
    for handle in getattr(loop, "_scheduled", ()):
        handle._when += delta  # asyncio keeps no public setter


def resolve(future: asyncio.Future[None]) -> None:
    """Complete `future` unless it is already done (a timer callback)."""
    if not future.done():
        future.set_result(None)
