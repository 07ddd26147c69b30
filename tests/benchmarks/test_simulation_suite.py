"""The `simulation` benchmark suite runs end to end at a tiny size and reports
every figure it promises, in the table and in the JSON file (no timing is
asserted: only that each measurement did what it says)."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

from benchmarks.__main__ import SUITES
from benchmarks.harness import print_table, write_json
from benchmarks.simulation import Sizes, fuzz_throughput, run, virtual_hour
from engine.mutation import detector

TINY = Sizes(
    nodes=3,
    deployments=1,
    replicas=4,
    hour=120.0,
    fuzz_examples=2,
    fuzz_steps=3,
    scaling_examples=2,
)


def test_the_suite_is_registered() -> None:
    assert SUITES["simulation"] is run


def test_the_virtual_hour_runs_a_steady_cluster_on_heartbeats() -> None:
    detector.enabled = False  # every heartbeat would be snapshotted; nothing here mutates
    result = asyncio.run(virtual_hour(nodes=3, deployments=1, replicas=4, hour=120.0))
    assert result["virtual_s"] == 120.0
    assert result["converged"] == 1.0
    assert result["nodes_not_ready"] == 0.0
    # 3 nodes renew their Lease every 10-10.4 s; nothing but heartbeats is
    # written, and at most the start-up's RegisteredNode Event of each node.
    assert 3 * 11 <= result["lease_writes"] <= 3 * 12
    assert result["other_writes"] == 0.0
    assert result["event_writes"] <= 3
    assert result["writes"] == (
        result["lease_writes"] + result["node_writes"] + result["event_writes"]
    )
    assert result["setup_s"] > 0 and result["hour_s"] > 0 and result["rss_mb"] > 0


def test_fuzz_throughput_counts_the_examples_run() -> None:
    result = fuzz_throughput(examples=2, steps=3)
    assert result["examples"] == 2.0
    assert result["failed"] == 0.0
    assert result["examples_per_s"] > 0 and result["examples_per_cpu_s"] > 0
    assert result["steps"] >= 2


def test_figures_table_and_json(tmp_path: Path) -> None:
    detector.enabled = False
    figures = run(quick=True, repeat=1, sizes=TINY, in_process=True)
    names = [f.name for f in figures]
    assert names == [
        "virtual_hour_3_nodes_s",
        "virtual_hour_3_nodes_cpu_s",
        "virtual_hour_3_nodes_setup_s",
        "virtual_hour_3_nodes_writes",
        "virtual_hour_3_nodes_speedup_x",
        "virtual_hour_3_nodes_rss_mb",
        "fuzz_examples_per_s",
        "fuzz_examples_per_cpu_s",
        "fuzz_workers_2_scaling_x",
        "fuzz_workers_2_per_worker_per_s",
    ]
    assert figures[0].better == "lower" and figures[0].target == 0.06  # 20 s per 1k nodes
    assert figures[6].better == "higher" and figures[6].target == 20.0
    print_table("simulation", figures)
    path = tmp_path / "simulation.json"
    write_json(path, "simulation", figures)
    data = json.loads(path.read_text())
    assert data["suite"] == "simulation"
    assert [r["name"] for r in data["results"]] == names
    for entry in data["results"]:
        assert set(entry) >= {"name", "value", "unit", "target", "better", "anchor", "runs", "met"}
        assert len(entry["runs"]) == 1
