"""Suite `scheduler`: kube-scheduler's scheduler_perf workloads, written in
scheduler_perf's own configuration format (`benchmarks/scheduler_perf/
configs/`, mirroring upstream's performance-config.yaml entries) and run
through `benchmarks.scheduler_perf.runner`: end to end through the store,
watch, informers, queue, scheduling cycle and binding, on the wall clock.

Each figure is the measured pods of a workload divided by the time from their
creation in the store to the binding of the last of them (median of runs),
printed beside kube-scheduler's CI threshold for the same workload. Targets:
SchedulingBasic_5000Nodes at least 20,000 pods/s, every other workload 20
times its threshold; SchedulingBasic with percentageOfNodesToScore=100 (every
feasible node scored) has none. `--quick` divides every integer parameter of
the workloads by 10, and names each figure by the counts it ran
(`SchedulingBasic_500Nodes`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Final

from benchmarks.harness import Figure
from benchmarks.scheduler_perf.cli import figure
from benchmarks.scheduler_perf.config import TestCase, load_config
from benchmarks.scheduler_perf.runner import run_workload

CONFIGS: Final = Path(__file__).parent / "scheduler_perf" / "configs"
FACTOR: Final = 20.0


@dataclass(frozen=True, slots=True)
class Entry:
    """A figure of the suite: which workload of which file, and its target."""

    name: str
    config: str
    test_case: str
    workload: str
    target: float | None = None
    """Explicit target; by default FACTOR x the workload's threshold."""
    scored: bool = True
    """False: no target at all."""


ENTRIES: Final = (
    Entry("SchedulingBasic_5000Nodes", "misc", "SchedulingBasic", "5000Nodes_10000Pods", 20_000),
    Entry("SchedulingBasic_5000Nodes_50000Pods", "misc", "SchedulingBasic", "5000Nodes_50000Pods"),
    Entry(
        "SchedulingPodAntiAffinity_5000Nodes",
        "affinity",
        "SchedulingPodAntiAffinity",
        "5000Nodes_2000Pods",
    ),
    Entry(
        "SchedulingPodMatchingAntiAffinity_5000Nodes",
        "affinity",
        "SchedulingPodMatchingAntiAffinity",
        "5000Nodes_5000Pods",
    ),
    Entry(
        "SchedulingPodAffinity_5000Nodes", "affinity", "SchedulingPodAffinity", "5000Nodes_5000Pods"
    ),
    Entry(
        "SchedulingPreferredPodAffinity_5000Nodes",
        "affinity",
        "SchedulingPreferredPodAffinity",
        "5000Nodes_5000Pods",
    ),
    Entry(
        "SchedulingPreferredPodAntiAffinity_5000Nodes",
        "affinity",
        "SchedulingPreferredPodAntiAffinity",
        "5000Nodes_5000Pods",
    ),
    Entry(
        "SchedulingNodeAffinity_5000Nodes",
        "affinity",
        "SchedulingNodeAffinity",
        "5000Nodes_10000Pods",
    ),
    Entry(
        "MixedSchedulingBasePod_5000Nodes",
        "affinity",
        "MixedSchedulingBasePod",
        "5000Nodes_5000Pods",
    ),
    Entry(
        "RequiredPodAntiAffinityWithNSSelector_6000Nodes",
        "affinity",
        "SchedulingRequiredPodAntiAffinityWithNSSelector",
        "5000Nodes_2000Pods",
    ),
    Entry(
        "PreferredAntiAffinityWithNSSelector_5000Nodes",
        "affinity",
        "SchedulingPreferredAntiAffinityWithNSSelector",
        "5000Nodes_2000Pods",
    ),
    Entry("TopologySpreading_5000Nodes", "topology", "TopologySpreading", "5000Nodes_5000Pods"),
    Entry(
        "PreferredTopologySpreading_5000Nodes",
        "topology",
        "PreferredTopologySpreading",
        "5000Nodes_5000Pods",
    ),
    Entry("SchedulingDaemonset_15000Nodes", "misc", "SchedulingDaemonset", "15000Nodes"),
    Entry("PreemptionBasic_500Nodes", "misc", "PreemptionBasic", "500Nodes"),
    Entry("PreemptionAsync_5000Nodes", "misc", "PreemptionAsync", "5000Nodes"),
    Entry("Unschedulable_5000Nodes", "misc", "Unschedulable", "5kNodes/100Init/10kPods"),
    Entry(
        "SchedulingWithMixedChurn_5000Nodes",
        "misc",
        "SchedulingWithMixedChurn",
        "5000Nodes_10000Pods",
    ),
    Entry(
        "SchedulingWhileGated_10000GatedPods",
        "misc",
        "SchedulingWhileGated",
        "1Node_10000GatedPods",
    ),
    Entry(
        "SchedulingDeletedPodsWithFinalizers_5000Nodes",
        "misc",
        "SchedulingDeletedPodsWithFinalizers",
        "5000Node_5000DeletingPods",
    ),
    Entry(
        "SchedulingWithExtendedResource_5000Nodes",
        "misc",
        "SchedulingWithExtendedResource",
        "5000pods_5000nodes",
    ),
    Entry(
        "SchedulingBasic_5000Nodes_score100pct",
        "misc",
        "SchedulingBasicScoreAllNodes",
        "5000Nodes_10000Pods",
        scored=False,
    ),
)


QUICK_SCALE: Final = 10
"""`--quick` divides every integer parameter of a workload by this."""


def quick_name(name: str) -> str:
    """A figure's name for a `--quick` run: the node and pod counts in it are
    the ones the run really used (`SchedulingBasic_500Nodes`), so a quick
    figure is never mistaken for the full-size one."""
    return re.sub(
        r"(\d+)(Nodes|GatedPods|Pods)",
        lambda m: f"{int(m.group(1)) // QUICK_SCALE}{m.group(2)}",
        name,
    )


def _case(config: str, name: str, loaded: dict[str, list[TestCase]]) -> TestCase:
    cases = loaded.get(config)
    if cases is None:
        cases = loaded[config] = load_config(CONFIGS / config / "performance-config.yaml")
    return next(c for c in cases if c.name == name)


def run(quick: bool, repeat: int, only: str | None = None) -> list[Figure]:
    loaded: dict[str, list[TestCase]] = {}
    figures = []
    for entry in ENTRIES:
        if only and only not in entry.name:
            continue
        case = _case(entry.config, entry.test_case, loaded)
        workload = case.workload(entry.workload)
        runs = [
            run_workload(case, workload, scale=QUICK_SCALE if quick else 1)
            for _ in range(max(1, repeat))
        ]
        name = quick_name(entry.name) if quick else entry.name
        result = figure(name, runs, workload.threshold, FACTOR)
        if entry.target is not None or not entry.scored:
            result = Figure(
                result.name,
                result.value,
                result.unit,
                entry.target if entry.scored else None,
                result.better,
                result.anchor,
                result.runs,
            )
        figures.append(result)
    return figures


if __name__ == "__main__":
    import sys

    from benchmarks.harness import print_table

    pick = next((a for a in sys.argv[1:] if not a.startswith("--")), None)
    print_table("scheduler", run("--quick" in sys.argv, 1, pick))
