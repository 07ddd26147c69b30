"""The ReplicaSet and Deployment controllers when the event of their own
object's deletion is lost: the API's word that the object is gone outweighs
the cache, and nothing more is made for it.

Found by the simulation fuzzer (watch_drop, then delete): the cache still
showed the deleted ReplicaSet (Deployment), so the controller made pods
(ReplicaSets) for it; the garbage collector deleted them at once, their
deletions woke the controller, which made them again, and so on, without
virtual time ever passing: the simulation hung at one instant.
"""

from __future__ import annotations

from engine.api import Deployment, Pod, ReplicaSet
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.store import WriteRecord
from tests.controllers.faults import LosingWatches
from tests.controllers.workloads import (
    Cluster,
    deployment,
    owned_replica_sets,
    pods_of,
    replica_set,
    running,
)


def _creations(c: Cluster, kind: str) -> list[int]:
    count = [0]

    def observe(record: WriteRecord) -> None:
        if record.kind == kind and record.verb == "create":
            count[0] += 1

    c.store.observers.append(observe)
    return count


async def test_no_pods_for_a_replica_set_whose_deletion_was_not_seen(
    clock: VirtualClock,
) -> None:
    readers: list[LosingWatches] = []

    def reader(client: LocalClient) -> LosingWatches:
        readers.append(LosingWatches(client, ReplicaSet))
        return readers[-1]

    async with running(clock, reader=reader) as c:
        rs = await c.client.create(replica_set("web", 2))
        await c.settle(10)
        pods = pods_of(c.store, rs)
        assert len(pods) == 2
        readers[0].losing = True
        created = _creations(c, "Pod")
        reconciles = c.replicasets.controller.reconciles
        await c.client.delete(ReplicaSet, "web")
        for pod in pods:  # as the garbage collector would
            await c.client.delete(Pod, pod.metadata.name, grace_period_seconds=0)
        await c.settle(30)
        assert created[0] == 0
        assert c.replicasets.controller.reconciles - reconciles < 10


async def test_no_replica_sets_for_a_deployment_whose_deletion_was_not_seen(
    clock: VirtualClock,
) -> None:
    readers: list[LosingWatches] = []

    def reader(client: LocalClient) -> LosingWatches:
        readers.append(LosingWatches(client, Deployment))
        return readers[-1]

    async with running(clock, reader=reader) as c:
        d = await c.client.create(deployment("web", 2))
        await c.settle(10)
        (rs,) = owned_replica_sets(c.store, d)
        readers[0].losing = True
        created = _creations(c, "ReplicaSet")
        reconciles = c.deployments.controller.reconciles
        await c.client.delete(Deployment, "web")
        await c.client.delete(ReplicaSet, rs.metadata.name)  # as the garbage collector would
        await c.settle(30)
        assert created[0] == 0
        assert c.deployments.controller.reconciles - reconciles < 10
