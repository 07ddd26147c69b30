"""Cascading and namespace deletion of pods that run on nodes: their deletion is
graceful (the store marks them, the node agent finishes it), here with the
test stand-in for scheduler and kubelet."""

from __future__ import annotations

from controllers import namespace as namespace_controller
from engine.api import core
from engine.clock import VirtualClock
from engine.manager import Manager
from tests.controllers.gc_support import configmap, owner_ref, pod, running_cluster
from tests.controllers.standin import StandIn


def with_standin(manager: Manager) -> StandIn:
    standin = StandIn(manager.client, manager.clock, nodes=("node-a", "node-b"))
    manager.add_runnable(standin.run)
    return standin


async def test_namespace_deletion_waits_for_running_pods_to_terminate(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock, namespace_controller.setup, with_standin) as c:
        c.store.create(core.Namespace(metadata={"name": "shop"}))
        for i in range(3):
            c.store.create(pod(f"web-{i}", namespace="shop"))
        c.store.create(configmap("config", namespace="shop"))
        await c.settle()
        assert all(p.status.phase == "Running" for p in c.store.list(core.Pod, "shop").items)

        c.store.delete(core.Namespace, "shop")
        await c.settle()

        assert c.store.try_get(core.Namespace, "shop") is None
        assert c.names(core.Pod, "shop") == []
        assert c.removals.order[-1] == ("Namespace", "", "shop")


async def test_foreground_owner_outlives_its_gracefully_terminating_pods(
    clock: VirtualClock,
) -> None:
    async with running_cluster(clock, with_standin) as c:
        owner = c.store.create(configmap("owner"))
        for i in range(3):
            c.store.create(pod(f"worker-{i}", owner_ref(owner, block=True)))
        await c.settle()
        assert all(p.spec.node_name for p in c.store.list(core.Pod, "default").items)

        c.store.delete(core.ConfigMap, "owner", "default", propagation_policy="Foreground")
        await c.settle()

        assert c.names(core.Pod) == [] and c.names(core.ConfigMap) == []
        owner_gone = c.removals.index("ConfigMap", "owner")
        assert all(c.removals.index("Pod", f"worker-{i}") < owner_gone for i in range(3))
