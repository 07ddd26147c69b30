"""Benchmark harness: figures, repetition with medians, the table and JSON output.

A suite is a function `run(quick: bool, repeat: int) -> list[Figure]`,
registered in `benchmarks.__main__.SUITES`. `measure(fn, repeat)` calls `fn`
`repeat` times and returns the median; `Figure.met` says whether the target
holds. The JSON file has the shape
`{"suite": ..., "quick": bool, "results": [{"name", "value", "unit", "target",
"better", "anchor", "runs", "quick", "met"}]}`.

Under `--quick` every suite runs at reduced sizes; `quick_figures` marks its
figures as quick and drops their targets, since a target is set for the full
size: the table shows "n/a (quick)" and the JSON `"target": null, "met": null`.
"""

from __future__ import annotations

import gc
import json
import os
import statistics
import subprocess
import sys
from collections.abc import Callable
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Literal

from rich.console import Console
from rich.table import Table

__all__ = [
    "Figure",
    "current_rss_mb",
    "deployments_yaml",
    "measure",
    "print_table",
    "quick_figures",
    "run_module",
    "write_json",
]


@dataclass(frozen=True, slots=True)
class Figure:
    """One measured figure with its target and the Kubernetes figure it is compared to."""

    name: str
    value: float
    unit: str
    target: float | None
    better: Literal["higher", "lower"]
    anchor: str | None = None
    runs: tuple[float, ...] = ()
    quick: bool = False
    """Measured at `--quick`'s reduced size: never compared with a target."""

    @property
    def met(self) -> bool | None:
        if self.target is None or self.quick:
            return None
        return self.value >= self.target if self.better == "higher" else self.value <= self.target


def measure(fn: Callable[[], float], repeat: int) -> tuple[float, tuple[float, ...]]:
    """Median of `repeat` calls of `fn` (each returns one sample), and all samples."""
    samples = []
    for _ in range(max(1, repeat)):
        gc.collect()
        samples.append(fn())
    return statistics.median(samples), tuple(samples)


def quick_figures(figures: list[Figure]) -> list[Figure]:
    """`figures` of a `--quick` run: marked quick, with no target to meet."""
    return [replace(f, quick=True, target=None) for f in figures]


def _fmt(value: float | None) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100:
        return f"{value:,.0f}"
    if abs(value) >= 1:
        return f"{value:,.2f}"
    return f"{value:.4f}"


def print_table(suite: str, figures: list[Figure], console: Console | None = None) -> None:
    quick = any(f.quick for f in figures)
    title = f"kubeloop benchmark suite: {suite}"
    if quick:
        title += " (quick: reduced sizes, not compared with targets)"
    table = Table(title=title)
    table.add_column("figure")
    table.add_column("median", justify="right")
    table.add_column("unit")
    table.add_column("target", justify="right")
    table.add_column("met")
    table.add_column("Kubernetes / anchor")
    for f in figures:
        sign = ">=" if f.better == "higher" else "<="
        met = {True: "yes", False: "NO", None: "-"}[f.met]
        if f.quick:
            target = "n/a (quick)"
        else:
            target = f"{sign} {_fmt(f.target)}" if f.target is not None else "-"
        table.add_row(
            f.name,
            _fmt(f.value),
            f.unit,
            target,
            met,
            f.anchor or "-",
        )
    (console or Console(width=160)).print(table)


def write_json(path: Path, suite: str, figures: list[Figure]) -> None:
    results = []
    for f in figures:
        entry = asdict(f)
        entry["runs"] = list(f.runs)
        entry["met"] = f.met
        results.append(entry)
    quick = any(f.quick for f in figures)
    document = {"suite": suite, "quick": quick, "results": results}
    path.write_text(json.dumps(document, indent=2) + "\n")


_DEPLOYMENT = """\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: {name}, namespace: default}}
spec:
  replicas: {replicas}
  selector: {{matchLabels: {{app: {name}}}}}
  template:
    metadata: {{labels: {{app: {name}}}}}
    spec:
      containers:
        - name: main
          image: registry.example/app:1
          resources: {{requests: {{cpu: 10m, memory: 16Mi}}}}
"""


def deployments_yaml(count: int, replicas: int) -> str:
    """`count` Deployments `app-000`, `app-001`, ... of `replicas` small pods each,
    as one multi-document manifest (the workload of the cluster-scale suites)."""
    return "---\n".join(
        _DEPLOYMENT.format(name=f"app-{i:03d}", replicas=replicas) for i in range(count)
    )


def current_rss_mb() -> float:
    """The resident memory of this process now, in MiB (Linux)."""
    with open("/proc/self/statm") as f:
        pages = int(f.read().split()[1])
    return pages * os.sysconf("SC_PAGE_SIZE") / 2**20


def run_module(module: str, *args: object) -> dict[str, float]:
    """Run `python -m module args...` in a fresh process (its own heap and peak
    RSS, a fixed hash seed) and return the JSON object on its last output line."""
    output = subprocess.run(
        [sys.executable, "-m", module, *map(str, args)],
        check=True,
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONHASHSEED": "0"},
    ).stdout
    result: dict[str, float] = json.loads(output.strip().splitlines()[-1])
    return result
