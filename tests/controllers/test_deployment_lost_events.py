"""The Deployment controller with ReplicaSet watch events lost: it never grows
a ReplicaSet beyond replicas + maxSurge in total.

Found by the simulation fuzzer (watch_drop on the ReplicaSet informer,
tests/simulation/scenarios/deployment-surge-dropped-events.yaml): the event
of a ReplicaSet the controller had scaled up was lost, so its cache showed
the old size, and the next rollout step made a new ReplicaSet as large as
the stale total allowed.
"""

from __future__ import annotations

from controllers.deployment.replicas import max_surge
from engine.api import Deployment, ReplicaSet
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.store import Store, WriteRecord
from tests.controllers.faults import LosingWatches
from tests.controllers.workloads import deployment, owned_replica_sets, running, with_image


class SurgeBound:
    """Whenever a Deployment's ReplicaSet grows, its ReplicaSets together ask
    for at most the Deployment's replicas + maxSurge as stored right then."""

    def __init__(self, store: Store) -> None:
        self.store = store
        self.violations: list[str] = []
        store.observers.append(self.observe)

    def observe(self, record: WriteRecord) -> None:
        rs = record.object
        if not isinstance(rs, ReplicaSet) or record.removed:
            return
        before = record.previous
        if isinstance(before, ReplicaSet) and before.spec.replicas >= rs.spec.replicas:
            return
        ref = rs.metadata.controller_ref()
        d = self.store.try_get(Deployment, ref.name, rs.metadata.namespace) if ref else None
        if d is None:
            return
        total = sum(r.spec.replicas for r in owned_replica_sets(self.store, d))
        allowed = d.spec.replicas + max_surge(d)
        if total > allowed:
            self.violations.append(f"{rs.metadata.name} grew to {rs.spec.replicas}: {total}")


async def test_lost_replica_set_events_never_break_the_surge_bound(clock: VirtualClock) -> None:
    readers: list[LosingWatches] = []

    def reader(client: LocalClient) -> LosingWatches:
        readers.append(LosingWatches(client, ReplicaSet))
        return readers[-1]

    strategy = {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0}}
    async with running(clock, reader=reader) as c:
        await c.client.create(deployment("web", 3, strategy=strategy))
        await c.settle(30)
        bound = SurgeBound(c.store)
        readers[0].losing = True
        # Scaled up: the only ReplicaSet goes to 6, and the controller never hears of it.
        await c.client.scale(Deployment, "web", 6)
        await c.settle(2)
        # Scaled back down with a new template, in one edit.
        d = c.store.get(Deployment, "web")
        spec = with_image(d, "nginx:1.26").spec.model_copy(update={"replicas": 3})
        await c.client.update(d.model_copy(update={"spec": spec}))
        await c.settle(30)
        assert bound.violations == []
        sizes = sorted(rs.spec.replicas for rs in owned_replica_sets(c.store, d))
        assert sum(sizes) <= 3 + 1 and len(sizes) == 2  # the rollout went on, within budget
