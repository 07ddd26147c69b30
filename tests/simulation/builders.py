"""Small building blocks for the harness tests: workload manifests, a fault
schedule touching every fault class, and the short simulation the determinism
tests fingerprint (also run in fresh subprocesses, hence importable and sync).
"""

from __future__ import annotations

import asyncio
from typing import Any

from runtime.cluster import NodePool
from runtime.simulation import Apply, Scale, SetImage, Simulation, SimulationConfig
from runtime.simulation.faults import (
    ContainerCrash,
    ControllerCrash,
    Fault,
    NodeCrash,
    NodePartition,
    NodeSlowStart,
    StaleReads,
    WatchDelay,
    WatchDrop,
    WatchDuplicate,
    WatchGone,
    WatchReorder,
    WriteErrors,
)


def _template(app: str, image: str, cpu: str) -> dict[str, Any]:
    return {
        "metadata": {"labels": {"app": app}},
        "spec": {
            "terminationGracePeriodSeconds": 0,
            "containers": [{"name": "c", "image": image, "resources": {"requests": {"cpu": cpu}}}],
        },
    }


def replica_set(
    name: str = "web", replicas: int = 2, image: str = "nginx:1.26", cpu: str = "100m"
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "ReplicaSet",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "template": _template(name, image, cpu),
        },
    }


def deployment(
    name: str = "web",
    replicas: int = 3,
    image: str = "nginx:1.26",
    cpu: str = "100m",
    max_surge: int = 1,
    max_unavailable: int = 1,
) -> dict[str, Any]:
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": name},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": {"app": name}},
            "strategy": {
                "type": "RollingUpdate",
                "rollingUpdate": {"maxSurge": max_surge, "maxUnavailable": max_unavailable},
            },
            "template": _template(name, image, cpu),
        },
    }


EVERY_FAULT_CLASS: tuple[Fault, ...] = (
    WatchDelay(at=1, duration=10, delay=2.0, controller="deployment"),
    WatchDrop(at=5, duration=10, probability=0.5, controller="replicaset", informer="Pod"),
    WatchDuplicate(at=0, duration=30, probability=0.5),
    WatchReorder(at=0, duration=30, jitter=1.0, controller="scheduler"),
    WatchGone(at=12, relist=True, controller="replicaset"),
    StaleReads(at=15, duration=10, lag_revisions=3, reconnect=True, controller="deployment"),
    WriteErrors(at=2, duration=20, probability=0.3),
    ControllerCrash(at=3, controller="replicaset", after_writes=2, restart_after=2.0),
    NodeCrash(at=20, duration=15, node="node-2"),
    NodePartition(at=40, duration=10, node="node-1"),
    NodeSlowStart(at=0, duration=30, node="node-0", latency=3.0),
    ContainerCrash(at=30, node="node-0", count=1),
)
"""A schedule with every fault kind, over a rolling update (see `rollout_trace`)."""


async def rollout_run(seed: int) -> tuple[str, list[str], dict[str, int]]:
    """Three nodes, a Deployment, a rolling update and a scale-up under
    `EVERY_FAULT_CLASS`, for 90 virtual seconds: (trace hash, trace lines,
    fault effects by kind)."""
    config = SimulationConfig(seed=seed, node_pools=(NodePool(count=3),), faults=EVERY_FAULT_CLASS)
    async with Simulation(config) as sim:
        await sim.step(Apply(manifest=deployment(replicas=4)))
        await sim.step(SetImage(kind="Deployment", name="web", image="nginx:1.27", after=10))
        await sim.step(Scale(kind="Deployment", name="web", replicas=5, after=15))
        await sim.run_until(at=90)
        assert sim.injector is not None
        return sim.trace_hash(), list(sim.trace.lines), dict(sim.injector.counts)


def rollout_trace(seed: int) -> str:
    """`rollout_run(seed)`'s trace hash, from synchronous code (a subprocess)."""
    return asyncio.run(rollout_run(seed))[0]
