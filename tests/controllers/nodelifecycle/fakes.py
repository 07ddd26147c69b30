"""Node lifecycle test set-up: nodes whose heartbeats the test controls (no kubelet)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import anyio
import anyio.abc

from controllers.nodelifecycle import NodeLifecycle, NodeLifecycleConfig, setup
from engine.api import core
from engine.api.base import ObjectMeta
from engine.api.coordination import Lease, LeaseSpec
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store

LEASE_NS = "kube-node-lease"


@dataclass
class World:
    clock: VirtualClock
    store: Store
    controllers: NodeLifecycle
    task_group: anyio.abc.TaskGroup
    beating: set[str] = field(default_factory=set)

    def add_node(self, name: str, *, zone: str | None = None, ready: str = "True") -> None:
        now = self.clock.now()
        labels = {"kubernetes.io/hostname": name}
        if zone:
            labels["topology.kubernetes.io/zone"] = zone
        self.store.create(
            core.Node(
                metadata=ObjectMeta(name=name, labels=labels),
                status=core.NodeStatus(
                    conditions=[
                        core.NodeCondition(
                            type=t,
                            status=ready if t == "Ready" else "False",
                            last_heartbeat_time=now,
                            last_transition_time=now,
                        )
                        for t in ("Ready", "MemoryPressure", "DiskPressure", "PIDPressure")
                    ]
                ),
            )
        )
        self.store.create(
            Lease(
                metadata=ObjectMeta(name=name, namespace=LEASE_NS),
                spec=LeaseSpec(holder_identity=name, lease_duration_seconds=40, renew_time=now),
            )
        )
        self.beating.add(name)
        self.task_group.start_soon(self._beat, name)

    async def _beat(self, name: str) -> None:
        while True:
            await self.clock.sleep(10)
            if name not in self.beating or self.store.try_get(Lease, name, LEASE_NS) is None:
                continue
            lease = self.store.get(Lease, name, LEASE_NS)
            spec = lease.spec.model_copy(update={"renew_time": self.clock.now()})
            self.store.update(lease.model_copy(update={"spec": spec}))

    def stop(self, name: str) -> None:
        self.beating.discard(name)

    def resume(self, name: str, *, ready: str = "True") -> None:
        self.beating.add(name)
        self.post_ready(name, ready)

    def post_ready(self, name: str, status: str) -> None:
        node = self.store.get(core.Node, name)
        now = self.clock.now()
        conditions = [
            c.model_copy(
                update={
                    "status": status if c.type == "Ready" else "False",
                    "last_heartbeat_time": now,
                    "last_transition_time": now,
                }
            )
            for c in node.status.conditions
        ]
        self.store.update_status(
            node.model_copy(
                update={"status": node.status.model_copy(update={"conditions": conditions})}
            )
        )

    def node(self, name: str) -> core.Node:
        return self.store.get(core.Node, name)

    def taints(self, name: str) -> set[tuple[str, str]]:
        return {(t.key, t.effect) for t in self.node(name).spec.taints}

    def add_pod(self, name: str, node: str, *, ready: bool = True, **spec: Any) -> core.Pod:
        obj = parse_object(
            {
                "apiVersion": "v1",
                "kind": "Pod",
                "metadata": {"name": name, "namespace": "default"},
                "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}], **spec},
                "status": {
                    "phase": "Running",
                    "conditions": [{"type": "Ready", "status": "True" if ready else "False"}],
                },
            }
        )
        assert isinstance(obj, core.Pod)
        return self.store.create(obj)

    def pod(self, name: str) -> core.Pod | None:
        return self.store.try_get(core.Pod, name, "default")


@asynccontextmanager
async def world(
    clock: VirtualClock, config: NodeLifecycleConfig | None = None
) -> AsyncIterator[World]:
    store = Store(clock=clock)
    manager = Manager(LocalClient(store), clock=clock)
    controllers = setup(manager, config=config)
    async with anyio.create_task_group() as tg:
        async with manager:
            yield World(clock, store, controllers, tg)
        tg.cancel_scope.cancel()
