"""`python -m benchmarks scheduler_perf CONFIG.yaml [--workload NAME] ...`:
run workloads of a scheduler_perf configuration file and print their
throughput beside kube-scheduler's CI threshold.

`--workload` picks `TestCase/Workload`, a test case (all its workloads) or a
workload name (in every test case); without it every workload runs. The
target printed is the threshold times `--target-factor` (default 1: the bar
kube-scheduler's CI sets). `--quick` divides every integer parameter by 10.

Neighbours: `benchmarks.scheduler_perf.runner`, `benchmarks.harness`.
"""

from __future__ import annotations

import argparse
import statistics
import sys
from pathlib import Path

from benchmarks.harness import Figure, print_table, write_json
from benchmarks.scheduler_perf.config import ConfigError, TestCase, Workload, load_config
from benchmarks.scheduler_perf.runner import Result, run_workload

__all__ = ["figure", "main", "select"]


def select(cases: list[TestCase], wanted: str | None) -> list[tuple[TestCase, Workload]]:
    """The (test case, workload) pairs `wanted` names; ConfigError when none."""
    pairs = [(c, w) for c in cases for w in c.workloads]
    if wanted is None:
        return pairs
    chosen = [(c, w) for c, w in pairs if wanted in (f"{c.name}/{w.name}", c.name, w.name)]
    if not chosen:
        names = ", ".join(f"{c.name}/{w.name}" for c, w in pairs)
        raise ConfigError(f"no workload named {wanted!r}; the file has: {names}")
    return chosen


def figure(name: str, runs: list[Result], threshold: float | None, factor: float) -> Figure:
    """The median of `runs` as a Figure with target threshold x factor."""
    samples = tuple(r.throughput for r in runs)
    value = statistics.median(samples)
    return Figure(
        name,
        value,
        "pods/s",
        threshold * factor if threshold is not None else None,
        "higher",
        f"kube-scheduler CI threshold {threshold:g} pods/s" if threshold is not None else None,
        samples,
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks scheduler_perf", description=__doc__
    )
    parser.add_argument("config", type=Path, help="a scheduler_perf configuration file")
    parser.add_argument("--workload", help="TestCase/Workload, a test case or a workload name")
    parser.add_argument("--quick", action="store_true", help="integer params / 10, one run")
    parser.add_argument("--json", type=Path, help="write the figures to this file")
    parser.add_argument("--repeat", type=int, default=None, help="repetitions (default 1)")
    parser.add_argument("--target-factor", type=float, default=1.0)
    args = parser.parse_args(argv)
    try:
        pairs = select(load_config(args.config), args.workload)
        figures = []
        for case, workload in pairs:
            runs = [
                run_workload(case, workload, scale=10 if args.quick else 1)
                for _ in range(max(1, args.repeat or 1))
            ]
            figures.append(
                figure(f"{case.name}/{workload.name}", runs, workload.threshold, args.target_factor)
            )
    except ConfigError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print_table("scheduler_perf", figures)
    if args.json is not None:
        write_json(args.json, "scheduler_perf", figures)
    return 0
