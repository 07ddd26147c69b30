"""The ReplicaSet controller when a pod create or delete is answered with a
timeout although it was written: the write is expected to show in the
informer like any other, so the set neither creates nor deletes more pods
than it needs while its informer lags.

Before, a create that timed out counted as not made; a sync on a pod cache
that did not show the pod yet created it again (one pod over spec.replicas,
what the fuzzer's replicaset-within-replicas invariant flags).
"""

from __future__ import annotations

from typing import Any, TypeVar

from engine.api import Pod, ReplicaSet
from engine.api.base import Resource
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.errors import ServerTimeout
from engine.store import WriteRecord
from tests.controllers.faults import DelayedWatches
from tests.controllers.workloads import pods_of, replica_set, running

R = TypeVar("R", bound=Resource)


class TimingOut(LocalClient):
    """Pod creates (`creates`) and deletes (`deletes`) commit, then the next
    that many are answered with a timeout."""

    def __init__(self, client: LocalClient) -> None:
        super().__init__(client.store)
        self.creates = 0
        self.deletes = 0

    async def create(self, obj: R) -> R:
        created = await super().create(obj)
        if isinstance(obj, Pod) and self.creates > 0:
            self.creates -= 1
            raise ServerTimeout("injected: the pod was created")
        return created

    async def delete(self, kind: type[Resource], name: str, **options: Any) -> Any:
        deleted = await super().delete(kind, name, **options)
        if kind is Pod and self.deletes > 0:
            self.deletes -= 1
            raise ServerTimeout("injected: the pod was deleted")
        return deleted


def _count(c: Any, verb: str) -> list[int]:
    count = [0]

    def observe(record: WriteRecord) -> None:
        if record.kind == "Pod" and record.verb == verb:
            count[0] += 1

    c.store.observers.append(observe)
    return count


async def test_a_create_that_timed_out_is_not_made_again(clock: VirtualClock) -> None:
    writers: list[TimingOut] = []

    def writer(client: LocalClient) -> TimingOut:
        writers.append(TimingOut(client))
        return writers[-1]

    def slow(client: Any) -> DelayedWatches:
        return DelayedWatches(client, clock, 2.0, (Pod,))

    async with running(clock, writer=writer, reader=slow) as c:
        for w in writers:
            w.creates = 1
        created = _count(c, "create")
        rs = await c.client.create(replica_set("web", 3))
        await c.settle(30)
        assert created[0] == 3
        assert len(pods_of(c.store, rs)) == 3


async def test_a_delete_that_timed_out_is_not_made_again(clock: VirtualClock) -> None:
    writers: list[TimingOut] = []

    def writer(client: LocalClient) -> TimingOut:
        writers.append(TimingOut(client))
        return writers[-1]

    def slow(client: Any) -> DelayedWatches:
        return DelayedWatches(client, clock, 2.0, (Pod,))

    async with running(clock, writer=writer, reader=slow) as c:
        rs = await c.client.create(replica_set("web", 4))
        await c.settle(30)
        for w in writers:
            w.deletes = 1
        created = _count(c, "create")
        await c.client.scale(ReplicaSet, "web", 3)
        await c.settle(30)
        assert created[0] == 0  # it did not delete too many, so none had to be replaced
        assert len(pods_of(c.store, rs)) == 3
