"""Suite `informer`: the hot path store write -> watch fan-out -> informer cache
-> handler -> workqueue.

* store_updates_per_s: validated updates of existing pods (a changed label)
  through the client, with nobody watching: the write path alone.
* informer_events_per_s: updates of existing pods through the client, each
  delivered to one informer whose handler enqueues the pod's key, from the
  first write until the last key is in the queue.
* informer_delivery_per_s: the same events already written (waiting in the
  informer's watch), from the informer's first read until the last key is in
  the queue: delivery, cache update and enqueue alone.
* fanout10_deliveries_per_s: the same writes delivered to 10 informers.
* write_to_queue_p99_ms: latency from write to enqueue at a steady 20,000
  writes/s (the writer paces itself on the wall clock).
* rss_mb_100k_pods: resident memory of a fresh process holding 100,000 pods in
  the store and in 3 synced informer caches.

Objects are built before the timer starts. Targets come from the issue that
introduced the suite; there is no published Kubernetes figure for in-process
informers, so the anchors describe client-go's equivalent path.
"""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from typing import Any

from benchmarks.harness import Figure, current_rss_mb, measure
from engine.api.base import ObjectMeta
from engine.api.core import Pod
from engine.client import LocalClient
from engine.clock import RealClock
from engine.controller import Request
from engine.informer import EventHandler, SharedInformer
from engine.store import Store
from engine.workqueue import WorkQueue

POD_TEMPLATE: dict[str, Any] = {
    "apiVersion": "v1",
    "kind": "Pod",
    "metadata": {"namespace": "default", "labels": {"app": "web", "tier": "frontend"}},
    "spec": {
        "containers": [
            {
                "name": "nginx",
                "image": "nginx:1.27",
                "ports": [{"containerPort": 80}],
                "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}},
            }
        ]
    },
}


def make_pods(count: int) -> list[Pod]:
    """`count` distinct pods sharing one validated spec (as a ReplicaSet makes them)."""
    template = Pod.model_validate(POD_TEMPLATE)
    return [
        template.model_copy(
            update={"metadata": template.metadata.model_copy(update={"name": f"web-{i:06d}"})}
        )
        for i in range(count)
    ]


def relabeled(pods: list[Pod], generation: int) -> list[Pod]:
    """One update per stored pod: a changed label, with the current resourceVersion."""
    out = []
    for pod in pods:
        labels = {**pod.metadata.labels, "rev": str(generation)}
        meta: ObjectMeta = pod.metadata.model_copy(update={"labels": labels})
        out.append(pod.model_copy(update={"metadata": meta}))
    return out


async def _store_updates(count: int) -> float:
    store = Store(clock=RealClock())
    client = LocalClient(store, yield_every=256)
    updates = relabeled([store.create(p) for p in make_pods(count)], 1)
    target_revision = store.revision + count
    start = time.perf_counter()
    for obj in updates:
        await client.update(obj)
    elapsed = time.perf_counter() - start
    assert store.revision == target_revision
    return count / elapsed


async def _delivery(count: int) -> float:
    store = Store(clock=RealClock(), watch_capacity=1_000_000)
    client = LocalClient(store)
    clock = RealClock()
    stored = [store.create(p) for p in make_pods(count)]
    informer = SharedInformer(client, Pod, clock=clock)
    queue: WorkQueue[Request] = WorkQueue(clock)
    full = asyncio.Event()

    def enqueue(_old: Pod, new: Pod) -> None:
        queue.add(Request(Pod, new.metadata.namespace, new.metadata.name))
        if len(queue) == count:
            full.set()

    informer.add_event_handler(EventHandler(update=enqueue))
    task = asyncio.create_task(informer.run())
    await informer.wait_for_sync()
    for obj in relabeled(stored, 1):
        store.update(obj)  # no await: every event waits in the informer's watch
    start = time.perf_counter()
    await full.wait()
    elapsed = time.perf_counter() - start
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return count / elapsed


async def _throughput(count: int, informers: int) -> float:
    store = Store(clock=RealClock(), watch_capacity=1_000_000)
    client = LocalClient(store, yield_every=256)
    clock = RealClock()
    stored = [store.create(p) for p in make_pods(count)]
    filled: list[asyncio.Event] = []
    tasks = []
    for _ in range(informers):
        informer = SharedInformer(client, Pod, clock=clock)
        queue: WorkQueue[Request] = WorkQueue(clock)
        full = asyncio.Event()
        filled.append(full)

        def enqueue(
            _old: Pod, new: Pod, queue: WorkQueue[Request] = queue, full: Any = full
        ) -> None:
            queue.add(Request(Pod, new.metadata.namespace, new.metadata.name))
            if len(queue) == count:
                full.set()

        informer.add_event_handler(EventHandler(update=enqueue))
        tasks.append(asyncio.create_task(informer.run()))
        await informer.wait_for_sync()
    informers_list = tasks
    updates = relabeled(stored, 1)
    target_revision = store.revision + count
    start = time.perf_counter()
    for obj in updates:
        await client.update(obj)
    for full in filled:
        await full.wait()
    elapsed = time.perf_counter() - start
    assert store.revision == target_revision
    for t in informers_list:
        t.cancel()
    await asyncio.gather(*informers_list, return_exceptions=True)
    return count * informers / elapsed


async def _latency_p99(rate: int, seconds: float) -> float:
    store = Store(clock=RealClock())
    client = LocalClient(store, yield_every=1_000_000)
    clock = RealClock()
    count = int(rate * seconds)
    stored = [store.create(p) for p in make_pods(count)]
    updates = relabeled(stored, 1)
    written: dict[str, float] = {}
    latencies: list[float] = []
    queue: WorkQueue[Request] = WorkQueue(clock)
    all_seen = asyncio.Event()

    def enqueue(_old: Pod, new: Pod) -> None:
        queue.add(Request(Pod, new.metadata.namespace, new.metadata.name))
        latencies.append(time.perf_counter() - written[new.metadata.name])
        if len(latencies) == count:
            all_seen.set()

    informer = SharedInformer(client, Pod, clock=clock)
    informer.add_event_handler(EventHandler(update=enqueue))
    task = asyncio.create_task(informer.run())
    await informer.wait_for_sync()
    tick = 0.001
    per_tick = max(1, int(rate * tick))
    start = time.perf_counter()
    for i in range(0, count, per_tick):
        due = start + (i // per_tick) * tick
        delay = due - time.perf_counter()
        await asyncio.sleep(max(0.0, delay))
        for obj in updates[i : i + per_tick]:
            written[obj.metadata.name] = time.perf_counter()
            await client.update(obj)
    await all_seen.wait()
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    latencies.sort()
    return latencies[int(0.99 * (len(latencies) - 1))] * 1000


def _rss_in_subprocess(count: int) -> float:
    output = subprocess.run(
        [sys.executable, "-m", "benchmarks.informer", "--rss", str(count)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    ).stdout
    return float(json.loads(output.strip().splitlines()[-1])["rss_mb"])


async def _hold_pods(count: int) -> float:
    store = Store(clock=RealClock())
    client = LocalClient(store)
    clock = RealClock()
    for pod in make_pods(count):
        store.create(pod)
    tasks = []
    for _ in range(3):
        informer = SharedInformer(client, Pod, clock=clock)
        tasks.append(asyncio.create_task(informer.run()))
        await informer.wait_for_sync()
    rss = current_rss_mb()
    for t in tasks:
        t.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    return rss


def run(quick: bool, repeat: int) -> list[Figure]:
    count = 20_000 if quick else 100_000
    rss_count = 20_000 if quick else 100_000
    writes, writes_runs = measure(lambda: asyncio.run(_store_updates(count)), repeat)
    events, events_runs = measure(lambda: asyncio.run(_throughput(count, 1)), repeat)
    delivery, delivery_runs = measure(lambda: asyncio.run(_delivery(count)), repeat)
    fanout, fanout_runs = measure(lambda: asyncio.run(_throughput(count // 5, 10)), repeat)
    p99, p99_runs = measure(
        lambda: asyncio.run(_latency_p99(20_000, 0.5 if quick else 3.0)), repeat
    )
    rss, rss_runs = measure(lambda: _rss_in_subprocess(rss_count), 1 if quick else 3)
    return [
        Figure(
            "store_updates_per_s",
            writes,
            "updates/s",
            100_000,
            "higher",
            "validated pod updates (a label changed), no watchers",
            writes_runs,
        ),
        Figure(
            "informer_events_per_s",
            events,
            "events/s",
            100_000,
            "higher",
            "client-go informer: one decoded event per watch frame",
            events_runs,
        ),
        Figure(
            "informer_delivery_per_s",
            delivery,
            "events/s",
            500_000,
            "higher",
            "delivery + cache + enqueue of events already written",
            delivery_runs,
        ),
        Figure(
            "fanout10_deliveries_per_s",
            fanout,
            "deliveries/s",
            500_000,
            "higher",
            "apiserver watch cache fan-out to 10 watchers",
            fanout_runs,
        ),
        Figure(
            "write_to_queue_p99_ms",
            p99,
            "ms",
            1.0,
            "lower",
            "at a steady 20,000 writes/s",
            p99_runs,
        ),
        Figure(
            f"rss_mb_{rss_count // 1000}k_pods",
            rss,
            "MiB",
            1024,
            "lower",
            "store + 3 informer caches",
            rss_runs,
        ),
    ]


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--rss":
        print(json.dumps({"rss_mb": asyncio.run(_hold_pods(int(sys.argv[2])))}))
