"""Test set-up for kubelet tests: a store, a pool of simulated nodes, pods by manifest."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

from engine.api import core
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manifests import parse_object
from engine.store import Store, WriteRecord
from runtime.kubelet import Kubelet, KubeletConfig, NodeAgentPool
from runtime.runtimes.behavior import SimulationPolicy


@dataclass
class Env:
    clock: VirtualClock
    store: Store
    client: LocalClient
    pool: NodeAgentPool
    writes: list[WriteRecord] = field(default_factory=list)

    def kubelet(self, name: str = "node-0") -> Kubelet:
        return self.pool.kubelet(name)

    def pod(self, name: str, namespace: str = "default") -> core.Pod:
        return self.store.get(core.Pod, name, namespace)

    def container(self, pod: str, container: str | None = None) -> core.ContainerStatus:
        statuses = self.pod(pod).status.container_statuses
        if container is None:
            return statuses[0]
        return next(s for s in statuses if s.name == container)

    async def until(self, predicate: Callable[[], bool], limit: float = 3600.0) -> float:
        """Advance virtual time (in 0.1 s steps) until `predicate()` holds; returns
        the virtual time it took."""
        start = self.clock.monotonic()
        while not predicate():
            if self.clock.monotonic() - start > limit:
                raise AssertionError(f"condition not reached within {limit} virtual seconds")
            await self.clock.advance(0.1)
        return self.clock.monotonic() - start


@asynccontextmanager
async def simulated_nodes(
    clock: VirtualClock,
    nodes: int = 1,
    *,
    policy: SimulationPolicy | None = None,
    configs: list[KubeletConfig] | None = None,
    **overrides: Any,
) -> AsyncIterator[Env]:
    store = Store(clock=clock)
    client = LocalClient(store)
    pool = NodeAgentPool(client, clock=clock, policy=policy)
    if configs is not None:
        for config in configs:
            pool.add_node(config)
    else:
        pool.add_nodes(nodes, **overrides)
    env = Env(clock, store, client, pool)
    store.observers.append(env.writes.append)
    async with pool:
        yield env


def pod_manifest(
    name: str,
    *,
    node: str | None = "node-0",
    containers: list[dict[str, Any]] | None = None,
    init_containers: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
    restart_policy: str | None = None,
    grace: int | None = None,
    namespace: str = "default",
    **spec: Any,
) -> core.Pod:
    body: dict[str, Any] = {
        "containers": containers or [{"name": "app", "image": "nginx:1.27"}],
        **spec,
    }
    if node is not None:
        body["nodeName"] = node
    if init_containers:
        body["initContainers"] = init_containers
    if restart_policy:
        body["restartPolicy"] = restart_policy
    if grace is not None:
        body["terminationGracePeriodSeconds"] = grace
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": namespace, "annotations": annotations or {}},
            "spec": body,
        }
    )
    assert isinstance(obj, core.Pod)
    return obj


def set_node_ready(env: Env, status: str, node: str = "node-0") -> None:
    """Write the Node's Ready condition as someone else would (the node
    lifecycle controller marking it Unknown)."""
    current = env.store.get(core.Node, node)
    conditions = [
        c.model_copy(update={"status": status}) if c.type == "Ready" else c
        for c in current.status.conditions
    ]
    env.store.update_status(
        current.model_copy(
            update={"status": current.status.model_copy(update={"conditions": conditions})}
        )
    )


def sim(**fields: str) -> dict[str, str]:
    """Simulation annotations: sim(exit_after="5s") -> {"sim.kubeloop.io/exit-after": "5s"}."""
    return {
        f"sim.kubeloop.io/{k.replace('__', '.').replace('_', '-')}": v for k, v in fields.items()
    }
