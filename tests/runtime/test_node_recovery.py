"""Kubelet and node lifecycle together: a partitioned node comes back, a deleted
node's pods are cleaned up."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from controllers import nodelifecycle
from engine.api import core
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.store import Store
from runtime.kubelet import NodeAgentPool
from tests.runtime.kubelet_env import Env, pod_manifest


@asynccontextmanager
async def cluster(clock: VirtualClock, nodes: int = 3) -> AsyncIterator[Env]:
    store = Store(clock=clock)
    client = LocalClient(store)
    manager = Manager(client, clock=clock)
    nodelifecycle.setup(manager)
    pool = NodeAgentPool(client, clock=clock, pod_informer=manager.factory.informer(core.Pod))
    pool.add_nodes(nodes)
    env = Env(clock, store, client, pool)
    store.observers.append(env.writes.append)
    async with manager, pool:
        yield env


async def test_partitioned_node_comes_back_and_nothing_is_evicted(clock: VirtualClock) -> None:
    async with cluster(clock) as env:
        env.store.create(pod_manifest("web", node="node-1"))
        await clock.advance(5)
        assert env.pod("web").is_ready
        kubelet = env.kubelet("node-1")
        kubelet.partition()
        await clock.advance(120)
        node = env.store.get(core.Node, "node-1")
        ready = node.status.condition("Ready")
        assert ready is not None and ready.status == "Unknown"
        assert {(t.key, t.effect) for t in node.spec.taints} == {
            ("node.kubernetes.io/unreachable", "NoSchedule"),
            ("node.kubernetes.io/unreachable", "NoExecute"),
        }
        assert not env.pod("web").is_ready
        uid = env.pod("web").metadata.uid
        running = await kubelet.runtime.container_status(uid, "app")
        assert running is not None and running.state == "running"

        await kubelet.restore()
        await clock.advance(10)
        node = env.store.get(core.Node, "node-1")
        assert node.is_ready and node.spec.taints == []
        assert env.pod("web").is_ready
        await clock.advance(600)
        pod = env.pod("web")
        assert pod.metadata.deletion_timestamp is None and pod.is_ready
        assert pod.status.container_statuses[0].restart_count == 0


async def test_pods_of_a_deleted_node_are_cleaned_up(clock: VirtualClock) -> None:
    async with cluster(clock) as env:
        env.store.create(pod_manifest("web", node="node-2"))
        await clock.advance(5)
        uid = env.pod("web").metadata.uid
        kubelet = env.kubelet("node-2")
        env.store.delete(core.Node, "node-2")
        await clock.advance(65)  # the orphan quarantine (40 s) on a 20 s check period
        assert env.store.try_get(core.Pod, "web", "default") is None
        assert uid not in await kubelet.runtime.list_pod_sandboxes()
