"""The workqueue: what a controller has left to reconcile, with client-go's guarantees.

Informer handlers `add` keys; worker tasks `get` a key, reconcile it, and call
`done`. The queue guarantees, as client-go's `util/workqueue` does:

* **One worker per key.** An item handed out by `get` is *processing* until
  `done(item)`; it is never handed to a second worker meanwhile. Adding it
  while it is processing marks it dirty, and `done` puts it back in the queue,
  so the change behind that add is seen by a later reconcile.
* **Coalescing.** Adding an item that is already waiting in the queue does
  nothing: ten events for one key before a worker is free cost one reconcile.
* **Fair order.** Items are handed out first in, first out.
* **Delays.** `add_after(item, delay)` adds it later (one timer per item; a
  later call with an earlier due time wins, a later due time is dropped).
  `add_rate_limited(item)` is `add_after(item, rate_limiter.when(item))`;
  `forget(item)` resets the item's backoff once it succeeded.
* **Shutdown.** After `shutdown()` adds are ignored, delayed adds are
  cancelled and `get()` raises `ShutDown` at once. `shutdown_with_drain()`
  also ignores adds and cancels delayed adds, but `get()` keeps handing out
  what is already queued (and dirty items `done()` requeues) and raises
  `ShutDown` only when the queue is empty; it returns once the queue is empty
  and nothing is processing, so no key accepted before shutdown is lost.
  Unlike client-go, which returns as soon as nothing is processing, it waits
  for the queue too, so workers must keep calling `get()` until `ShutDown`.

Everything runs on one event loop: `add`, `add_after`, `done` and `forget`
are plain synchronous calls (safe from informer handlers and timer callbacks),
`get` and `shutdown_with_drain` are the only awaits. `add` is on the informer
hot path and does a few set and deque operations, nothing more.

Neighbours: `engine.ratelimit` (retry delays), `engine.clock` (timers and the
processing-time statistics), the controller runtime (workers) and informer
event handlers (producers).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import deque
from collections.abc import Hashable
from dataclasses import dataclass
from functools import partial
from typing import Generic, TypeVar

from engine.clock import Clock, TimerHandle
from engine.logging import get_logger
from engine.ratelimit import RateLimiter, default_controller_rate_limiter

__all__ = ["ShutDown", "WorkQueue", "WorkQueueStatistics"]

T = TypeVar("T", bound=Hashable)

_log = get_logger("workqueue")


class ShutDown(Exception):
    """`get()` on a queue that is shut down (and, with drain, empty): the worker should exit."""


@dataclass(frozen=True, slots=True)
class WorkQueueStatistics:
    """A snapshot of a `WorkQueue` (see `WorkQueue.statistics()`)."""

    name: str
    depth: int
    """Items waiting in the queue to be handed out."""
    processing: int
    """Items handed out by `get()` and not yet `done()`."""
    dirty: int
    """Items that need processing: the queued ones plus those re-added while processing."""
    waiting_delayed: int
    """Items with a pending `add_after` / `add_rate_limited` timer."""
    waiting_getters: int
    """`get()` calls waiting for an item."""
    adds_total: int
    """Adds that were accepted, not counting coalesced duplicates and adds during shutdown."""
    retries_total: int
    """Calls to `add_after` / `add_rate_limited` before shutdown (client-go's retries metric)."""
    gets_total: int
    """Items handed out by `get()`."""
    max_depth: int
    """The largest `depth` seen since the queue was created."""
    longest_running_processor_seconds: float
    """How long the item processing for the longest time has been at it (0 if none)."""
    unfinished_work_seconds: float
    """Sum over items processing of how long each has been at it."""
    shutting_down: bool


@dataclass(slots=True)
class _Delayed:
    ready_at: float
    timer: TimerHandle


class WorkQueue(Generic[T]):
    """A client-go workqueue (rate-limiting, delaying, coalescing) on asyncio.

    Typical worker::

        while True:
            try:
                key = await queue.get()
            except ShutDown:
                return
            try:
                await reconcile(key)
            except Exception:
                queue.add_rate_limited(key)
            else:
                queue.forget(key)
            finally:
                queue.done(key)
    """

    def __init__(
        self,
        clock: Clock,
        *,
        name: str = "",
        rate_limiter: RateLimiter[T] | None = None,
    ) -> None:
        self._clock = clock
        self.name = name
        self._rate_limiter: RateLimiter[T] = (
            rate_limiter if rate_limiter is not None else default_controller_rate_limiter(clock)
        )

        # The order in which items are handed out. Every item in _queue is in
        # _dirty and not in _processing, and appears in _queue only once.
        self._queue: deque[T] = deque()
        # Every item that needs processing: those in _queue, plus items added
        # again while processing (these wait here, not in _queue, until done()).
        self._dirty: set[T] = set()
        # Items handed out by get() and not yet done(), each with the monotonic
        # time it was handed out. Such an item may also be in _dirty, never in
        # _queue. Insertion order is hand-out order, so the first entry is the
        # longest-running one.
        self._processing: dict[T, float] = {}
        # get() calls waiting for an item, oldest first. A future is resolved
        # (with None) to wake its getter, which then looks at _queue again.
        self._getters: deque[asyncio.Future[None]] = deque()
        # Items with a pending delayed add: when it is due, and its timer.
        self._waiting: dict[T, _Delayed] = {}
        # shutdown_with_drain() calls waiting for the queue to drain.
        self._drain_waiters: list[asyncio.Future[None]] = []
        self._shutting_down = False
        self._drain = False

        self._adds_total = 0
        self._retries_total = 0
        self._gets_total = 0
        self._max_depth = 0

    def __repr__(self) -> str:
        return (
            f"<WorkQueue {self.name!r} depth={len(self._queue)} "
            f"processing={len(self._processing)} shutting_down={self._shutting_down}>"
        )

    # -- adding --------------------------------------------------------------

    def add(self, item: T) -> None:
        """Mark `item` as needing processing (no-op if it already does, or after shutdown)."""
        if self._shutting_down or item in self._dirty:
            return
        self._adds_total += 1
        self._dirty.add(item)
        if item in self._processing:
            return  # done() will queue it
        queue = self._queue
        queue.append(item)
        if len(queue) > self._max_depth:
            self._max_depth = len(queue)
        if self._getters:
            self._wake_one_getter()

    def add_after(self, item: T, delay: float) -> None:
        """Add `item` once `delay` seconds have passed (at once if `delay <= 0`).

        One pending delayed add per item: if one is already pending, the one
        due sooner is kept. A delayed add does not stop an immediate `add`.
        """
        if self._shutting_down:
            return
        self._retries_total += 1
        if delay <= 0:
            self.add(item)
            return
        ready_at = self._clock.monotonic() + delay
        pending = self._waiting.get(item)
        if pending is not None:
            if pending.ready_at <= ready_at:
                return
            pending.timer.cancel()
        timer = self._clock.call_later(delay, partial(self._delay_elapsed, item))
        self._waiting[item] = _Delayed(ready_at, timer)

    def _delay_elapsed(self, item: T) -> None:
        self._waiting.pop(item, None)
        self.add(item)

    def add_rate_limited(self, item: T) -> None:
        """Add `item` after the delay the rate limiter gives it (a retry after failure)."""
        if self._shutting_down:
            return  # do not count a retry that will never happen
        self.add_after(item, self._rate_limiter.when(item))

    def forget(self, item: T) -> None:
        """Reset the rate limiter's memory of `item` (call after it succeeded or was dropped).
        Forgetting does not replace `done()`."""
        self._rate_limiter.forget(item)

    def num_requeues(self, item: T) -> int:
        """How many rate-limited retries `item` had since it was last forgotten."""
        return self._rate_limiter.num_requeues(item)

    # -- processing ----------------------------------------------------------

    async def get(self) -> T:
        """Wait for the next item and mark it processing; call `done(item)` when finished.

        Raises `ShutDown` once the queue is shut down: immediately after
        `shutdown()`, or when nothing is left queued after `shutdown_with_drain()`.
        Cancelling a waiting `get()` loses no item.
        """
        while not self._queue or (self._shutting_down and not self._drain):
            if self._shutting_down:
                raise ShutDown(f"workqueue {self.name!r} is shut down")
            getter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
            self._getters.append(getter)
            try:
                await getter
            except BaseException:
                getter.cancel()
                with contextlib.suppress(ValueError):  # unless already popped by a waker
                    self._getters.remove(getter)
                # Woken for an item, but cancelled before taking it: pass the
                # wake-up on so that the item does not sit with a getter asleep.
                if not getter.cancelled() and self._queue:
                    self._wake_one_getter()
                raise
        item = self._queue.popleft()
        self._dirty.discard(item)
        self._processing[item] = self._clock.monotonic()
        self._gets_total += 1
        return item

    def done(self, item: T) -> None:
        """Finish processing `item`; if it was added meanwhile, queue it again."""
        try:
            del self._processing[item]
        except KeyError:
            raise ValueError(
                f"workqueue {self.name!r}: done({item!r}) for an item that is not processing"
            ) from None
        if item in self._dirty:
            self._queue.append(item)
            if len(self._queue) > self._max_depth:
                self._max_depth = len(self._queue)
            if self._getters:
                self._wake_one_getter()
        elif self._drain_waiters and not self._processing and not self._queue:
            self._release_drain_waiters()

    def _wake_one_getter(self) -> None:
        getters = self._getters
        while getters:
            getter = getters.popleft()
            if not getter.done():
                getter.set_result(None)
                return

    # -- shutdown ------------------------------------------------------------

    @property
    def shutting_down(self) -> bool:
        return self._shutting_down

    def shutdown(self) -> None:
        """Ignore adds from now on, cancel delayed adds, and make every `get()`
        raise `ShutDown` at once. Releases a pending `shutdown_with_drain()`."""
        self._drain = False
        self._begin_shutdown()
        self._release_drain_waiters()

    async def shutdown_with_drain(self) -> None:
        """Ignore adds from now on and cancel delayed adds; wait until every item
        already queued has been handed out and every item processing is done.

        Workers must keep getting and finishing items until `get()` raises
        `ShutDown`, or this never returns; `shutdown()` cuts it short. After
        `shutdown()` it returns at once.
        """
        if not self._shutting_down:
            self._drain = True
            self._begin_shutdown()
        if not self._drain or (not self._queue and not self._processing):
            return
        waiter: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._drain_waiters.append(waiter)
        try:
            await waiter
        finally:
            if waiter in self._drain_waiters:
                self._drain_waiters.remove(waiter)

    def _begin_shutdown(self) -> None:
        if not self._shutting_down:
            _log.debug("shutting down", queue=self.name, drain=self._drain)
        self._shutting_down = True
        for pending in self._waiting.values():
            pending.timer.cancel()
        self._waiting.clear()
        # Every getter re-checks: with drain it may still take a queued item.
        getters = self._getters
        while getters:
            getter = getters.popleft()
            if not getter.done():
                getter.set_result(None)

    def _release_drain_waiters(self) -> None:
        waiters, self._drain_waiters = self._drain_waiters, []
        for waiter in waiters:
            if not waiter.done():
                waiter.set_result(None)

    # -- inspection ----------------------------------------------------------

    def __len__(self) -> int:
        """Items queued and not yet handed out (informational, as client-go's Len)."""
        return len(self._queue)

    def is_processing(self, item: T) -> bool:
        return item in self._processing

    def statistics(self) -> WorkQueueStatistics:
        now = self._clock.monotonic() if self._processing else 0.0
        started = list(self._processing.values())
        return WorkQueueStatistics(
            name=self.name,
            depth=len(self._queue),
            processing=len(self._processing),
            dirty=len(self._dirty),
            waiting_delayed=len(self._waiting),
            waiting_getters=sum(1 for getter in self._getters if not getter.done()),
            adds_total=self._adds_total,
            retries_total=self._retries_total,
            gets_total=self._gets_total,
            max_depth=self._max_depth,
            longest_running_processor_seconds=now - started[0] if started else 0.0,
            unfinished_work_seconds=sum(now - start for start in started),
            shutting_down=self._shutting_down,
        )
