"""The scheduler when it cannot tell at once whether a bind was written: the
pod keeps its room on the node.

* A bind answered with an error although it was written (a timeout after the
  commit). Found by the simulation fuzzer (write_errors with timeouts): the
  scheduler forgot the assumed pod on the error and, until its informer showed
  the pod bound, placed other pods in the room the bound pod held,
  overcommitting the node.
* A bind whose event never reaches the informer (lost until a relist): the
  assumed pod expired after 30 s and its room was given away the same way.
"""

from __future__ import annotations

import random
from typing import Any

from controllers.scheduler.scheduler import Scheduler
from engine.api import Pod
from engine.api.base import Resource
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.errors import InternalError, ServerTimeout
from engine.manager import Manager
from engine.store import Store
from engine.watch import BOOKMARK, MODIFIED, WatchEvent
from tests.controllers.faults import DelayedWatcher
from tests.scheduler.builders import node, pod

POD_EVENT_DELAY = 10.0


class AmbiguousBinds(LocalClient):
    """Binds of the pods in `time_out` are written, then answered with a
    timeout; binds of the pods in `refuse` fail without being written. Pod
    watch events arrive late (`DelayedWatcher`: the first of a batch after
    `POD_EVENT_DELAY` seconds, those behind it up to as much again), so the
    scheduler's informer cannot tell it what happened."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        super().__init__(store)
        self.clock = clock
        self.time_out: set[str] = set()
        self.refuse: set[str] = set()

    async def bind(self, name: str, node_name: str, *, namespace: str | None = None) -> Resource:
        if name in self.refuse:
            self.refuse.discard(name)
            raise InternalError("injected: nothing written")
        bound = await super().bind(name, node_name, namespace=namespace)
        if name in self.time_out:
            self.time_out.discard(name)
            raise ServerTimeout("injected: the bind was written")
        return bound

    async def watch(self, kind: type[Any], **options: Any) -> Any:
        watcher = await super().watch(kind, **options)
        if kind is Pod:
            return DelayedWatcher(watcher, self.clock, POD_EVENT_DELAY)
        return watcher


async def _scheduler(clock: VirtualClock) -> tuple[Store, AmbiguousBinds, Manager, Scheduler]:
    store = Store(clock=clock, rng=random.Random(0))
    store.create(node("a", cpu="1"))
    client = AmbiguousBinds(store, clock)
    manager = Manager(client, clock=clock, rng=random.Random(1))
    scheduler = Scheduler(client, manager.factory, clock=clock, rng=random.Random(2))
    manager.add_runnable(scheduler.run)
    return store, client, manager, scheduler


async def test_a_bind_written_before_a_timeout_keeps_the_pods_room(clock: VirtualClock) -> None:
    store, client, manager, scheduler = await _scheduler(clock)
    async with manager:
        client.time_out.add("first")
        store.create(pod("first", cpu="800m"))
        await clock.advance(1)
        # The scheduler sees these while the event of first's bind is still on its way.
        store.create(pod("second", cpu="800m"))
        store.create(pod("third", cpu="100m"))
        await clock.advance(2 * POD_EVENT_DELAY)
        assert store.get(Pod, "first").spec.node_name == "a"
        # The node has 200m left beside first: second must wait, third fits.
        assert store.get(Pod, "second").spec.node_name is None
        assert store.get(Pod, "third").spec.node_name == "a"
        assert scheduler.cache.is_assumed(("default", "first"))  # not confirmed yet
        await clock.advance(2 * POD_EVENT_DELAY)
        assert not scheduler.cache.is_assumed(("default", "first"))  # confirmed since
        assert store.get(Pod, "second").spec.node_name is None
        stats = scheduler.statistics()
        assert (stats.scheduled, stats.bind_failures) == (2, 0)


async def test_a_bind_that_was_not_written_is_forgotten_and_retried(clock: VirtualClock) -> None:
    store, client, manager, scheduler = await _scheduler(clock)
    async with manager:
        client.refuse.add("only")
        store.create(pod("only", cpu="800m"))
        await clock.advance(POD_EVENT_DELAY + 0.5)
        stats = scheduler.statistics()
        assert stats.bind_failures == 1
        # Retried after its backoff, and bound this time.
        await clock.advance(POD_EVENT_DELAY + 2)
        assert store.get(Pod, "only").spec.node_name == "a"
        assert scheduler.statistics().scheduled == 1


class LostConfirmations(LocalClient):
    """Binds succeed, but the changes (MODIFIED events) of the pods in `lose`
    never reach the informer (only a relist would show them)."""

    def __init__(self, store: Store) -> None:
        super().__init__(store)
        self.lose: set[str] = set()

    async def watch(self, kind: type[Any], **options: Any) -> Any:
        watcher = await super().watch(kind, **options)
        return _Losing(watcher, self.lose) if kind is Pod else watcher


class _Losing:
    def __init__(self, inner: Any, lose: set[str]) -> None:
        self._inner = inner
        self._lose = lose

    async def next_batch(self) -> list[WatchEvent[Any]]:
        return [
            WatchEvent(BOOKMARK, None, event.revision)
            if event.type is MODIFIED and event.object.metadata.name in self._lose
            else event
            for event in await self._inner.next_batch()
        ]

    def stop(self) -> None:
        self._inner.stop()


async def test_an_unconfirmed_bind_keeps_the_pods_room(clock: VirtualClock) -> None:
    """kube-scheduler no longer expires assumed pods (durationToExpireAssumedPod
    is 0): a pod whose bind the informer has not shown yet keeps its room
    however long that takes."""
    store = Store(clock=clock, rng=random.Random(0))
    store.create(node("a", cpu="1"))
    client = LostConfirmations(store)
    manager = Manager(client, clock=clock, rng=random.Random(1))
    scheduler = Scheduler(client, manager.factory, clock=clock, rng=random.Random(2))
    manager.add_runnable(scheduler.run)
    async with manager:
        store.create(pod("first", cpu="800m"))
        client.lose.add("first")  # its creation is seen, its bind is not
        await clock.advance(1)
        assert store.get(Pod, "first").spec.node_name == "a"
        await clock.advance(120)
        store.create(pod("second", cpu="800m"))
        await clock.advance(5)
        assert store.get(Pod, "second").spec.node_name is None
        assert scheduler.cache.is_assumed(("default", "first"))
