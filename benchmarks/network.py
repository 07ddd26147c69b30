"""Suite `network`: Services on simulated nodes.

* endpointslice_rollout_10k: a Deployment of 10,000 pods behind a Service
  (100 nodes) rolls to a new image; the EndpointSlice controller's slice
  writes per pod transition (a pod write that changes what its endpoint
  shows: an IP, readiness, termination, removal) must stay <= 2, and the
  rollout's wall seconds are reported beside it (from the image change
  until the Deployment is complete and every slice lists only new pods);
* simulated_requests_per_s: simulated requests routed per wall second
  across 1,000 endpoints of one Service (batches of 1,000,000 through
  kube-proxy's choice, pod state and latency sampling; target 1,000,000).

Each rollout is a fresh subprocess. `--quick` shrinks the rollout to 1,000
pods on 10 nodes and the routing to 100,000-request batches.

The suite then runs the process runtime's figures (real proxy and ingress
throughput against direct connections, `benchmarks.network_proxy`).

Neighbours: `benchmarks.harness`, `runtime.network.traffic`,
`controllers.endpointslice`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import TYPE_CHECKING

from benchmarks.harness import Figure, measure, run_module

if TYPE_CHECKING:
    from runtime.network.traffic import Target, TrafficRouter

__all__ = ["endpointslice_rollout", "run", "simulated_requests"]


def _app(replicas: int) -> str:
    return f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: web}}
spec:
  replicas: {replicas}
  strategy: {{rollingUpdate: {{maxSurge: 25%, maxUnavailable: 0}}}}
  selector: {{matchLabels: {{app: web}}}}
  template:
    metadata: {{labels: {{app: web}}}}
    spec:
      containers:
        - name: web
          image: nginx:1.27
          resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
---
apiVersion: v1
kind: Service
metadata: {{name: web}}
spec:
  selector: {{app: web}}
  ports: [{{port: 80}}]
"""


async def _rollout(nodes: int, replicas: int) -> dict[str, float]:
    from controllers.common.network import NetworkSettings
    from controllers.endpointslice import pod_endpoint_changed
    from engine.api import Pod
    from engine.api.apps import Deployment
    from engine.api.discovery import EndpointSlice
    from engine.store import WriteRecord
    from runtime.cluster import Cluster, ClusterConfig, NodePool
    from runtime.scenario import SetImageArgs, set_image

    config = ClusterConfig(
        node_pools=(NodePool(count=nodes, pods=110),),
        seed=1,
        controllers=("scheduler", "replicaset", "deployment", "endpointslice"),
        # tuned as for a large cluster: pod updates batched for 1 s
        addresses=NetworkSettings(endpoint_updates_batch_period=1.0),
    )
    counts = {"slice_writes": 0, "transitions": 0}

    def count(record: WriteRecord) -> None:
        if record.kind == "EndpointSlice":
            counts["slice_writes"] += 1
        elif record.kind == "Pod":
            new, old = record.object, record.previous
            assert isinstance(new, Pod)
            if record.removed or old is None:
                counts["transitions"] += bool(new.status.pod_ip)
            elif isinstance(old, Pod) and pod_endpoint_changed(old, new):
                counts["transitions"] += 1

    async with Cluster(config) as cluster:
        assert cluster.store is not None
        store = cluster.store
        await cluster.apply(_app(replicas))
        await cluster.wait_converged(timeout=3600)

        def slices_current(image: str) -> bool:
            ready = 0
            for s in store.objects(EndpointSlice):
                for e in s.endpoints:
                    ref = e.target_ref
                    pod = store.try_get(Pod, ref.name or "", "default") if ref else None
                    if pod is None or pod.spec.containers[0].image != image:
                        return False
                    ready += bool(e.conditions.ready)
            return ready == replicas

        await cluster.wait_for(lambda: slices_current("nginx:1.27"), timeout=600)
        store.observers.append(count)
        started = time.perf_counter()
        await set_image(cluster, SetImageArgs(deployment="web", image="nginx:1.28"))

        def done() -> bool:
            d = store.get(Deployment, "web", "default")
            return (
                d.status.updated_replicas == replicas
                and d.status.available_replicas == replicas
                and d.status.replicas == replicas
                and slices_current("nginx:1.28")
            )

        await cluster.wait_for(done, timeout=7200)
        wall = time.perf_counter() - started
    return {
        "wall_s": wall,
        "slice_writes": counts["slice_writes"],
        "transitions": counts["transitions"],
        "writes_per_transition": counts["slice_writes"] / max(1, counts["transitions"]),
    }


def endpointslice_rollout(quick: bool, repeat: int) -> list[Figure]:
    nodes, replicas = (10, 1_000) if quick else (100, 10_000)
    name = "endpointslice_rollout_1k" if quick else "endpointslice_rollout_10k"
    results: list[dict[str, float]] = []

    def once() -> float:
        result = run_module("benchmarks.network", "rollout", nodes, replicas)
        results.append(result)
        return result["writes_per_transition"]

    ratio, runs = measure(once, max(1, min(repeat, 2)))
    walls = tuple(r["wall_s"] for r in results)
    return [
        Figure(
            f"{name}_slice_writes_per_transition",
            ratio,
            "writes/transition",
            2.0,
            "lower",
            "EndpointSlice reconciler: a slice update per batch of endpoint changes",
            runs,
        ),
        Figure(
            f"{name}_wall_s",
            sorted(walls)[len(walls) // 2],
            "s",
            None,
            "lower",
            f"{replicas:,} pods rolled, maxSurge 25 %, maxUnavailable 0",
            walls,
        ),
    ]


def _router_fixture(endpoints: int) -> tuple[TrafficRouter, Target]:
    """A store holding one Service with `endpoints` running, ready pods and
    their EndpointSlices (made by the controller's reconciler)."""
    from datetime import UTC, datetime

    from controllers.endpointslice.reconciler import plan
    from engine.api import Node, Pod, PodStatus, Service
    from engine.clock import VirtualClock
    from engine.store import Store
    from runtime.network.traffic import Target, TrafficRouter

    store = Store(clock=VirtualClock())
    store.create(Node.model_validate({"metadata": {"name": "node-0"}}))
    service = store.create(
        Service.model_validate(
            {
                "metadata": {"name": "web", "namespace": "default"},
                "spec": {"selector": {"app": "web"}, "ports": [{"port": 80}]},
            }
        )
    )
    now = datetime(2026, 1, 1, tzinfo=UTC).isoformat()
    pods = []
    for i in range(endpoints):
        pod = store.create(
            Pod.model_validate(
                {
                    "metadata": {
                        "name": f"web-{i}",
                        "namespace": "default",
                        "labels": {"app": "web"},
                    },
                    "spec": {
                        "nodeName": "node-0",
                        "containers": [{"name": "web", "image": "nginx"}],
                    },
                }
            )
        )
        status = {
            "phase": "Running",
            "podIP": f"10.{i // 65536 % 256}.{i // 256 % 256}.{i % 256}",
            "conditions": [{"type": "Ready", "status": "True"}],
            "containerStatuses": [
                {
                    "name": "web",
                    "image": "nginx",
                    "imageID": "",
                    "ready": True,
                    "restartCount": 0,
                    "state": {"running": {"startedAt": now}},
                }
            ],
        }
        stored = store.update_status(
            pod.model_copy(update={"status": PodStatus.model_validate(status)})
        )
        pods.append(stored)
    for slice_ in plan(service, pods, {"node-0": None}, []).create:
        store.create(slice_)
    router = TrafficRouter(store, seed=1)
    return router, Target(namespace="default", service="web")


def simulated_requests(quick: bool, repeat: int) -> list[Figure]:
    batch = 100_000 if quick else 1_000_000
    router, target = _router_fixture(1_000)
    router.route(target, 1_000)  # warm the per-pod caches

    def once() -> float:
        started = time.perf_counter()
        stats = router.route(target, batch)
        took = time.perf_counter() - started
        assert stats.errors == 0
        return batch / took

    rate, runs = measure(once, repeat)
    return [
        Figure(
            "simulated_requests_per_s",
            rate,
            "requests/s",
            1_000_000.0,
            "higher",
            "1,000 endpoints; kube-proxy's random choice, pod state, latency",
            runs,
        )
    ]


def run(quick: bool, repeat: int) -> list[Figure]:
    """The suite: the simulated figures here, then the process runtime's
    real proxy and ingress figures (`benchmarks.network_proxy`)."""
    from benchmarks import network_proxy

    return [
        *endpointslice_rollout(quick, repeat),
        *simulated_requests(quick, repeat),
        *network_proxy.run(quick, repeat),
    ]


if __name__ == "__main__":
    if sys.argv[1:2] == ["rollout"]:
        from runtime.gctuning import simulation_gc

        with simulation_gc():
            print(json.dumps(asyncio.run(_rollout(int(sys.argv[2]), int(sys.argv[3])))))
