"""Suite `simulation`: time compression and fuzzing throughput of the simulator.

* virtual_hour_1k_nodes_s: wall seconds to simulate one virtual hour of a
  steady cluster of 1,000 simulated nodes running 10,000 pods (10
  Deployments of 1,000 replicas), with Kubernetes' default heartbeats: every
  kubelet renews its Lease every 10 s (+ up to 4 % jitter), checks its
  NodeStatus every 10 s and posts it at least every 5 min, and the node
  lifecycle controller monitors every node every 5 s. The hour starts once
  every pod is running and ready; set-up is measured and reported apart.
  Beside it: set-up seconds, CPU seconds of the hour (the machine is shared:
  CPU time says what the hour costs when wall time is inflated by other
  work), store writes during the hour, virtual/real ratio and peak RSS.
  It runs the plain `Cluster` (every built-in controller, the scheduler and a
  kubelet per node, on the virtual clock), the way a user compresses time;
  the fuzzing harness's per-write oracles are not part of it. Like every
  suite it runs under `simulation_gc()`, and once set up it calls
  `gc.collect(); gc.freeze()`, as `NodeAgentPool` advises for large
  simulations (counted in set-up).
* fuzz_examples_per_s: hypothesis examples per wall second of `kubeloop
  fuzz` on the built-in target (`runtime.simulation.targets:BUILTIN`) with a
  fixed 3-node cluster, 20-step scenarios and every fault class on, without
  shrinking, set up as `kubeloop fuzz` runs it (log level critical, the
  collector's thresholds raised and the imported modules frozen); examples
  per CPU second beside it.
* fuzz_workers_2_scaling_x: the user's own command, `kubeloop fuzz --workers
  N --seed 1 --no-shrink --json` on the built-in target, each in a fresh
  process, with N = 2 against N = 1 (the same shards of
  `runtime.simulation.sharding`; one worker runs them in the command's own
  process, two fork worker processes): examples per second with 2 over with
  1 (target 1.7 on 2 cores), from the wall seconds the command reports (from
  the campaign's start to its summary, the interpreter's own start-up left
  out on both sides); examples per second per worker beside it. Linux
  schedules by session when autogroup is on (`/proc/sys/kernel/
  sched_autogroup_enabled`): while another session keeps the cores busy,
  both workers share this session's one slice, and the figure says nothing
  about scaling; measure it when the machine is otherwise idle.

Each measurement is a fresh subprocess (a clean peak RSS, no state carried
between runs). `--quick` shrinks the cluster to 100 nodes and 1,000 pods (the
target scaled with the node count) and fuzzes 10 examples.

Neighbours: `benchmarks.harness`, `runtime.cluster`, `runtime.simulation.campaign`.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from benchmarks.harness import Figure, deployments_yaml, measure, run_module

__all__ = [
    "FULL",
    "QUICK",
    "Sizes",
    "fuzz_command",
    "fuzz_scaling",
    "fuzz_throughput",
    "run",
    "virtual_hour",
]

HOUR_TARGET_PER_1K_NODES = 20.0
FUZZ_TARGET = 20.0
SCALING_TARGET = 1.7


@dataclass(frozen=True, slots=True)
class Sizes:
    """How big each measurement is."""

    nodes: int
    deployments: int
    replicas: int
    hour: float = 3600.0
    fuzz_examples: int = 100
    fuzz_steps: int = 20
    fuzz_nodes: int = 3
    scaling_examples: int = 100
    """Examples of the 1-vs-2-worker campaigns (at least two shards of 10 to scale)."""

    @property
    def pods(self) -> int:
        return self.deployments * self.replicas


FULL = Sizes(nodes=1000, deployments=10, replicas=1000, fuzz_examples=100)
QUICK = Sizes(nodes=100, deployments=10, replicas=100, fuzz_examples=10, scaling_examples=20)


def _count(n: int) -> str:
    return f"{n // 1000}k" if n >= 1000 and n % 1000 == 0 else str(n)


async def virtual_hour(
    nodes: int, deployments: int, replicas: int, hour: float = 3600.0
) -> dict[str, float]:
    """Bring up the cluster, wait until every pod is ready, then run `hour`
    virtual seconds; what it cost (see the module docstring)."""
    from engine.api.core import Node
    from engine.store import WriteRecord
    from runtime.cluster import Cluster, ClusterConfig, NodePool

    config = ClusterConfig(node_pools=(NodePool(count=nodes, pods=110),), seed=1)
    manifests = deployments_yaml(deployments, replicas)
    start = time.perf_counter()
    async with Cluster(config) as cluster:
        await cluster.apply(manifests)
        await cluster.wait_converged(timeout=3600)
        # What NodeAgentPool's docstring advises for large simulations: the
        # set-up's objects are long-lived; keep the collector from rescanning them.
        gc.collect()
        gc.freeze()
        setup = time.perf_counter() - start
        store = cluster.store
        assert store is not None
        writes: Counter[str] = Counter()

        def count(record: WriteRecord) -> None:
            writes[record.kind] += 1

        store.observers.append(count)
        virtual_start = cluster.clock.monotonic()
        start, cpu_start = time.perf_counter(), time.process_time()
        try:
            await cluster.clock.sleep(hour)
        finally:
            wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
            gc.unfreeze()
        virtual = cluster.clock.monotonic() - virtual_start
        store.observers.remove(count)
        not_ready = sum(not node.is_ready for node in store.objects(Node))
        converged = cluster.converged()
    return {
        "setup_s": setup,
        "hour_s": wall,
        "hour_cpu_s": cpu,
        "virtual_s": virtual,
        "speedup": virtual / wall,
        "writes": float(sum(writes.values())),
        "lease_writes": float(writes["Lease"]),
        "node_writes": float(writes["Node"]),
        # The last start-up Events (the node controller's RegisteredNode from its
        # first pass after the nodes registered) may fall into the hour.
        "event_writes": float(writes["Event"]),
        "other_writes": float(
            sum(writes.values()) - writes["Lease"] - writes["Node"] - writes["Event"]
        ),
        "nodes_not_ready": float(not_ready),
        "converged": float(converged),
        "rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024,
    }


def fuzz_throughput(
    examples: int, steps: int = 20, nodes: int = 3, seed: int = 1
) -> dict[str, float]:
    """Run a fuzz campaign on the built-in target; examples per second."""
    from dataclasses import replace

    from runtime.cluster import NodePool
    from runtime.simulation import strategies  # noqa: F401  (imported before the clock starts)
    from runtime.simulation.campaign import run_campaign
    from runtime.simulation.targets import BUILTIN

    target = replace(BUILTIN, node_pools=(NodePool(count=nodes),))
    gc.freeze()  # as `kubeloop fuzz` and its worker processes do
    start, cpu_start = time.perf_counter(), time.process_time()
    result = run_campaign(
        target, examples=examples, seed_value=seed, steps=steps, failure_dir=None, shrink=False
    )
    wall, cpu = time.perf_counter() - start, time.process_time() - cpu_start
    gc.unfreeze()
    progress = result.progress
    return {
        "examples": float(progress.examples),
        "wall_s": wall,
        "cpu_s": cpu,
        "examples_per_s": progress.examples / wall,
        "examples_per_cpu_s": progress.examples / cpu,
        "steps": float(progress.steps),
        "writes": float(progress.writes),
        "virtual_s": progress.virtual_seconds,
        "faults": float(sum(progress.faults.values())),
        "failed": float(not result.ok),
    }


def fuzz_command(workers: int, examples: int, steps: int = 20, seed: int = 1) -> dict[str, Any]:
    """`kubeloop fuzz --workers N ... --json` in a fresh process; its summary."""
    with tempfile.TemporaryDirectory() as out:
        output = subprocess.run(
            [
                sys.executable,
                "-m",
                "runtime.cli",
                "fuzz",
                "--workers",
                str(workers),
                "--examples",
                str(examples),
                "--steps",
                str(steps),
                "--seed",
                str(seed),
                "--no-shrink",
                "--out",
                out,
                "--json",
            ],
            check=False,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONHASHSEED": "0"},
        )
    if output.returncode not in (0, 1):
        raise RuntimeError(f"kubeloop fuzz --workers {workers} failed: {output.stderr[-2000:]}")
    summary: dict[str, Any] = json.loads(output.stdout)
    return summary


def fuzz_scaling(examples: int, steps: int = 20, seed: int = 1) -> dict[str, float]:
    """The same campaign with `kubeloop fuzz --workers 1` and `--workers 2`; their rates."""
    rates = {}
    for workers in (1, 2):
        summary = fuzz_command(workers, examples, steps, seed)
        rates[workers] = summary["examples"] / summary["wall_seconds"]
    return {
        "examples": float(examples),
        "one_worker_per_s": rates[1],
        "two_workers_per_s": rates[2],
        "scaling_x": rates[2] / rates[1],
        "per_worker_per_s": rates[2] / 2,
    }


def scaling_figures(sizes: Sizes, runs: list[dict[str, float]]) -> list[Figure]:
    """The figures of sharded campaigns on 1 and 2 worker processes."""
    scaling, scaling_runs = _median(runs, "scaling_x")
    per_worker, per_worker_runs = _median(runs, "per_worker_per_s")
    return [
        Figure(
            "fuzz_workers_2_scaling_x",
            scaling,
            "x",
            SCALING_TARGET,
            "higher",
            f"{sizes.scaling_examples} examples on 2 worker processes vs 1",
            scaling_runs,
        ),
        Figure(
            "fuzz_workers_2_per_worker_per_s",
            per_worker,
            "examples/s",
            None,
            "higher",
            "examples per second per worker, 2 workers",
            per_worker_runs,
        ),
    ]


def _median(runs: list[dict[str, float]], key: str) -> tuple[float, tuple[float, ...]]:
    values = tuple(r[key] for r in runs)
    return sorted(values)[len(values) // 2], values


def _sampled(
    runs: list[dict[str, float]], key: str, sample: Callable[[], dict[str, float]]
) -> Callable[[], float]:
    def once() -> float:
        runs.append(sample())
        return runs[-1][key]

    return once


def hour_figures(sizes: Sizes, runs: list[dict[str, float]]) -> list[Figure]:
    """The virtual-hour figures from the runs' results."""
    label = f"{_count(sizes.nodes)}_nodes"
    scale = sizes.nodes / 1000
    hour, hour_runs = _median(runs, "hour_s")
    figures = [
        Figure(
            f"virtual_hour_{label}_s",
            hour,
            "s",
            round(HOUR_TARGET_PER_1K_NODES * scale, 3),
            "lower",
            f"1 virtual hour, {_count(sizes.pods)} pods, default heartbeats; "
            "FoundationDB's simulator runs about 10x real time",
            hour_runs,
        )
    ]
    extras: tuple[tuple[str, str, str, Literal["higher", "lower"], str], ...] = (
        ("hour_cpu_s", "cpu_s", "s", "lower", "CPU seconds of the hour"),
        ("setup_s", "setup_s", "s", "lower", "apply until every pod is ready"),
        ("writes", "writes", "writes", "lower", "store writes in the hour"),
        ("speedup", "speedup_x", "x", "higher", "virtual / wall time"),
        ("rss_mb", "rss_mb", "MiB", "lower", "peak RSS"),
    )
    for key, suffix, unit, better, anchor in extras:
        value, values = _median(runs, key)
        figures.append(
            Figure(f"virtual_hour_{label}_{suffix}", value, unit, None, better, anchor, values)
        )
    return figures


def fuzz_figures(sizes: Sizes, runs: list[dict[str, float]]) -> list[Figure]:
    """The fuzzing figures from the runs' results."""
    rate, rate_runs = _median(runs, "examples_per_s")
    cpu_rate, cpu_runs = _median(runs, "examples_per_cpu_s")
    failed = any(r["failed"] for r in runs)
    what = (
        f"{sizes.fuzz_nodes} nodes, {sizes.fuzz_steps}-step scenarios, all faults, "
        f"{sizes.fuzz_examples} examples"
    )
    return [
        Figure(
            "fuzz_examples_per_s",
            rate,
            "examples/s",
            FUZZ_TARGET,
            "higher",
            what + (" (a failure was found: the campaign stopped early)" if failed else ""),
            rate_runs,
        ),
        Figure(
            "fuzz_examples_per_cpu_s",
            cpu_rate,
            "examples/s",
            None,
            "higher",
            "per CPU second",
            cpu_runs,
        ),
    ]


def run(
    quick: bool, repeat: int, *, sizes: Sizes | None = None, in_process: bool = False
) -> list[Figure]:
    """The suite (see the module docstring). `sizes` overrides the sizes;
    `in_process` runs each measurement here instead of in a subprocess (tests)."""
    sizes = sizes or (QUICK if quick else FULL)

    def hour_sample() -> dict[str, float]:
        if in_process:
            return asyncio.run(
                virtual_hour(sizes.nodes, sizes.deployments, sizes.replicas, sizes.hour)
            )
        return run_module(
            "benchmarks.simulation",
            "hour",
            sizes.nodes,
            sizes.deployments,
            sizes.replicas,
            sizes.hour,
        )

    def fuzz_sample() -> dict[str, float]:
        if in_process:
            return fuzz_throughput(sizes.fuzz_examples, sizes.fuzz_steps, sizes.fuzz_nodes)
        return run_module(
            "benchmarks.simulation", "fuzz", sizes.fuzz_examples, sizes.fuzz_steps, sizes.fuzz_nodes
        )

    def scaling_sample() -> dict[str, float]:
        # Each side is a `kubeloop fuzz` process of its own, in_process or not.
        return fuzz_scaling(sizes.scaling_examples, sizes.fuzz_steps)

    hour_runs: list[dict[str, float]] = []
    measure(_sampled(hour_runs, "hour_s", hour_sample), min(repeat, 3))
    fuzz_runs: list[dict[str, float]] = []
    measure(_sampled(fuzz_runs, "examples_per_s", fuzz_sample), min(repeat, 3))
    scaling_runs: list[dict[str, float]] = []
    measure(_sampled(scaling_runs, "scaling_x", scaling_sample), min(repeat, 3))
    return (
        hour_figures(sizes, hour_runs)
        + fuzz_figures(sizes, fuzz_runs)
        + scaling_figures(sizes, scaling_runs)
    )


def _main(argv: list[str]) -> dict[str, Any]:
    what, *numbers = argv
    if what == "hour":
        n, d, r = (int(a) for a in numbers[:3])
        return asyncio.run(virtual_hour(n, d, r, float(numbers[3])))
    if what == "fuzz":
        from engine.logging import configure_logging

        configure_logging("critical")  # as `kubeloop fuzz` runs it
        examples, steps, nodes = (int(a) for a in numbers[:3])
        return fuzz_throughput(examples, steps, nodes)
    raise SystemExit(f"usage: python -m benchmarks.simulation hour|fuzz ...; got {what!r}")


if __name__ == "__main__":
    from runtime.gctuning import simulation_gc

    with simulation_gc():
        print(json.dumps(_main(sys.argv[1:])))
