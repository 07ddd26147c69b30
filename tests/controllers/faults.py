"""Faults for controller tests: a client whose watches deliver late (a slow
informer), and a client whose creates of one kind can be made to fail.

`DelayedWatches(client, clock, delay, kinds)` hands informers watchers that
hold every event back for at least `delay` virtual seconds, in order, so their
caches lag the store as a loaded apiserver or network would make them lag.
Lists are not delayed (an informer's first list is current).
`FailingCreates(client, kind)` raises `Forbidden` on creates of `kind` while
`failing` is true, counting attempts, as an exhausted quota would.
`LosingWatches(client, kind)` loses every watch event of `kind` while `losing`
is true (an informer then misses those changes until it lists again).
"""

from __future__ import annotations

from collections import deque
from typing import Any, Generic, TypeVar

from engine.api.base import Resource
from engine.client import LocalClient
from engine.clock import Clock
from engine.errors import Forbidden
from engine.watch import BOOKMARK, WatchEvent, WatchStream

R = TypeVar("R", bound=Resource)


class DelayedWatcher(Generic[R]):
    """Wraps a watcher; `next_batch` returns only events older than `delay`."""

    def __init__(self, inner: WatchStream[R], clock: Clock, delay: float) -> None:
        self._inner = inner
        self._clock = clock
        self._delay = delay
        self._held: deque[tuple[float, WatchEvent[R]]] = deque()

    def _take(self, events: list[WatchEvent[R]]) -> None:
        now = self._clock.monotonic()
        self._held.extend((now, event) for event in events)

    async def next_batch(self) -> list[WatchEvent[R]]:
        self._take(self._inner.drain())
        if not self._held:
            self._take(await self._inner.next_batch())
        due = self._held[0][0] + self._delay
        wait = due - self._clock.monotonic()
        if wait > 0:
            await self._clock.sleep(wait)
        self._take(self._inner.drain())
        now = self._clock.monotonic()
        batch = []
        while self._held and self._held[0][0] + self._delay <= now:
            batch.append(self._held.popleft()[1])
        return batch

    def stop(self) -> None:
        self._inner.stop()


class DelayedWatches:
    """A client whose watches of `kinds` are delayed; everything else passes through."""

    def __init__(
        self, client: LocalClient, clock: Clock, delay: float, kinds: tuple[type[Resource], ...]
    ) -> None:
        self._client = client
        self._clock = clock
        self._delay = delay
        self._kinds = kinds

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def watch(self, kind: type[R], **options: Any) -> Any:
        watcher = await self._client.watch(kind, **options)
        if kind in self._kinds:
            return DelayedWatcher(watcher, self._clock, self._delay)
        return watcher


class FailingCreates(LocalClient):
    """A LocalClient whose creates of `kind` fail while `failing` is set."""

    def __init__(self, client: LocalClient, kind: type[Resource]) -> None:
        super().__init__(client.store)
        self.kind = kind
        self.failing = False
        self.attempts = 0

    async def create(self, obj: R) -> R:
        if isinstance(obj, self.kind):
            self.attempts += 1
            if self.failing:
                raise Forbidden(f'{self.kind.plural} "{obj.metadata.name}" is forbidden: quota')
        return await super().create(obj)


class LosingWatcher:
    """While `losing` is set, every event becomes a BOOKMARK of its revision
    (as a lost event looks to an informer: resuming the watch skips it)."""

    def __init__(self, inner: WatchStream[Any], owner: LosingWatches) -> None:
        self._inner = inner
        self._owner = owner

    async def next_batch(self) -> list[WatchEvent[Any]]:
        batch = await self._inner.next_batch()
        if not self._owner.losing:
            return batch
        return [WatchEvent(BOOKMARK, None, event.revision) for event in batch]

    def stop(self) -> None:
        self._inner.stop()


class LosingWatches:
    """A client whose watches of `kind` lose their events while `losing` is set."""

    def __init__(self, client: LocalClient, kind: type[Resource]) -> None:
        self._client = client
        self._kind = kind
        self.losing = False

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def watch(self, kind: type[Resource], **options: Any) -> Any:
        watcher = await self._client.watch(kind, **options)
        return LosingWatcher(watcher, self) if kind is self._kind else watcher
