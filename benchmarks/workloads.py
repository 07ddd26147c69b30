"""Suite `workloads`: the batch controllers at scale, on virtual time.

* job_10k_completions_s: an Indexed Job of 10,000 completions, parallelism
  1,000, whose simulated pods run 30 s, on 100 nodes: wall seconds from
  apply until the Job is Complete (target 20 s);
* cronjob_day_100_s: 100 CronJobs of mixed schedules (every 5 minutes to
  daily, their Jobs' pods running 10 s) through one virtual day: wall
  seconds (target 10 s);
* daemonset_15k_nodes_pods_per_s and statefulset_1k_ordered_s, the apps
  controllers' figures (`benchmarks.workloads_apps`).

Each run is a fresh subprocess. `--quick` shrinks them to 1,000 completions
(parallelism 100, 10 nodes) and 20 CronJobs for six virtual hours.

`FIGURES` lists the measurements of the suite, each a function of (quick,
repeat) returning its figures.

Neighbours: `benchmarks.harness` (figures, subprocess runner),
`benchmarks.workloads_apps` (the DaemonSet and StatefulSet figures).
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable
from datetime import timedelta

import yaml

from benchmarks import workloads_apps
from benchmarks.harness import Figure, measure, run_module

__all__ = ["FIGURES", "cronjob_day", "job_completions", "run"]

_SCHEDULES = (
    "*/5 * * * *",
    "*/10 * * * *",
    "*/15 * * * *",
    "*/30 * * * *",
    "@hourly",
    "15 */2 * * *",
    "0 */6 * * *",
    "30 9 * * 1-5",
    "@daily",
    "0 0 * * 0",
)


def _pod_template(run: str) -> dict[str, object]:
    return {
        "metadata": {"annotations": {"sim.kubeloop.io/exit-after": run}},
        "spec": {
            "restartPolicy": "Never",
            "containers": [
                {
                    "name": "work",
                    "image": "registry.example/batch:1",
                    "resources": {"requests": {"cpu": "10m", "memory": "16Mi"}},
                }
            ],
        },
    }


def _job_yaml(completions: int, parallelism: int) -> str:
    return yaml.safe_dump(
        {
            "apiVersion": "batch/v1",
            "kind": "Job",
            "metadata": {"name": "indexed"},
            "spec": {
                "completions": completions,
                "parallelism": parallelism,
                "completionMode": "Indexed",
                "template": _pod_template("30s"),
            },
        }
    )


def _cronjobs_yaml(count: int) -> str:
    return "---\n".join(
        yaml.safe_dump(
            {
                "apiVersion": "batch/v1",
                "kind": "CronJob",
                "metadata": {"name": f"cron-{i:03d}"},
                "spec": {
                    "schedule": _SCHEDULES[i % len(_SCHEDULES)],
                    "jobTemplate": {"spec": {"template": _pod_template("10s")}},
                },
            }
        )
        for i in range(count)
    )


async def _job(nodes: int, completions: int, parallelism: int) -> dict[str, float]:
    from engine.api.batch import Job
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    config = ClusterConfig(node_pools=(NodePool(count=nodes, pods=110),), seed=1)
    async with Cluster(config) as cluster:
        store = cluster.store
        assert store is not None
        start = time.perf_counter()
        await cluster.apply(_job_yaml(completions, parallelism))

        def done() -> bool:
            job = store.try_get(Job, "indexed", "default")
            return job is not None and job.is_finished

        await cluster.wait_for(done, timeout=24 * 3600)
        wall = time.perf_counter() - start
        job = store.try_get(Job, "indexed", "default")
        assert job is not None
        assert job.status.succeeded == completions, job.status
        return {"wall_s": wall, "virtual_s": cluster.clock.monotonic()}


async def _cron(count: int, hours: float) -> dict[str, float]:
    from engine.api.batch import CronJob
    from engine.cron import parse_schedule
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    config = ClusterConfig(node_pools=(NodePool(count=3, pods=110),), seed=1)
    async with Cluster(config) as cluster:
        store = cluster.store
        assert store is not None
        start = time.perf_counter()
        await cluster.apply(_cronjobs_yaml(count))
        await cluster.clock.sleep(hours * 3600)
        wall = time.perf_counter() - start
        end = cluster.clock.now()
        for cronjob in store.objects(CronJob):
            schedule = parse_schedule(cronjob.spec.schedule)
            created = cronjob.metadata.creation_timestamp
            assert created is not None
            # A start time at the very end may not have been acted on yet.
            latest, _ = schedule.most_recent(created, end - timedelta(seconds=1))
            assert cronjob.status.last_schedule_time == latest, cronjob.metadata.name
        return {"wall_s": wall}


def job_completions(quick: bool, repeat: int) -> list[Figure]:
    nodes, completions, parallelism = (10, 1000, 100) if quick else (100, 10_000, 1000)
    label = f"{completions // 1000}k"

    def once() -> float:
        return run_module("benchmarks.workloads", "job", nodes, completions, parallelism)["wall_s"]

    value, runs = measure(once, min(repeat, 3))
    return [
        Figure(
            f"job_{label}_completions_s",
            value,
            "s",
            20.0,
            "lower",
            f"Indexed Job, parallelism {parallelism}, pods of 30 s (virtual)",
            runs,
        )
    ]


def cronjob_day(quick: bool, repeat: int) -> list[Figure]:
    count, hours = (20, 6.0) if quick else (100, 24.0)
    name = f"cronjob_day_{count}_s" if not quick else f"cronjob_{hours:g}h_{count}_s"

    def once() -> float:
        return run_module("benchmarks.workloads", "cron", count, hours)["wall_s"]

    value, runs = measure(once, min(repeat, 3))
    return [
        Figure(
            name,
            value,
            "s",
            10.0,
            "lower",
            f"{count} CronJobs, every 5 min to weekly, {hours:g} virtual hours",
            runs,
        )
    ]


FIGURES: list[Callable[[bool, int], list[Figure]]] = [
    job_completions,
    cronjob_day,
    workloads_apps.run,
]
"""The suite's measurements, in order; each returns its figures."""


def run(quick: bool, repeat: int) -> list[Figure]:
    return [figure for measurement in FIGURES for figure in measurement(quick, repeat)]


if __name__ == "__main__":
    from runtime.gctuning import simulation_gc

    with simulation_gc():
        if sys.argv[1] == "job":
            n, c, p = (int(a) for a in sys.argv[2:5])
            print(json.dumps(asyncio.run(_job(n, c, p))))
        else:
            print(json.dumps(asyncio.run(_cron(int(sys.argv[2]), float(sys.argv[3])))))
