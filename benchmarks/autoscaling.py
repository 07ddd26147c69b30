"""Suite `autoscaling`: the metrics pipeline and the HorizontalPodAutoscaler.

* hpa_syncs_per_s: 1,000 HPAs on 1,000 Deployments (10 per namespace, 2
  Running and Ready pods each, cpu usage at the target so nothing scales),
  reconciled through the controller's workqueue every 15 s of virtual time:
  HPA syncs per wall second (target 20,000);
* metrics_scrape_10k_pods_ms: one metrics-server round over 10,000 simulated
  pods on 100 nodes (every kubelet's stats, grouped per pod): wall
  milliseconds (target 50);
* autoscale_day_1k_nodes_s: a virtual day of diurnal load on 200
  Deployments with the cluster autoscaler between 100 and 1,000 nodes
  (`benchmarks.autoscaling_cluster`, which says how the load is driven).

The first two each also have a `_cpu` twin without a target: the same measured in the
process's CPU time, which a machine shared with other work inflates far less
than wall time.

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
from collections.abc import Callable
from datetime import timedelta

from benchmarks.harness import Figure, measure, run_module

__all__ = ["FIGURES", "hpa_syncs", "metrics_scrape", "run"]

PER_NAMESPACE = 10
PODS_PER_TARGET = 2


async def _hpa_syncs(count: int, rounds: int) -> dict[str, float]:
    from engine.api import Deployment, HorizontalPodAutoscaler, Pod
    from runtime.cluster import Cluster, ClusterConfig, NodePool
    from runtime.metrics import MetricsServer, PodSample

    config = ClusterConfig(
        node_pools=(NodePool(count=0),), controllers=("horizontalpodautoscaler",), seed=1
    )
    async with Cluster(config) as cluster:
        store = cluster.store
        assert store is not None
        # The metrics server's round, recorded as scraped: every pod at 50m,
        # exactly the 50 % target, so nothing rescales (no kubelets: the pods
        # are written straight into the store).
        metrics = MetricsServer(lambda: (), cluster.clock)
        store.add_aggregated(metrics)
        samples: list[PodSample] = []
        started = (cluster.clock.now() - timedelta(hours=1)).isoformat()
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
                samples.append(PodSample(namespace, pod_name, "", labels, (("app", 50.0, 0),)))
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
        metrics.record_round(samples, {})
        manager = cluster.manager
        assert manager is not None
        controller = next(c for c in manager.controllers if c.name == "horizontalpodautoscaler")
        await cluster.clock.sleep(1)  # first syncs: statuses written
        before = controller.reconciles
        start, cpu = time.perf_counter(), time.process_time()
        await cluster.clock.sleep(15 * rounds)
        wall, cpu = time.perf_counter() - start, time.process_time() - cpu
        syncs = controller.reconciles - before
        for deployment in store.objects(Deployment):
            assert deployment.spec.replicas == PODS_PER_TARGET, deployment.metadata.name
        return {"syncs": syncs, "wall_s": wall, "per_s": syncs / wall, "per_cpu_s": syncs / cpu}


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
        samples, cpu_samples = [], []
        for _ in range(5):
            start, cpu = time.perf_counter(), time.process_time()
            await metrics.scrape()
            samples.append((time.perf_counter() - start) * 1000)
            cpu_samples.append((time.process_time() - cpu) * 1000)
        assert len(metrics.pods) == pods == len(list(store.objects(Pod)))
        return {"ms": min(samples), "cpu_ms": min(cpu_samples)}


def hpa_syncs(quick: bool, repeat: int) -> list[Figure]:
    count, rounds = (100, 4) if quick else (1000, 4)
    results: list[dict[str, float]] = []

    def once() -> float:
        results.append(run_module("benchmarks.autoscaling", "hpa", count, rounds))
        return results[-1]["per_s"]

    value, runs = measure(once, min(repeat, 3))
    anchor = f"{count} HPAs on {count} Deployments, steady load, 15 s sync period"
    cpu = sorted(r["per_cpu_s"] for r in results)[len(results) // 2]
    return [
        Figure("hpa_syncs_per_s", value, "syncs/s", 20_000.0, "higher", anchor, runs),
        Figure(
            "hpa_syncs_per_cpu_s",
            cpu,
            "syncs/s",
            None,
            "higher",
            "the same per second of the process's CPU time (wall figures on a loaded machine)",
            tuple(r["per_cpu_s"] for r in results),
        ),
    ]


def metrics_scrape(quick: bool, repeat: int) -> list[Figure]:
    nodes, pods = (10, 1000) if quick else (100, 10_000)
    name = "metrics_scrape_10k_pods_ms" if not quick else f"metrics_scrape_{pods // 1000}k_pods_ms"
    results: list[dict[str, float]] = []

    def once() -> float:
        results.append(run_module("benchmarks.autoscaling", "scrape", nodes, pods))
        return results[-1]["ms"]

    value, runs = measure(once, min(repeat, 3))
    cpu = sorted(r["cpu_ms"] for r in results)[len(results) // 2]
    return [
        Figure(
            name,
            value,
            "ms",
            50.0,
            "lower",
            f"one metrics-server round over {pods} simulated pods on {nodes} nodes",
            runs,
        ),
        Figure(
            name.replace("_ms", "_cpu_ms"),
            cpu,
            "ms",
            None,
            "lower",
            "the same in the process's CPU time",
            tuple(r["cpu_ms"] for r in results),
        ),
    ]


def _cluster_autoscaler_day(quick: bool, repeat: int) -> list[Figure]:
    from benchmarks import autoscaling_cluster

    return autoscaling_cluster.run(quick, repeat)


FIGURES: list[Callable[[bool, int], list[Figure]]] = [
    hpa_syncs,
    metrics_scrape,
    _cluster_autoscaler_day,
]
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
