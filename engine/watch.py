"""Watch events and watchers: the store's fan-out to its readers.

A `Watcher` is one reader's bounded buffer of `WatchEvent`s. The store pushes
into every matching watcher synchronously on each write (a deque append and,
if the reader waits, one wake-up), so writers never block. A watcher whose
buffer overflows is ended with `Gone`: its reader resumes from the last
revision it saw, or relists if that is no longer in the history. Memory per
watcher is therefore bounded by its capacity.

Readers consume events one by one (`async for event in watcher`) or in batches
(`await watcher.next_batch()`), which is what informers do to keep the
per-event cost low. With bookmarks on, a reader that has received nothing for
`bookmark_interval` seconds gets a BOOKMARK event carrying the current revision,
so it can resume from there even when its selector filtered everything out.

`WatchStream` is what `Client.watch` promises: an async iterator of events
and an async context manager that stops it, with `next_batch`, `drain` and
`stop`. `Watcher` is the in-process one; a remote client (a watch over HTTP)
or a wrapper (fault injection) implements the same protocol, so informers and
controllers never depend on the store's concrete watcher.

Neighbours: `engine.watchcache` creates watchers and pushes into them;
`engine.informer` consumes them through `WatchStream`.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Generic, Literal, Protocol, TypeVar

from engine.api.base import Resource
from engine.clock import Clock, TimerHandle
from engine.errors import ApiError, Gone

__all__ = [
    "ADDED",
    "BOOKMARK",
    "DELETED",
    "MODIFIED",
    "EventType",
    "WatchEvent",
    "WatchStream",
    "Watcher",
]

EventType = Literal["ADDED", "MODIFIED", "DELETED", "BOOKMARK"]
ADDED: EventType = "ADDED"
MODIFIED: EventType = "MODIFIED"
DELETED: EventType = "DELETED"
BOOKMARK: EventType = "BOOKMARK"

R = TypeVar("R", bound=Resource)


@dataclass(frozen=True, slots=True)
class WatchEvent(Generic[R]):
    """One change. `revision` is the store revision of the change (for BOOKMARK,
    the revision up to which everything has been delivered); `object` is the
    object after the change (for DELETED, its last state stamped with the
    deletion revision; for BOOKMARK, None)."""

    type: EventType
    object: R | None
    revision: int


class WatchStream(Protocol[R]):
    """One watch, as a `Client` hands it out (see the module docstring).

    Events come in revision order. When the watch ends, reading raises
    `StopAsyncIteration` once the buffered events are read, or the error that
    ended it (Gone: resume from the last revision seen, or relist)."""

    async def next_batch(self) -> list[WatchEvent[R]]:
        """Every event received, waiting for at least one (or a BOOKMARK)."""
        ...

    def drain(self) -> list[WatchEvent[R]]:
        """Every event received, without waiting (empty if none)."""
        ...

    def stop(self) -> None:
        """End the watch; what is buffered can still be read."""
        ...

    def __len__(self) -> int:
        """How many received events wait to be read."""
        ...

    def __aiter__(self) -> WatchStream[R]: ...

    async def __anext__(self) -> WatchEvent[R]: ...

    async def __aenter__(self) -> WatchStream[R]: ...

    async def __aexit__(self, *exc: object) -> None: ...


class Watcher(Generic[R]):
    """A bounded event buffer with one reader. Created by `Store.watch`."""

    __slots__ = (
        "_bookmark_interval",
        "_bookmark_timer",
        "_buffer",
        "_capacity",
        "_clock",
        "_current_revision",
        "_error",
        "_on_close",
        "_stopped",
        "_wait_started",
        "_wakeup",
        "field_selector",
        "label_selector",
        "namespace",
    )

    def __init__(
        self,
        *,
        capacity: int,
        namespace: str | None,
        label_selector: Any,
        field_selector: Any,
        clock: Clock,
        current_revision: Callable[[], int],
        on_close: Callable[[Watcher[Any]], None],
        bookmark_interval: float | None,
    ) -> None:
        self._buffer: deque[WatchEvent[R]] = deque()
        self._capacity = capacity
        self._wakeup: asyncio.Future[None] | None = None
        self._stopped = False
        self._error: ApiError | None = None
        self._clock = clock
        self._current_revision = current_revision
        self._on_close = on_close
        self._bookmark_interval = bookmark_interval
        # One bookmark timer per watcher, re-armed only when it fires during a
        # wait that has not lasted the interval yet: arming and cancelling a
        # timer on every wait cost more than the rest of a wait.
        self._bookmark_timer: TimerHandle | None = None
        self._wait_started = 0.0
        self.namespace = namespace
        self.label_selector = label_selector
        self.field_selector = field_selector

    # -- writer side (the store) -------------------------------------------------

    def push(self, event: WatchEvent[R]) -> None:
        """Append an event; end the watch with Gone if the reader fell too far behind."""
        buffer = self._buffer
        buffer.append(event)
        if len(buffer) > self._capacity:
            self._fail(
                Gone(
                    f"watch buffer of {self._capacity} events overflowed; "
                    f"resume from the last revision seen or relist"
                )
            )
            return
        wakeup = self._wakeup
        if wakeup is not None:
            self._wakeup = None
            if not wakeup.done():
                wakeup.set_result(None)

    def _fail(self, error: ApiError) -> None:
        self._buffer.clear()
        self._error = error
        self.stop()

    # -- reader side ---------------------------------------------------------------

    @property
    def stopped(self) -> bool:
        return self._stopped

    def stop(self) -> None:
        """End the watch; the reader drains what is buffered, then stops."""
        if self._stopped:
            return
        self._stopped = True
        self._on_close(self)
        if self._bookmark_timer is not None:
            self._bookmark_timer.cancel()
            self._bookmark_timer = None
        wakeup = self._wakeup
        if wakeup is not None and not wakeup.done():
            wakeup.set_result(None)

    def close(self) -> None:
        """Alias of `stop`, for `contextlib.closing` and readers that expect it."""
        self.stop()

    async def next_batch(self) -> list[WatchEvent[R]]:
        """Every buffered event, waiting for at least one. Raises Gone if the watch
        was cut off, StopAsyncIteration once stopped and drained."""
        while not self._buffer:
            if self._stopped:
                if self._error is not None:
                    raise self._error
                raise StopAsyncIteration
            await self._wait()
            if not self._buffer and self._bookmark_due():
                return [WatchEvent(BOOKMARK, None, self._current_revision())]
        batch = list(self._buffer)
        self._buffer.clear()
        return batch

    def drain(self) -> list[WatchEvent[R]]:
        """Every buffered event, without waiting (empty if none). Raises Gone if
        the watch was cut off."""
        if not self._buffer and self._error is not None:
            raise self._error
        batch = list(self._buffer)
        self._buffer.clear()
        return batch

    def _bookmark_due(self) -> bool:
        return self._bookmark_interval is not None and not self._stopped

    async def _wait(self) -> None:
        loop = asyncio.get_running_loop()
        wakeup = loop.create_future()
        self._wakeup = wakeup
        if self._bookmark_interval is None:
            await wakeup
            return
        self._wait_started = self._clock.monotonic()
        if self._bookmark_timer is None:
            self._bookmark_timer = self._clock.call_later(
                self._bookmark_interval, self._bookmark_tick
            )
        try:
            await wakeup
        finally:
            if self._wakeup is wakeup:
                self._wakeup = None

    def _bookmark_tick(self) -> None:
        """The bookmark timer: wake a reader that has waited `bookmark_interval`
        seconds; for a wait that started later, fire again when it will have."""
        self._bookmark_timer = None
        wakeup = self._wakeup
        if wakeup is None or wakeup.done() or self._stopped or self._bookmark_interval is None:
            return  # not waiting: the next wait arms the timer again
        remaining = self._wait_started + self._bookmark_interval - self._clock.monotonic()
        if remaining > 1e-6:
            self._bookmark_timer = self._clock.call_later(remaining, self._bookmark_tick)
            return
        wakeup.set_result(None)

    def __aiter__(self) -> Watcher[R]:
        return self

    async def __anext__(self) -> WatchEvent[R]:
        if not self._buffer:
            batch = await self.next_batch()
            if len(batch) == 1:
                return batch[0]
            self._buffer.extendleft(reversed(batch))
        return self._buffer.popleft()

    async def __aenter__(self) -> Watcher[R]:
        return self

    async def __aexit__(self, *exc: object) -> None:
        self.stop()

    def __len__(self) -> int:
        return len(self._buffer)
