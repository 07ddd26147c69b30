"""The cluster autoscaler over a virtual day (for suite `autoscaling`).

* autoscale_day_1k_nodes_s: wall seconds for one virtual day (86,400 s) of
  diurnal load on 200 Deployments, with the cluster autoscaler sizing one node
  pool between 100 and 1,000 nodes (4 cpu each; pods request 500m cpu, so 8
  fit a node). Every Deployment follows the same diurnal schedule of hourly
  scale steps, from 4 replicas at night (800 pods: 100 nodes) to 36 at the
  afternoon peak (7,200 pods: 900 nodes). The HorizontalPodAutoscaler is
  built separately, so the load drives the replicas directly here through
  this schedule rather than through HPAs; the autoscaler, scheduler,
  controllers and kubelets all run as in any cluster. Alongside: the
  scale-ups and scale-downs done and the largest and smallest node count
  seen (sampled once per virtual minute).

Each run is a fresh subprocess. `--quick` runs a tenth of it: 20 Deployments,
10 to 100 nodes, six virtual hours.
"""

from __future__ import annotations

import asyncio
import json
import math
import sys
import time

from benchmarks.harness import Figure, measure, run_module

DAY = 86_400.0
MIN_REPLICAS = 4
MAX_REPLICAS = 36


def replicas_at(hour: float) -> int:
    """The diurnal schedule: lowest at 03:00, highest at 15:00."""
    phase = (1 - math.cos(2 * math.pi * (hour - 3) / 24)) / 2
    return MIN_REPLICAS + round((MAX_REPLICAS - MIN_REPLICAS) * phase)


def _deployments(count: int, replicas: int) -> str:
    return "---\n".join(
        f"""
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app-{i:03d}, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: app-{i:03d}}}}}
  template:
    metadata: {{labels: {{app: app-{i:03d}}}}}
    spec:
      containers:
        - name: main
          image: registry.example/app:1
          resources: {{requests: {{cpu: 500m, memory: 1Gi}}}}
"""
        for i in range(count)
    )


async def _day(deployments: int, min_nodes: int, max_nodes: int, hours: int) -> dict[str, float]:
    from engine.api.apps import Deployment
    from engine.api.core import Node
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    pool = NodePool(
        name="pool",
        count=min_nodes,
        min_count=min_nodes,
        max_count=max_nodes,
        cpu="4",
        memory="32Gi",
    )
    config = ClusterConfig(node_pools=(pool,), seed=1)
    async with Cluster(config) as cluster:
        assert cluster.store is not None
        store = cluster.store
        await cluster.apply(_deployments(deployments, replicas_at(0)))
        nodes_seen: list[int] = []
        start = time.perf_counter()
        for hour in range(hours):
            want = replicas_at(hour)
            for i in range(deployments):
                await cluster.scale(Deployment, f"app-{i:03d}", want, "default")
            for _ in range(60):
                await asyncio.sleep(60)
                nodes_seen.append(sum(1 for _ in store.objects(Node)))
        wall = time.perf_counter() - start
        state = cluster.autoscaler_state()
        assert state is not None
    return {
        "wall_s": wall,
        "scale_ups": state.scale_ups,
        "scale_downs": state.scale_downs,
        "max_nodes": max(nodes_seen),
        "min_nodes": min(nodes_seen),
    }


def run(quick: bool, repeat: int) -> list[Figure]:
    args = (20, 10, 100, 6) if quick else (200, 100, 1000, 24)
    runs: list[dict[str, float]] = []

    def once() -> float:
        runs.append(run_module("benchmarks.autoscaling_cluster", *args))
        return runs[-1]["wall_s"]

    wall, samples = measure(once, min(repeat, 3))
    last = runs[-1]
    return [
        Figure(
            "autoscale_day_1k_nodes_s",
            wall,
            "s",
            60.0,
            "lower",
            "one virtual day, 200 Deployments, cluster autoscaler 100..1,000 nodes",
            samples,
        ),
        Figure("autoscale_day_scale_ups", last["scale_ups"], "", None, "lower", "", ()),
        Figure("autoscale_day_scale_downs", last["scale_downs"], "", None, "lower", "", ()),
        Figure("autoscale_day_max_nodes", last["max_nodes"], "", None, "lower", "", ()),
        Figure("autoscale_day_min_nodes", last["min_nodes"], "", None, "lower", "", ()),
    ]


if __name__ == "__main__":
    from runtime.gctuning import simulation_gc

    d, lo, hi, h = (int(a) for a in sys.argv[1:5])
    with simulation_gc():
        print(json.dumps(asyncio.run(_day(d, lo, hi, h))))
