"""Informers converge to the store, recover from Gone by resuming or relisting,
and report deletes missed while disconnected as tombstones."""

from __future__ import annotations

import asyncio
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from engine.api.core import ConfigMap
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.informer import DeletedFinalStateUnknown, EventHandler, InformerFactory
from engine.store import Store
from tests.helpers import run_virtual

NAMES = st.sampled_from([f"cm-{i}" for i in range(6)])
OPS = st.lists(
    st.tuples(st.sampled_from(["put", "delete", "yield"]), NAMES, st.integers(0, 3)),
    max_size=60,
)


class Mirror:
    """What a handler-only consumer believes the store holds."""

    def __init__(self) -> None:
        self.view: dict[str, str] = {}
        self.tombstones = 0

    def handler(self) -> EventHandler[ConfigMap]:
        return EventHandler(add=self.add, update=self.update, delete=self.delete)

    def add(self, obj: ConfigMap) -> None:
        assert obj.metadata.name not in self.view, "add for an object already known"
        self.view[obj.metadata.name] = obj.metadata.resource_version

    def update(self, old: ConfigMap, new: ConfigMap) -> None:
        assert old.metadata.name in self.view, "update for an unknown object"
        self.view[new.metadata.name] = new.metadata.resource_version

    def delete(self, obj: Any) -> None:
        if isinstance(obj, DeletedFinalStateUnknown):
            self.tombstones += 1
            obj = obj.obj
        assert self.view.pop(obj.metadata.name, None) is not None, "delete for an unknown object"


async def scenario(
    clock: VirtualClock, ops: list[tuple[str, str, int]], history: int, capacity: int
) -> tuple[Store, Any, Mirror]:
    store = Store(clock=clock, history_size=history, watch_capacity=capacity)
    client = LocalClient(store)
    factory = InformerFactory(client, clock=clock)
    informer = factory.informer(ConfigMap)
    mirror = Mirror()
    informer.add_event_handler(mirror.handler())
    task = asyncio.create_task(informer.run())
    await informer.wait_for_sync()
    for op, name, value in ops:
        current = store.try_get(ConfigMap, name)
        if op == "yield":
            await asyncio.sleep(0)
        elif op == "put" and current is None:
            store.create(ConfigMap(metadata={"name": name}, data={"v": str(value)}))
        elif op == "put" and current is not None:
            store.update(current.model_copy(update={"data": {"v": str(value + 10)}}))
        elif op == "delete" and current is not None:
            store.delete(ConfigMap, name)
    await clock.sleep(5)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return store, informer, mirror


def assert_converged(store: Store, informer: Any, mirror: Mirror) -> None:
    stored = {o.metadata.name: o for o in store.list(ConfigMap, "default").items}
    cached = {o.metadata.name: o for o in informer.cache.list("default")}
    assert cached == stored
    assert mirror.view == {n: o.metadata.resource_version for n, o in stored.items()}
    assert informer.last_revision == store.revision


@given(OPS)
def test_cache_equals_store_after_random_operations(ops: list[tuple[str, str, int]]) -> None:
    store, informer, mirror = run_virtual(lambda clock: scenario(clock, ops, 10_000, 10_000))
    assert_converged(store, informer, mirror)
    assert informer.statistics().relists == 0


@given(OPS)
def test_tiny_history_forces_relist_and_still_converges(ops: list[tuple[str, str, int]]) -> None:
    store, informer, mirror = run_virtual(lambda clock: scenario(clock, ops, 2, 2))
    assert_converged(store, informer, mirror)


def test_deletes_missed_while_disconnected_arrive_as_tombstones() -> None:
    ops = [("put", f"cm-{i}", 0) for i in range(5)] + [("yield", "cm-0", 0)]
    ops += [("delete", f"cm-{i}", 0) for i in range(4)]  # four deletes overflow a buffer of 2
    ops += [("put", "cm-9", 0)]
    store, informer, mirror = run_virtual(lambda clock: scenario(clock, ops, 2, 2))
    assert_converged(store, informer, mirror)
    assert informer.statistics().relists >= 1
    assert mirror.tombstones == 4


def test_handler_added_late_receives_the_cache_as_adds() -> None:
    async def body(clock: VirtualClock) -> list[str]:
        store = Store(clock=clock)
        for i in range(3):
            store.create(ConfigMap(metadata={"name": f"cm-{i}"}))
        factory = InformerFactory(LocalClient(store), clock=clock)
        informer = factory.informer(ConfigMap, namespace="default")
        task = asyncio.create_task(informer.run())
        await informer.wait_for_sync()
        seen: list[str] = []
        informer.add_event_handler(EventHandler(add=lambda o: seen.append(o.metadata.name)))
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return seen

    assert sorted(run_virtual(body)) == ["cm-0", "cm-1", "cm-2"]


def test_resync_redelivers_every_object_as_an_update() -> None:
    async def body(clock: VirtualClock) -> int:
        store = Store(clock=clock)
        store.create(ConfigMap(metadata={"name": "a"}))
        store.create(ConfigMap(metadata={"name": "b"}))
        factory = InformerFactory(LocalClient(store), clock=clock, resync_period=30)
        informer = factory.informer(ConfigMap)
        resynced: list[str] = []
        informer.add_event_handler(
            EventHandler(update=lambda old, new: resynced.append(new.metadata.name))
        )
        task = asyncio.create_task(informer.run())
        await clock.sleep(95)
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        return len(resynced)

    assert run_virtual(body) == 6  # 3 resyncs x 2 objects


def test_shared_informers_are_shared_by_parameters() -> None:
    store = Store()
    factory = InformerFactory(LocalClient(store), clock=VirtualClock())
    assert factory.informer(ConfigMap) is factory.informer(ConfigMap)
    assert factory.informer(ConfigMap, namespace="a") is not factory.informer(ConfigMap)
    assert factory.informer(ConfigMap, label_selector="app=x") is factory.informer(
        ConfigMap, label_selector="app=x"
    )
