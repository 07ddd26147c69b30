"""The ReplicaSet controller restarted against a lagging apiserver: its first
pod list may lack pods an earlier incarnation created, and no expectation of
this incarnation covers them. It must not create them again.

Found by the simulation fuzzer (controller_crash of the replicaset controller
during stale_reads: seed 2246748 of `kubeloop fuzz --seed 402`, 4 active pods
for 3 replicas).
"""

from __future__ import annotations

import random
from typing import Any

from controllers.replicaset.controller import ReplicaSetController
from engine.api import Pod, ReplicaSet
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.store import ObjectList, Store, WriteRecord
from tests.controllers.faults import DelayedWatcher
from tests.controllers.workloads import pods_of, replica_set


class LaggingFirstList(LocalClient):
    """The first list of pods is served as of before the newest pod was
    created (from there the watch brings it, 2 s late); later lists are current."""

    def __init__(self, store: Store, clock: VirtualClock) -> None:
        super().__init__(store)
        self.clock = clock
        self.lagging = True

    async def list(self, kind: type[Any], **options: Any) -> Any:
        result = await super().list(kind, **options)
        if kind is not Pod or not self.lagging:
            return result
        self.lagging = False
        newest = max(result.items, key=lambda p: int(p.metadata.resource_version))
        before = int(newest.metadata.resource_version) - 1
        return ObjectList([p for p in result.items if p is not newest], before)

    async def watch(self, kind: type[Any], **options: Any) -> Any:
        watcher = await super().watch(kind, **options)
        return DelayedWatcher(watcher, self.clock, 2.0) if kind is Pod else watcher


async def test_a_restart_on_a_lagging_list_creates_no_extra_pods(clock: VirtualClock) -> None:
    store = Store(clock=clock, rng=random.Random(0))
    first = LocalClient(store)
    # The earlier incarnation: it made the set's three pods, then crashed.
    manager = Manager(first, clock=clock, rng=random.Random(1))
    earlier = ReplicaSetController(first, manager.factory, clock, manager.rng)
    manager.add(earlier.controller)
    async with manager:
        rs = await first.create(replica_set("web", 3))
        await clock.advance(1)
    assert len(pods_of(store, rs)) == 3

    created = [0]

    def observe(record: WriteRecord) -> None:
        if record.kind == "Pod" and record.verb == "create":
            created[0] += 1

    store.observers.append(observe)
    client = LaggingFirstList(store, clock)
    manager = Manager(client, clock=clock, rng=random.Random(2))
    restarted = ReplicaSetController(client, manager.factory, clock, manager.rng)
    manager.add(restarted.controller)
    async with manager:
        await clock.advance(10)
    assert created[0] == 0
    assert len(pods_of(store, store.get(ReplicaSet, "web"))) == 3
