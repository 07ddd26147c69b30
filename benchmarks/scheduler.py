"""Suite `scheduler`: scheduler_perf-style workloads on 5000 (preemption: 500)
simulated nodes, end to end through the store, watch, informers, queue,
scheduling cycle and binding.

Each workload: nodes (4 cpu, 32Gi, 110 pods, labelled with their hostname and,
where the workload needs it, a zone) are created, the scheduler starts, the
initial pods are created and scheduled, then the measured pods are created in
the store in one go and the clock runs from that moment until the binding of
the last measured pod has been written. The figure is measured pods divided
by that time (median of runs), printed beside kube-scheduler's CI threshold
for the same workload (`anchor`). The scheduler runs with its default
configuration, events included (they are written at low priority, so most
"Scheduled" events of a burst are written after it). Before the clock starts,
`gc.freeze()` moves the objects built during set-up (nodes, initial pods, the
measured pods waiting in the store) out of the cyclic collector's reach; it
still collects everything created while measuring. Pod templates follow
scheduler_perf's:

* SchedulingBasic: 100m / 500Mi pods.
* SchedulingPodAntiAffinity: required anti-affinity on `color: green` by
  hostname across namespaces sched-0 and sched-1 (one such pod per node).
* TopologySpreading / PreferredTopologySpreading: zone spread (3 zones),
  maxSkew 5, DoNotSchedule / ScheduleAnyway, after 100m/500Mi initial pods.
* SchedulingNodeAffinity: required zone In (zone1, zone2) of 3 zones.
* PreemptionBasic: 500 nodes filled with 2000 900m low-priority pods; 500
  3000m pods of priority 10 each evict three (victims have grace 0, so they go
  at once, as in scheduler_perf where no kubelet runs).
* Unschedulable: 100 pods asking for 9 cpu wait in the unschedulable pool
  while 10000 basic pods are scheduled.

Also SchedulingBasic with percentageOfNodesToScore=100 (every feasible node
scored), with no target.

`--quick` runs the same workloads at a tenth of the pods (and nodes), named
by the nodes they run on (`SchedulingBasic_500Nodes`).
"""

from __future__ import annotations

import asyncio
import gc
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from benchmarks.harness import Figure, measure
from controllers.scheduler.config import Profile, SchedulerConfig
from controllers.scheduler.scheduler import Scheduler
from engine.api import Namespace, Node, Pod
from engine.api.base import ObjectMeta
from engine.client import LocalClient
from engine.clock import RealClock
from engine.manager import Manager
from engine.manifests import parse_object
from engine.store import Store

CONTAINER: dict[str, Any] = {
    "name": "pause",
    "image": "registry.k8s.io/pause:3.10",
    "ports": [{"containerPort": 80}],
    "resources": {
        "limits": {"cpu": "100m", "memory": "500Mi"},
        "requests": {"cpu": "100m", "memory": "500Mi"},
    },
}


def _container(cpu: str = "100m", memory: str = "500Mi", limits: bool = True) -> dict[str, Any]:
    resources: dict[str, Any] = {"requests": {"cpu": cpu, "memory": memory}}
    if limits:
        resources["limits"] = {"cpu": cpu, "memory": memory}
    return {**CONTAINER, "resources": resources}


def _pod_template(
    *, labels: dict[str, str] | None = None, namespace: str = "default", **spec: Any
) -> Pod:
    containers = spec.pop("containers", [_container()])
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": "template", "namespace": namespace, "labels": labels or {}},
            "spec": {"containers": containers, **spec},
        }
    )
    assert isinstance(obj, Pod)
    return obj


def _pods(template: Pod, prefix: str, count: int) -> list[Pod]:
    return [
        template.model_copy(
            update={"metadata": template.metadata.model_copy(update={"name": f"{prefix}-{i:06d}"})}
        )
        for i in range(count)
    ]


def _nodes(count: int, zones: list[str] | None = None) -> list[Node]:
    template = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Node",
            "metadata": {"name": "template"},
            "status": {
                "capacity": {"pods": "110", "cpu": "4", "memory": "32Gi"},
                "allocatable": {"pods": "110", "cpu": "4", "memory": "32Gi"},
                "conditions": [{"type": "Ready", "status": "True"}],
                "phase": "Running",
            },
        }
    )
    assert isinstance(template, Node)
    nodes = []
    for i in range(count):
        name = f"scheduler-perf-{i:05d}"
        labels = {"kubernetes.io/hostname": name}
        if zones:
            labels["topology.kubernetes.io/zone"] = zones[i % len(zones)]
        meta = ObjectMeta(name=name, labels=labels)
        nodes.append(template.model_copy(update={"metadata": meta}))
    return nodes


@dataclass
class Workload:
    base: str
    anchor: float
    target: float | None
    nodes: int
    init_pods: int
    measured_pods: int
    zones: list[str] | None = None
    init_template: Callable[[], Pod] = lambda: _pod_template()
    measured_template: Callable[[], Pod] = lambda: _pod_template()
    namespaces: tuple[str, ...] = ()
    unschedulable_first: int = 0
    percentage: int = 0
    init_namespace: str = "default"
    measured_namespace: str = "default"
    stats: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        """scheduler_perf's name for the workload at the size it runs at
        (`SchedulingBasic_500Nodes` under `--quick`)."""
        suffix = "_score100pct" if self.percentage == 100 else ""
        return f"{self.base}_{self.nodes}Nodes{suffix}"


def _anti_affinity(namespace: str) -> Pod:
    return _pod_template(
        namespace=namespace,
        labels={"color": "green", "name": "test"},
        affinity={
            "podAntiAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": [
                    {
                        "labelSelector": {"matchLabels": {"color": "green"}},
                        "topologyKey": "kubernetes.io/hostname",
                        "namespaces": ["sched-0", "sched-1"],
                    }
                ]
            }
        },
    )


def _spreading(when: str) -> Pod:
    return _pod_template(
        labels={"color": "blue"},
        topologySpreadConstraints=[
            {
                "maxSkew": 5,
                "topologyKey": "topology.kubernetes.io/zone",
                "whenUnsatisfiable": when,
                "labelSelector": {"matchLabels": {"color": "blue"}},
            }
        ],
    )


def _node_affinity() -> Pod:
    return _pod_template(
        affinity={
            "nodeAffinity": {
                "requiredDuringSchedulingIgnoredDuringExecution": {
                    "nodeSelectorTerms": [
                        {
                            "matchExpressions": [
                                {
                                    "key": "topology.kubernetes.io/zone",
                                    "operator": "In",
                                    "values": ["zone1", "zone2"],
                                }
                            ]
                        }
                    ]
                }
            }
        }
    )


def _low_priority() -> Pod:
    return _pod_template(terminationGracePeriodSeconds=0, containers=[_container("900m")])


def _high_priority() -> Pod:
    return _pod_template(priority=10, containers=[_container("3000m")])


def _large_cpu() -> Pod:
    return _pod_template(containers=[_container("9", limits=False)])


def workloads(quick: bool) -> list[Workload]:
    scale = 10 if quick else 1
    moons = ["moon-1", "moon-2", "moon-3"]
    zones = ["zone1", "zone2", "zone3"]
    return [
        Workload("SchedulingBasic", 680, 10_000, 5000 // scale, 1000 // scale, 10_000 // scale),
        Workload(
            "SchedulingPodAntiAffinity",
            60,
            600,
            5000 // scale,
            1000 // scale,
            2000 // scale,
            init_template=lambda: _anti_affinity("sched-0"),
            measured_template=lambda: _anti_affinity("sched-1"),
            namespaces=("sched-0", "sched-1"),
            init_namespace="sched-0",
            measured_namespace="sched-1",
        ),
        Workload(
            "TopologySpreading",
            85,
            850,
            5000 // scale,
            5000 // scale,
            5000 // scale,
            zones=moons,
            measured_template=lambda: _spreading("DoNotSchedule"),
        ),
        Workload(
            "PreferredTopologySpreading",
            125,
            1250,
            5000 // scale,
            5000 // scale,
            5000 // scale,
            zones=moons,
            measured_template=lambda: _spreading("ScheduleAnyway"),
        ),
        Workload(
            "SchedulingNodeAffinity",
            220,
            2200,
            5000 // scale,
            5000 // scale,
            10_000 // scale,
            zones=zones,
            init_template=_node_affinity,
            measured_template=_node_affinity,
        ),
        Workload(
            "PreemptionBasic",
            18,
            180,
            500 // scale,
            2000 // scale,
            500 // scale,
            init_template=_low_priority,
            measured_template=_high_priority,
        ),
        Workload(
            "Unschedulable",
            590,
            5900,
            5000 // scale,
            0,
            10_000 // scale,
            unschedulable_first=100,
        ),
        Workload(
            "SchedulingBasic",
            680,
            None,
            5000 // scale,
            1000 // scale,
            10_000 // scale,
            percentage=100,
        ),
    ]


async def _until(condition: Callable[[], bool], timeout: float = 600.0) -> None:
    deadline = time.perf_counter() + timeout
    while not condition():
        if time.perf_counter() > deadline:
            raise TimeoutError("benchmark workload did not finish")
        await asyncio.sleep(0.0005)


async def _run(w: Workload) -> float:
    clock = RealClock()
    total = w.init_pods + w.measured_pods + w.unschedulable_first
    store = Store(clock=clock, rng=random.Random(0), watch_capacity=4 * total + 100_000)
    client = LocalClient(store, yield_every=256)
    for namespace in w.namespaces:
        store.create(Namespace(metadata=ObjectMeta(name=namespace)))
    for node in _nodes(w.nodes, w.zones):
        store.create(node)
    manager = Manager(client, clock=clock, rng=random.Random(1))
    config = SchedulerConfig(profiles=(Profile(percentage_of_nodes_to_score=w.percentage or None),))
    scheduler = Scheduler(client, manager.factory, clock=clock, rng=random.Random(2), config=config)
    manager.add_runnable(scheduler.run)
    async with manager:
        if w.unschedulable_first:
            for pod in _pods(_large_cpu(), "large", w.unschedulable_first):
                store.create(pod)
            await _until(lambda: scheduler.statistics().unschedulable >= w.unschedulable_first)
        if w.init_pods:
            template = w.init_template()
            template = template.model_copy(
                update={
                    "metadata": template.metadata.model_copy(update={"namespace": w.init_namespace})
                }
            )
            for pod in _pods(template, "init", w.init_pods):
                store.create(pod)
            await _until(lambda: scheduler.scheduled >= w.init_pods)
        template = w.measured_template()
        template = template.model_copy(
            update={
                "metadata": template.metadata.model_copy(update={"namespace": w.measured_namespace})
            }
        )
        pods = _pods(template, "measured", w.measured_pods)
        target = scheduler.scheduled + w.measured_pods
        for pod in pods:
            store.create(pod)
        # Long-lived objects (nodes, the initial pods, the measured pods waiting
        # in the store) move to the permanent generation, so the cyclic GC does
        # not rescan them on every collection; it still runs for new objects.
        gc.collect()
        gc.freeze()
        start = time.perf_counter()
        await _until(lambda: scheduler.scheduled >= target)
        elapsed = time.perf_counter() - start
        gc.unfreeze()
        stats = scheduler.statistics()
        w.stats = {
            "attempts": stats.attempts,
            "unschedulable": stats.unschedulable,
            "preemptions": stats.preemptions,
            "p99_ms": round(stats.cycle_p99_ms, 3),
        }
    return w.measured_pods / elapsed


def _sampler(w: Workload) -> Callable[[], float]:
    return lambda: asyncio.run(_run(w))


def run(quick: bool, repeat: int, only: str | None = None) -> list[Figure]:
    figures = []
    for w in workloads(quick):
        if only and only not in w.name:
            continue
        value, runs = measure(_sampler(w), repeat)
        figures.append(
            Figure(
                w.name,
                value,
                "pods/s",
                w.target,
                "higher",
                f"kube-scheduler CI threshold {w.anchor:g} pods/s",
                runs,
            )
        )
    return figures


if __name__ == "__main__":
    import sys

    from benchmarks.harness import print_table, quick_figures

    pick = sys.argv[1] if len(sys.argv) > 1 else None
    quick = "--quick" in sys.argv
    figures = run(quick, 1, pick if pick != "--quick" else None)
    print_table("scheduler", quick_figures(figures) if quick else figures)
