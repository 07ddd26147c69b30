"""Workload figures for the apps controllers (part of suite `workloads`, whose
`FIGURES` runs `run` here):

* daemonset_15k_nodes_pods_per_s: a DaemonSet applied to 15,000 simulated
  nodes, wall-clock pods per second from apply until every daemon pod is
  running and available (scheduler_perf's SchedulingDaemonset 15000Nodes
  threshold is 1,100 pods/s; target 11,000);
* statefulset_1k_ordered_s: wall seconds for a 1,000-replica OrderedReady
  StatefulSet to be Ready (each pod waits for the one before; target 10 s).

Cluster start-up (registering the nodes) is not timed. Each run is a fresh
subprocess, at most three per figure (as the suite's other figures).
`--quick` shrinks them to 1,500 nodes and 100 replicas.

    python -m benchmarks.workloads_apps [--quick] [--repeat N]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import time

from benchmarks.harness import Figure, measure, print_table, run_module

__all__ = ["daemonset_figure", "run", "statefulset_figure"]

_DAEMONSET = """
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: default}
spec:
  selector: {matchLabels: {app: agent}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
      - name: agent
        image: registry.example/agent:1
        resources: {requests: {cpu: 10m, memory: 16Mi}}
"""

_STATEFULSET = """
apiVersion: apps/v1
kind: StatefulSet
metadata: {{name: db, namespace: default}}
spec:
  replicas: {replicas}
  serviceName: db
  selector: {{matchLabels: {{app: db}}}}
  template:
    metadata: {{labels: {{app: db}}}}
    spec:
      containers:
      - name: db
        image: registry.example/db:1
        resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
"""


async def _daemonset(nodes: int) -> dict[str, float]:
    from engine.api import DaemonSet
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    config = ClusterConfig(node_pools=(NodePool(count=nodes),), seed=1)
    async with Cluster(config) as cluster:
        store = cluster.store
        assert store is not None
        start = time.perf_counter()
        await cluster.apply(_DAEMONSET)

        def done() -> bool:
            ds = store.get(DaemonSet, "agent", "default")
            return ds.status.number_available == nodes == ds.status.updated_number_scheduled

        await cluster.wait_for(done, timeout=24 * 3600)
        seconds = time.perf_counter() - start
    return {"seconds": seconds, "pods_per_s": nodes / seconds}


async def _statefulset(replicas: int) -> dict[str, float]:
    from engine.api import StatefulSet
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    config = ClusterConfig(node_pools=(NodePool(count=max(1, replicas // 50)),), seed=1)
    async with Cluster(config) as cluster:
        store = cluster.store
        assert store is not None
        start = time.perf_counter()
        await cluster.apply(_STATEFULSET.format(replicas=replicas))

        def done() -> bool:
            sts = store.get(StatefulSet, "db", "default")
            return sts.status.ready_replicas == replicas

        await cluster.wait_for(done, timeout=24 * 3600)
        seconds = time.perf_counter() - start
    return {"seconds": seconds}


def daemonset_figure(quick: bool, repeat: int) -> Figure:
    nodes = 1500 if quick else 15_000
    value, runs = measure(
        lambda: run_module("benchmarks.workloads_apps", "daemonset", nodes)["pods_per_s"],
        min(repeat, 3),
    )
    label = f"{nodes // 1000}k" if nodes % 1000 == 0 else f"{nodes / 1000:g}k"
    return Figure(
        f"daemonset_{label}_nodes_pods_per_s",
        value,
        "pods/s",
        11_000,
        "higher",
        "scheduler_perf SchedulingDaemonset 15000Nodes threshold: 1,100 pods/s",
        runs,
    )


def statefulset_figure(quick: bool, repeat: int) -> Figure:
    replicas = 100 if quick else 1000
    value, runs = measure(
        lambda: run_module("benchmarks.workloads_apps", "statefulset", replicas)["seconds"],
        min(repeat, 3),
    )
    label = "1k" if replicas == 1000 else str(replicas)
    return Figure(
        f"statefulset_{label}_ordered_s",
        value,
        "s",
        10.0,
        "lower",
        "OrderedReady: one pod at a time, each Running and Ready first",
        runs,
    )


def run(quick: bool, repeat: int) -> list[Figure]:
    return [daemonset_figure(quick, repeat), statefulset_figure(quick, repeat)]


def main(argv: list[str]) -> None:
    if argv and argv[0] in ("daemonset", "statefulset"):
        from runtime.gctuning import simulation_gc

        size = int(argv[1])
        work = _daemonset(size) if argv[0] == "daemonset" else _statefulset(size)
        with simulation_gc():
            print(json.dumps(asyncio.run(work)))
        return
    parser = argparse.ArgumentParser(prog="python -m benchmarks.workloads_apps")
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args(argv)
    print_table("workloads (apps)", run(args.quick, args.repeat))


if __name__ == "__main__":
    main(sys.argv[1:])
