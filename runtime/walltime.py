"""A deadline on the wall clock for code that runs on any clock.

On virtual time, cluster time moves only when every task is idle. A cluster
that is never idle (controllers creating a million pods, one API call after
another) never lets a cluster-time timeout fire, so `kubeloop run --timeout`
alone would run until killed. `wall_deadline(seconds)` bounds such a run in
wall seconds as well:

    async with wall_deadline(60) as deadline:
        await cluster.wait_converged(timeout=60)   # cluster seconds
    if deadline.expired: ...                       # the wall clock ran out

A `threading.Timer` watches the wall clock, since no timer of a virtual loop
can. When it fires it asks the loop, through `call_soon_threadsafe` (which
also wakes a loop blocked in `select`), to expire an `asyncio.timeout` scope.
That callback joins the loop's ready queue, so it runs within one loop
iteration even when the loop is saturated with ready callbacks; the task is
then cancelled at its next `await`, and the scope raises `WallTimeout`
(a `TimeoutError`). Everything else about cancellation is asyncio's.

Neighbours: `runtime.cli` (bounds `kubeloop run`), `engine.clock`.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass

__all__ = ["WallDeadline", "WallTimeout", "wall_deadline"]


class WallTimeout(TimeoutError):
    """The wall-clock deadline passed before the block finished."""


@dataclass(slots=True)
class WallDeadline:
    seconds: float | None
    expired: bool = False


@asynccontextmanager
async def wall_deadline(seconds: float | None) -> AsyncIterator[WallDeadline]:
    """Cancel the block after `seconds` of wall time (None: no deadline) and
    raise `WallTimeout` from it; `expired` records that it happened."""
    deadline = WallDeadline(seconds)
    if seconds is None:
        yield deadline
        return
    loop = asyncio.get_running_loop()
    try:
        async with asyncio.timeout(None) as scope:

            def expire() -> None:  # on the loop's thread
                if not active or scope.expired() or scope.when() is not None:
                    return
                deadline.expired = True
                scope.reschedule(loop.time())  # in the past: expires on the next iteration

            def fire() -> None:  # on the timer's thread
                with suppress(RuntimeError):  # the loop closed meanwhile
                    loop.call_soon_threadsafe(expire)

            active = True
            timer = threading.Timer(max(0.0, seconds), fire)
            timer.daemon = True
            timer.start()
            try:
                yield deadline
            finally:
                active = False
                timer.cancel()
    except TimeoutError:
        if deadline.expired:
            raise WallTimeout(f"wall-clock deadline of {seconds:g} s passed") from None
        raise
