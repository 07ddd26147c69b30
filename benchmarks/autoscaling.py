"""Suite `autoscaling`: the metrics pipeline and the HorizontalPodAutoscaler.

* hpa_syncs_per_s: 1,000 HPAs on 1,000 Deployments (10 per namespace, 2
  Running and Ready pods each, cpu usage at the target so nothing scales),
  reconciled through the controller's workqueue every 15 s of virtual time:
  HPA syncs per wall second (target 20,000);
* metrics_scrape_10k_pods_ms: one metrics-server round over 10,000 simulated
  pods on 100 nodes (every kubelet's stats, grouped per pod): wall
  milliseconds (target 50).

Each run is a fresh subprocess. `--quick` shrinks them to 100 HPAs and 1,000
pods.

`FIGURES` lists the measurements, each a function of (quick, repeat)
returning its figures: further autoscaling benchmarks append to it.

Neighbours: `benchmarks.harness`, `controllers.podautoscaler`,
`runtime.metrics`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Sequence
from datetime import timedelta

from benchmarks.harness import Figure, measure, run_module

__all__ = ["FIGURES", "hpa_syncs", "metrics_scrape", "run"]

PER_NAMESPACE = 10
PODS_PER_TARGET = 2


async def _hpa_syncs(count: int, rounds: int) -> dict[str, float]:
    from engine.api import Deployment, HorizontalPodAutoscaler, Pod
    from engine.api.base import ObjectMeta, Resource
    from engine.api.metrics import ContainerMetrics, PodMetrics
    from engine.quantity import Quantity
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    class Usage:
        """PodMetrics at exactly the target: steady state, no rescale."""

        def __init__(self) -> None:
            self.objects: dict[tuple[str, str], PodMetrics] = {}
            self.by_namespace: dict[str, list[PodMetrics]] = {}

        def served_kinds(self) -> Sequence[type[Resource]]:
            return (PodMetrics,)

        def get_object(self, kind: type[Resource], name: str, namespace: str) -> Resource | None:
            return self.objects.get((namespace, name))

        def list_objects(self, kind: type[Resource], namespace: str | None) -> list[Resource]:
            if namespace is None:
                return list(self.objects.values())
            return list(self.by_namespace.get(namespace, ()))

    config = ClusterConfig(
        node_pools=(NodePool(count=0),), controllers=("horizontalpodautoscaler",), seed=1
    )
    async with Cluster(config) as cluster:
        store = cluster.store
        assert store is not None
        usage = Usage()
        store.add_aggregated(usage)
        now = cluster.clock.now()
        started = (now - timedelta(hours=1)).isoformat()
        for i in range(count):
            namespace = f"team-{i // PER_NAMESPACE:03d}"
            if i % PER_NAMESPACE == 0:
                await cluster.apply(
                    {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": namespace}}
                )
            name = f"app-{i:04d}"
            labels = {"app": name}
            store.create(
                Deployment.model_validate(
                    {
                        "metadata": {"name": name, "namespace": namespace},
                        "spec": {
                            "replicas": PODS_PER_TARGET,
                            "selector": {"matchLabels": labels},
                            "template": {
                                "metadata": {"labels": labels},
                                "spec": {"containers": [{"name": "app", "image": "app"}]},
                            },
                        },
                        "status": {"replicas": PODS_PER_TARGET},
                    }
                )
            )
            for p in range(PODS_PER_TARGET):
                pod_name = f"{name}-{p}"
                store.create(
                    Pod.model_validate(
                        {
                            "metadata": {
                                "name": pod_name,
                                "namespace": namespace,
                                "labels": labels,
                            },
                            "spec": {
                                "containers": [
                                    {
                                        "name": "app",
                                        "image": "app",
                                        "resources": {"requests": {"cpu": "100m"}},
                                    }
                                ]
                            },
                            "status": {
                                "phase": "Running",
                                "startTime": started,
                                "conditions": [
                                    {
                                        "type": "Ready",
                                        "status": "True",
                                        "lastTransitionTime": started,
                                    }
                                ],
                            },
                        }
                    )
                )
                sample = PodMetrics(
                    metadata=ObjectMeta(name=pod_name, namespace=namespace, labels=labels),
                    timestamp=now,
                    window="15s",
                    containers=[ContainerMetrics(name="app", usage={"cpu": Quantity("50m")})],
                )
                usage.objects[(namespace, pod_name)] = sample
                usage.by_namespace.setdefault(namespace, []).append(sample)
            store.create(
                HorizontalPodAutoscaler.model_validate(
                    {
                        "metadata": {"name": name, "namespace": namespace},
                        "spec": {
                            "scaleTargetRef": {
                                "apiVersion": "apps/v1",
                                "kind": "Deployment",
                                "name": name,
                            },
                            "minReplicas": 1,
                            "maxReplicas": 10,
                        },
                    }
                )
            )
        controller = next(
            c for c in cluster.manager.controllers if c.name == "horizontalpodautoscaler"
        )  # type: ignore[union-attr]
        await cluster.clock.sleep(1)  # first syncs: statuses written
        before = controller.reconciles
        start = time.perf_counter()
        await cluster.clock.sleep(15 * rounds)
        wall = time.perf_counter() - start
        syncs = controller.reconciles - before
        for deployment in store.objects(Deployment):
            assert deployment.spec.replicas == PODS_PER_TARGET, deployment.metadata.name
        return {"syncs": syncs, "wall_s": wall, "per_s": syncs / wall}


async def _scrape(nodes: int, pods: int) -> dict[str, float]:
    from engine.api import Pod
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    config = ClusterConfig(node_pools=(NodePool(count=nodes, pods=250),), seed=1)
    async with Cluster(config) as cluster:
        store = cluster.store
        metrics = cluster.metrics
        assert store is not None and metrics is not None
        await cluster.apply(
            {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "metadata": {"name": "many"},
                "spec": {
                    "replicas": pods,
                    "selector": {"matchLabels": {"app": "many"}},
                    "template": {
                        "metadata": {"labels": {"app": "many"}},
                        "spec": {
                            "containers": [
                                {
                                    "name": "app",
                                    "image": "app",
                                    "resources": {"requests": {"cpu": "5m"}},
                                }
                            ]
                        },
                    },
                },
            }
        )
        await cluster.wait_converged(timeout=3600)
        samples = []
        for _ in range(5):
            start = time.perf_counter()
            await metrics.scrape()
            samples.append((time.perf_counter() - start) * 1000)
        assert len(metrics.pods) == pods == len(store.objects(Pod))
        return {"ms": min(samples)}


def hpa_syncs(quick: bool, repeat: int) -> list[Figure]:
    count, rounds = (100, 4) if quick else (1000, 4)

    def once() -> float:
        return run_module("benchmarks.autoscaling", "hpa", count, rounds)["per_s"]

    value, runs = measure(once, min(repeat, 3))
    return [
        Figure(
            "hpa_syncs_per_s",
            value,
            "syncs/s",
            20_000.0,
            "higher",
            f"{count} HPAs on {count} Deployments, steady load, 15 s sync period",
            runs,
        )
    ]


def metrics_scrape(quick: bool, repeat: int) -> list[Figure]:
    nodes, pods = (10, 1000) if quick else (100, 10_000)
    name = "metrics_scrape_10k_pods_ms" if not quick else f"metrics_scrape_{pods // 1000}k_pods_ms"

    def once() -> float:
        return run_module("benchmarks.autoscaling", "scrape", nodes, pods)["ms"]

    value, runs = measure(once, min(repeat, 3))
    return [
        Figure(
            name,
            value,
            "ms",
            50.0,
            "lower",
            f"one metrics-server round over {pods} simulated pods on {nodes} nodes",
            runs,
        )
    ]


FIGURES: list[Callable[[bool, int], list[Figure]]] = [hpa_syncs, metrics_scrape]
"""The suite's measurements, in order; each returns its figures."""


def run(quick: bool, repeat: int) -> list[Figure]:
    return [figure for measurement in FIGURES for figure in measurement(quick, repeat)]


if __name__ == "__main__":
    from runtime.gctuning import simulation_gc

    with simulation_gc():
        if sys.argv[1] == "hpa":
            print(json.dumps(asyncio.run(_hpa_syncs(int(sys.argv[2]), int(sys.argv[3])))))
        else:
            print(json.dumps(asyncio.run(_scrape(int(sys.argv[2]), int(sys.argv[3])))))
