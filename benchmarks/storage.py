"""Suite `storage`: what durable local state (`engine.durable`) costs.

* sqlite_acknowledged_writes_per_s: Pod creates per wall second through a
  store journalled to SQLite (WAL with `synchronous=NORMAL`), in bursts of
  100 per event-loop turn, each burst flushed (group commit: durable, so
  acknowledgeable) before the next (target 10,000); the same creates on the
  in-memory store beside it, and their ratio.
* restart_100k_objects_s: wall seconds for a fresh store to load 100,000
  journalled Pods from the database (target 10 s).
* etcd_writes_per_s: Pod creates per second through a store on a real
  single-member etcd (`benchmarks.etcd`), beside the same puts made straight
  with the etcd client; `etcd_write_ratio` is kubeloop's rate over etcd's
  own (target 0.5). Left out where no etcd binary is installed.
* leader_failover_s: wall seconds without a controller-manager leader after
  the leader process is killed (`benchmarks.failover`; target 17 s, client-go's
  leaseDuration + retryPeriod).

Each measurement is a fresh subprocess in a temporary directory, with the
cyclic collector tuned as `kubeloop run` tunes it. `--quick`
writes and restores 5,000 Pods.

Neighbours: `benchmarks.harness`, `engine.durable`.
"""

from __future__ import annotations

import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.etcd import etcd_writes
from benchmarks.failover import FAILOVER_TARGET, leader_failover_s
from benchmarks.harness import Figure, measure, run_module

__all__ = ["durable_writes", "run"]

WRITES_TARGET = 10_000.0
BURST = 100
"""Writes per event-loop turn, flushed (acknowledged) together."""
RESTART_TARGET = 10.0


def _pods(count: int, prefix: str) -> list[Any]:
    from engine.api.core import Pod

    return [
        Pod.model_validate(
            {
                "metadata": {"name": f"{prefix}-{i}", "labels": {"app": "bench", "tier": "web"}},
                "spec": {
                    "containers": [
                        {
                            "name": "web",
                            "image": "nginx:1.27",
                            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
                        }
                    ]
                },
            }
        )
        for i in range(count)
    ]


def durable_writes(count: int) -> dict[str, float]:
    """Create `count` Pods in memory, then journalled; then restore them."""
    from engine.clock import VirtualClock
    from engine.durable import SqliteJournal
    from engine.store import Store

    with tempfile.TemporaryDirectory() as directory:
        path = Path(directory) / "kubeloop.db"
        memory = Store(clock=VirtualClock())
        pods = _pods(count, "m")
        start = time.perf_counter()
        for pod in pods:
            memory.create(pod)
        memory_s = time.perf_counter() - start
        store = Store(clock=VirtualClock())
        journal = SqliteJournal(path)
        journal.attach(store)
        pods = _pods(count, "d")

        async def write() -> float:
            # As a server writes: bursts within loop turns, each burst
            # acknowledged (flushed) before the next.
            start = time.perf_counter()
            for first in range(0, count, BURST):
                for pod in pods[first : first + BURST]:
                    store.create(pod)
                journal.flush()
                await asyncio.sleep(0)
            return time.perf_counter() - start

        durable_s = asyncio.run(write())
        journal.close()
        start = time.perf_counter()
        restored = Store(clock=VirtualClock())
        journal = SqliteJournal(path)
        loaded = journal.restore(restored)
        restore_s = time.perf_counter() - start
        journal.close()
    return {
        "memory_writes_per_s": count / memory_s,
        "durable_writes_per_s": count / durable_s,
        "ratio": memory_s / durable_s,
        "restore_s": restore_s,
        "restored": float(loaded),
    }


def run(quick: bool, repeat: int) -> list[Figure]:
    """The suite (see the module docstring)."""
    count = 5_000 if quick else 100_000
    runs: list[dict[str, float]] = []

    def sample() -> float:
        runs.append(run_module("benchmarks.storage", count))
        return runs[-1]["durable_writes_per_s"]

    measure(sample, min(repeat, 3))

    def median(key: str) -> tuple[float, tuple[float, ...]]:
        values = tuple(r[key] for r in runs)
        return sorted(values)[len(values) // 2], values

    writes, writes_runs = median("durable_writes_per_s")
    memory, memory_runs = median("memory_writes_per_s")
    ratio, ratio_runs = median("ratio")
    restore, restore_runs = median("restore_s")
    label = f"{count // 1000}k"
    failover, failover_runs = measure(lambda: leader_failover_s(quick), min(repeat, 3))
    figures = _etcd_figures(500 if quick else 2_000, min(repeat, 3))
    return [
        *figures,
        Figure(
            "sqlite_acknowledged_writes_per_s",
            writes,
            "writes/s",
            WRITES_TARGET,
            "higher",
            "Pod creates durable in SQLite (WAL, group commit per 100); Kine on SQLite in k3s",
            writes_runs,
        ),
        Figure(
            "memory_writes_per_s",
            memory,
            "writes/s",
            None,
            "higher",
            "the same creates on the in-memory store",
            memory_runs,
        ),
        Figure(
            "durable_vs_memory_writes",
            ratio,
            "x",
            None,
            "higher",
            "journalled / in-memory write rate",
            ratio_runs,
        ),
        Figure(
            f"restart_{label}_objects_s",
            restore,
            "s",
            RESTART_TARGET * count / 100_000,
            "lower",
            f"a fresh store loads {count:,} journalled Pods",
            restore_runs,
        ),
        Figure(
            "leader_failover_s",
            failover,
            "s",
            FAILOVER_TARGET,
            "lower",
            "controller-manager leader killed until another leads (leaseDuration + retryPeriod)",
            failover_runs,
        ),
    ]


def _etcd_figures(count: int, repeat: int) -> list[Figure]:
    samples = [etcd_writes(count) for _ in range(max(1, repeat))]
    runs = [sample for sample in samples if sample is not None]
    if not runs:
        return []

    def median(key: str) -> tuple[float, tuple[float, ...]]:
        values = tuple(r[key] for r in runs)
        return sorted(values)[len(values) // 2], values

    rate, rate_runs = median("kubeloop_per_s")
    own, _ = median("etcd_per_s")
    ratio, ratio_runs = median("ratio")
    return [
        Figure(
            "etcd_writes_per_s",
            rate,
            "writes/s",
            None,
            "higher",
            f"Pod creates through a store on etcd; etcd's own puts {own:,.0f}/s",
            rate_runs,
        ),
        Figure(
            "etcd_write_ratio",
            ratio,
            "x",
            0.5,
            "higher",
            "kubeloop's etcd write rate / the same puts straight to etcd",
            ratio_runs,
        ),
    ]


if __name__ == "__main__":
    from runtime.gctuning import simulation_gc

    with simulation_gc():  # the collector tuned as `kubeloop` tunes it
        print(json.dumps(durable_writes(int(sys.argv[1]))))
