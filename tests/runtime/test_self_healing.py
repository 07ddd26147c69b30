"""Acceptance 1: self-healing end to end on the virtual clock.

Ten replicas on five simulated nodes; one node's kubelet stops. Kubernetes'
defaults give the timeline asserted here:

* the kubelet renewed its Lease at most 10.4 s (10 s + 4 % jitter) before it
  stopped; the node lifecycle controller marks the node Unknown on its first
  5 s monitor pass more than 50 s (node-monitor-grace-period) after that
  renewal, and taints it NoExecute node.kubernetes.io/unreachable at once
  (the first node of a healthy zone, at 0.1 nodes/s);
* its pods tolerate that taint for 300 s (DefaultTolerationSeconds), then the
  taint eviction controller deletes them;
* the ReplicaSet controller replaces them at once, the scheduler puts the new
  pods on the healthy nodes (the lost node is tainted NoSchedule too), their
  kubelets start them, and the workload is available again within seconds.

Both a bare ReplicaSet and a Deployment (through its ReplicaSet) are checked.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Callable
from datetime import datetime
from typing import Any

import pytest

from controllers import deployment, nodelifecycle, replicaset
from controllers.scheduler.scheduler import Scheduler
from engine.api import core
from engine.api.apps import Deployment
from engine.client import LocalClient
from engine.clock import VirtualClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store, WriteRecord
from runtime.kubelet import NodeAgentPool

REPLICAS = 10
NODES = 5
GRACE = 50.0
MONITOR_PERIOD = 5.0
RENEW = 10.0 * 1.04
TOLERATION = 300.0


def workload(kind: str) -> Any:
    obj = parse_object(
        {
            "apiVersion": "apps/v1",
            "kind": kind,
            "metadata": {"name": "web", "namespace": "default"},
            "spec": {
                "replicas": REPLICAS,
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {
                        "containers": [
                            {
                                "name": "nginx",
                                "image": "nginx:1.27",
                                "ports": [{"containerPort": 80}],
                                "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                                "readinessProbe": {"httpGet": {"path": "/", "port": 80}},
                            }
                        ]
                    },
                },
            },
        }
    )
    return obj


def healthy_pods(store: Store) -> list[core.Pod]:
    return [
        p
        for p in store.list(core.Pod, "default").items
        if p.metadata.deletion_timestamp is None and p.is_ready
    ]


async def advance_until(clock: VirtualClock, done: Callable[[], bool], limit: float) -> float:
    start = clock.monotonic()
    while not done():
        if clock.monotonic() - start > limit:
            raise AssertionError(f"not reached within {limit} virtual seconds")
        await clock.advance(0.5)
    return clock.monotonic()


async def run_self_healing(
    clock: VirtualClock, kind: str, extra: Callable[[Manager], object] | None = None
) -> None:
    store = Store(clock=clock)
    client = LocalClient(store)
    manager = Manager(client, clock=clock, rng=random.Random(1))
    replicaset.setup(manager)
    if extra is not None:
        extra(manager)
    nodelifecycle.setup(manager)
    scheduler = Scheduler(client, manager.factory, clock=clock, rng=random.Random(2))
    manager.add_runnable(scheduler.run)
    pool = NodeAgentPool(
        client, clock=clock, rng=random.Random(3), pod_informer=manager.factory.informer(core.Pod)
    )
    pool.add_nodes(NODES)

    unknown_at: dict[str, datetime] = {}
    tainted_at: dict[str, datetime] = {}
    evicted_at: dict[str, datetime] = {}

    def observe(write: WriteRecord) -> None:
        obj = write.object
        if isinstance(obj, core.Node):
            ready = obj.status.condition("Ready")
            if ready is not None and ready.status == "Unknown":
                unknown_at.setdefault(write.name, clock.now())
            if any(t.effect == "NoExecute" for t in obj.spec.taints):
                tainted_at.setdefault(write.name, clock.now())
        elif isinstance(obj, core.Pod) and write.verb == "delete":
            evicted_at.setdefault(write.name, clock.now())

    store.observers.append(observe)
    async with manager, pool:
        store.create(workload(kind))
        await advance_until(clock, lambda: len(healthy_pods(store)) == REPLICAS, 60)
        await clock.advance(30)  # settle: every kubelet has renewed a few times
        placement = Counter(p.spec.node_name for p in healthy_pods(store))
        assert sum(placement.values()) == REPLICAS
        busiest, lost = placement.most_common(1)[0]
        assert busiest is not None
        victim: str = busiest
        lost_pods = {p.metadata.name for p in healthy_pods(store) if p.spec.node_name == victim}

        stopped = clock.now()
        await pool.kubelet(victim).stop()
        await advance_until(
            clock,
            lambda: (
                lost_pods <= set(evicted_at)
                and len([p for p in healthy_pods(store) if p.spec.node_name != victim]) == REPLICAS
            ),
            GRACE + MONITOR_PERIOD + RENEW + TOLERATION + 60,
        )
        healed = clock.now()
        await clock.advance(30)
        final = healthy_pods(store)
        owner = store.get(type(workload(kind)), "web", "default")

    def since_stop(t: datetime) -> float:
        return (t - stopped).total_seconds()

    # Unknown: more than 50 s after the last renewal, on a 5 s monitor pass.
    assert GRACE - RENEW < since_stop(unknown_at[victim]) <= GRACE + MONITOR_PERIOD + 1e-6
    assert set(unknown_at) == {victim} and set(tainted_at) == {victim}
    # Tainted NoExecute on the same pass (first node of a healthy zone).
    assert tainted_at[victim] == unknown_at[victim]
    # Evicted once the 300 s default toleration ran out, every lost pod at once.
    for name in lost_pods:
        assert (evicted_at[name] - tainted_at[victim]).total_seconds() == pytest.approx(
            TOLERATION, abs=1e-3
        )
    # Replacements run on the healthy nodes within seconds of the eviction.
    assert since_stop(healed) - since_stop(max(evicted_at[n] for n in lost_pods)) <= 5
    assert len(final) == REPLICAS and all(p.spec.node_name != victim for p in final)
    assert owner.status.available_replicas == REPLICAS
    if isinstance(owner, Deployment):
        available = next(c for c in owner.status.conditions if c.type == "Available")
        assert available.status == "True"
    assert lost >= 1


async def test_replicaset_heals_after_a_node_is_lost(clock: VirtualClock) -> None:
    await run_self_healing(clock, "ReplicaSet")


async def test_deployment_heals_after_a_node_is_lost(clock: VirtualClock) -> None:
    await run_self_healing(clock, "Deployment", deployment.setup)
