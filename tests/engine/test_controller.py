"""Controller runtime: result handling, sources, workers and manager lifecycle."""

from __future__ import annotations

import asyncio

import anyio
import pytest

from engine.api.core import ConfigMap, Pod
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.controller import (
    Controller,
    GenerationChanged,
    Request,
    Result,
    TerminalError,
    reconciler,
)
from engine.manager import Manager
from engine.store import Store


async def test_result_mapping(clock: VirtualClock) -> None:
    """done -> once; requeue_after -> again after the delay; error -> backoff; terminal -> once."""
    calls: dict[str, list[float]] = {"done": [], "later": [], "error": [], "terminal": []}

    async def reconcile(request: Request) -> Result | None:
        calls[request.name].append(clock.monotonic())
        if request.name == "later" and len(calls["later"]) < 3:
            return Result(requeue_after=30)
        if request.name == "error" and len(calls["error"]) < 4:
            raise RuntimeError("transient")
        if request.name == "terminal":
            raise TerminalError("cannot be fixed by retrying")
        return None

    controller = Controller("test", reconciler(reconcile), clock=clock)
    for name in calls:
        controller.enqueue(Request(ConfigMap, "default", name))
    with anyio.move_on_after(600):
        await controller.run()
    assert len(calls["done"]) == 1
    assert calls["later"] == pytest.approx([0, 30, 60])
    # per-item exponential backoff: 5 ms, 10 ms, 20 ms between attempts
    gaps = [b - a for a, b in zip(calls["error"], calls["error"][1:])]
    assert gaps == pytest.approx([0.005, 0.01, 0.02])
    assert len(calls["terminal"]) == 1
    assert controller.errors == 4


async def test_a_request_is_never_reconciled_twice_at_once(clock: VirtualClock) -> None:
    running: set[Request] = set()
    overlaps = 0
    seen = 0

    async def reconcile(request: Request) -> Result:
        nonlocal overlaps, seen
        seen += 1
        if request in running:
            overlaps += 1
        running.add(request)
        await clock.sleep(1)
        running.discard(request)
        return Result()

    controller = Controller("test", reconciler(reconcile), clock=clock, workers=4)
    request = Request(ConfigMap, "default", "same")

    async def producer() -> None:
        for _ in range(20):
            controller.enqueue(request)
            await clock.sleep(0.3)

    with anyio.move_on_after(100):
        async with anyio.create_task_group() as tg:
            tg.start_soon(controller.run)
            tg.start_soon(producer)
    assert overlaps == 0
    assert 2 <= seen <= 20


async def test_owned_objects_enqueue_their_controller_owner(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    owner = store.create(ConfigMap(metadata={"name": "owner"}))
    seen: list[Request] = []

    async def reconcile(request: Request) -> Result:
        seen.append(request)
        return Result()

    manager = Manager(client, clock=clock)
    controller = Controller("owner", reconciler(reconcile), clock=clock)
    controller.owns(manager.factory.informer(Pod), ConfigMap)
    manager.add(controller)
    async with manager:
        ref = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "name": "owner",
            "uid": owner.metadata.uid,
            "controller": True,
        }
        pod = Pod.model_validate(
            {
                "metadata": {"name": "p", "ownerReferences": [ref]},
                "spec": {"containers": [{"name": "c", "image": "busybox"}]},
            }
        )
        await client.create(pod)
        await clock.sleep(1)
    assert seen == [Request(ConfigMap, "default", "owner")]


async def test_generation_changed_predicate_filters_status_updates(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    seen: list[int] = []

    async def reconcile(request: Request) -> Result:
        seen.append(store.get(Pod, request.name).metadata.generation)
        return Result()

    manager = Manager(client, clock=clock)
    controller = Controller("gen", reconciler(reconcile), clock=clock)
    controller.for_kind(manager.factory.informer(Pod), GenerationChanged())
    manager.add(controller)
    pod = Pod.model_validate(
        {"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "busybox"}]}}
    )
    async with manager:
        stored = await client.create(pod)
        await clock.sleep(1)
        status = stored.status.model_copy(update={"phase": "Running"})
        await client.update_status(stored.model_copy(update={"status": status}))
        await clock.sleep(1)
    assert seen == [1]


async def test_manager_leaves_no_task_behind(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    before = asyncio.all_tasks()

    async def slow(request: Request) -> Result:
        await clock.sleep(1000)
        return Result()

    manager = Manager(client, clock=clock)
    for kind in (Pod, ConfigMap):
        controller = Controller(f"c-{kind.kind_name}", reconciler(slow), clock=clock, workers=3)
        controller.for_kind(manager.factory.informer(kind))
        manager.add(controller)

    async def ticker() -> None:
        while True:
            await clock.sleep(5)

    manager.add_runnable(ticker)
    store.create(ConfigMap(metadata={"name": "busy"}))
    async with manager:
        await clock.sleep(10)
        assert len(asyncio.all_tasks()) > len(before)
    assert asyncio.all_tasks() == before
    assert not manager.running
    assert all(c.queue.shutting_down for c in manager.controllers)


async def test_update_delay_coalesces_a_burst_of_updates(clock: VirtualClock) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    seen: list[float] = []

    async def reconcile(request: Request) -> Result:
        seen.append(clock.monotonic())
        return Result()

    manager = Manager(client, clock=clock)
    controller = Controller("burst", reconciler(reconcile), clock=clock)
    controller.for_kind(manager.factory.informer(ConfigMap), update_delay=2.0)
    manager.add(controller)
    async with manager:
        cm = await client.create(ConfigMap(metadata={"name": "c"}, data={"n": "0"}))
        await clock.sleep(1)  # the add is reconciled at once
        for i in range(1, 50):
            cm = await client.update(cm.model_copy(update={"data": {"n": str(i)}}))
            await clock.sleep(0.01)
        await clock.sleep(5)
    assert seen[0] == pytest.approx(0)
    assert len(seen) == 2  # fifty updates, one reconcile
    assert seen[1] == pytest.approx(3.0)  # first update at t=1, plus the 2 s window
