"""Suite `convergence`: a whole simulated cluster, end to end.

5,000 simulated nodes, 100 Deployments of 1,000 replicas each, on virtual
time, with every built-in controller, the scheduler and the kubelets:

* converge_100k_pods_5k_nodes_s: wall seconds from apply until every pod is
  running and ready and every Deployment available;
* converge_100k_rss_mb: peak resident memory of that run (the process);
* bytes_per_converged_pod: the peak resident memory at convergence less the
  resident memory of the empty cluster (nodes registered), per pod;
* pod_startup_p99_virtual_s: p99 pod startup (created -> Ready) in cluster time;
* rolling_update_100k_s: wall seconds for a rolling update of all 100
  Deployments to a new image, until converged again.

* rolling_update_100k_rss_mb: peak resident memory by the end of the rolling
  update (old and new pods overlap, and the update's Events accumulate).

Each run is a fresh subprocess (for a clean peak RSS). `--quick` shrinks it to
500 nodes and 10 x 100 replicas, and takes up to three runs. At full size a
run takes about ten minutes and the suite must finish within 15, so it runs
once; `KUBELOOP_CONVERGENCE_RUNS=N` asks for the median of N.
"""

from __future__ import annotations

import asyncio
import json
import os
import resource
import sys
import time

from benchmarks.harness import Figure, current_rss_mb, deployments_yaml, measure, run_module


async def _converge(nodes: int, deployments: int, replicas: int) -> dict[str, float]:
    from engine.api.apps import Deployment
    from runtime.cluster import Cluster, ClusterConfig, NodePool
    from runtime.scenario import SetImageArgs, set_image
    from runtime.summary import percentile

    config = ClusterConfig(node_pools=(NodePool(count=nodes, pods=110),), seed=1)
    manifests = deployments_yaml(deployments, replicas)
    async with Cluster(config) as cluster:
        await cluster.wait_converged(timeout=3600)
        empty_rss = current_rss_mb()
        start = time.perf_counter()
        await cluster.apply(manifests)
        await cluster.wait_converged(timeout=24 * 3600)
        converge = time.perf_counter() - start
        assert cluster.pod_counts().ready == deployments * replicas
        converged_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # peak so far
        startup_p99 = percentile(cluster.tracker.startup_seconds, 99)
        start = time.perf_counter()
        for i in range(deployments):
            await set_image(
                cluster,
                SetImageArgs(deployment=f"app-{i:03d}", image="registry.example/app:2"),
            )
        await cluster.wait_for(
            lambda: (
                all(
                    d.spec.template.spec.containers[0].image == "registry.example/app:2"
                    and d.status.observed_generation >= d.metadata.generation
                    for d in cluster.store.objects(Deployment)  # type: ignore[union-attr]
                )
                and cluster.converged()
            ),
            timeout=24 * 3600,
        )
        rolling = time.perf_counter() - start
    return {
        "converge_s": converge,
        "rolling_s": rolling,
        "startup_p99": startup_p99,
        "rss_mb": converged_rss,
        "rolling_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
        "bytes_per_pod": (converged_rss - empty_rss) * 2**20 / (deployments * replicas),
    }


def run(quick: bool, repeat: int) -> list[Figure]:
    nodes, deployments, replicas = (500, 10, 100) if quick else (5000, 100, 1000)
    pods = deployments * replicas
    label = f"{pods // 1000}k" if pods >= 1000 else str(pods)
    runs: list[dict[str, float]] = []

    def once() -> float:
        runs.append(run_module("benchmarks.convergence", nodes, deployments, replicas))
        return runs[-1]["converge_s"]

    full_size_runs = int(os.environ.get("KUBELOOP_CONVERGENCE_RUNS", "1"))
    converge, converge_runs = measure(once, min(repeat, 3) if quick else full_size_runs)

    def median_of(key: str) -> tuple[float, tuple[float, ...]]:
        values = sorted(r[key] for r in runs)
        return values[len(values) // 2], tuple(r[key] for r in runs)

    rss, rss_runs = median_of("rss_mb")
    per_pod, per_pod_runs = median_of("bytes_per_pod")
    startup, startup_runs = median_of("startup_p99")
    rolling, rolling_runs = median_of("rolling_s")
    rolling_rss, rolling_rss_runs = median_of("rolling_rss_mb")
    return [
        Figure(
            f"converge_{label}_pods_{nodes // 1000 or nodes}{'k' if nodes >= 1000 else ''}_nodes_s",
            converge,
            "s",
            60.0,
            "lower",
            "KWOK creates ~20 pods/s; its CI expects 5,000 pods Running within 240 s",
            converge_runs,
        ),
        Figure(
            f"converge_{label}_rss_mb",
            rss,
            "MiB",
            1536,
            "lower",
            "peak RSS until converged",
            rss_runs,
        ),
        Figure(
            "bytes_per_converged_pod",
            per_pod,
            "bytes",
            12_000,
            "lower",
            "peak RSS growth over the empty cluster, per pod (JSON of a running pod: ~2,900)",
            per_pod_runs,
        ),
        Figure(
            "pod_startup_p99_virtual_s",
            startup,
            "s",
            5.0,
            "lower",
            "Kubernetes SLO: pod startup p99 <= 5 s",
            startup_runs,
        ),
        Figure(
            f"rolling_update_{label}_s",
            rolling,
            "s",
            180.0,
            "lower",
            "all Deployments to a new image",
            rolling_runs,
        ),
        Figure(
            f"rolling_update_{label}_rss_mb",
            rolling_rss,
            "MiB",
            None,
            "lower",
            "peak RSS by the end of the rolling update",
            rolling_rss_runs,
        ),
    ]


if __name__ == "__main__":
    from runtime.gctuning import simulation_gc

    n, d, r = (int(a) for a in sys.argv[1:4])
    with simulation_gc():
        print(json.dumps(asyncio.run(_converge(n, d, r))))
