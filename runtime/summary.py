"""The summary `kubeloop run` prints at the end (as a table or as JSON).

JSON shape: `{"ok", "converged", "seconds", "virtual_seconds", "nodes", "pods":
{"total", "running", "ready", "pending", "unschedulable"}, "pod_startup_p50_s",
"pod_startup_p99_s", "scheduler": {"scheduled", "attempts",
"pods_per_second"}, "steps": [{"step", "started_at", "seconds", "result"}],
"traffic": {"service/NS/NAME" | "ingress/NS/NAME": {"requests", "errors",
"p50_ms", "p99_ms"}},
"not_converged": [...], "node_counts": [{"at", "nodes"}] (the number of
Nodes after each change, in cluster seconds: what a cluster autoscaler did),
"workloads": [{"kind", "namespace", "name",
"desired", "scheduled", "running", "ready", "problems"}], "problems":
[{"kind", "namespace", "name", "reason", "pods"}], "autoscalers": [{"namespace",
"name", "replicas": [[cluster seconds, desired replicas], ...]}]}` (each
HorizontalPodAutoscaler's count whenever it changed). A step's `result` is
"ok", "timed out: ...", "failed: ...", "stopped" or "not run" (see
`runtime.scenario.StepResult`).

`ok` is the run's success: converged with no problems (no workload that no
controller drives, no pod stuck unschedulable, crash-looping or waiting on a
missing ConfigMap); `kubeloop run` exits 0 only then. `ended` says why the
run stopped: `converged`, `timeout` (cluster time ran out), `wall_timeout`
(wall time ran out first), `assertion_failed` (an `assert` step found
another value) or `interrupted` (a stop signal before the run
finished).

Neighbours: `runtime.cli`, `runtime.cluster`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rich.console import Console
from rich.table import Table

from runtime.cluster import Cluster, PodCounts, Problem, WorkloadRow
from runtime.cluster.workloads import problems
from runtime.scenario import StepResult

__all__ = ["Summary", "percentile", "summarize"]


def percentile(values: list[float], q: float) -> float:
    """The q-th percentile (nearest rank) of `values`; 0 for none."""
    if not values:
        return 0.0
    ordered = sorted(values)
    rank = max(0, min(len(ordered) - 1, round(q / 100 * len(ordered) + 0.5) - 1))
    return ordered[rank]


@dataclass(frozen=True, slots=True)
class Summary:
    converged: bool
    seconds: float
    virtual_seconds: float
    nodes: int
    pods: PodCounts
    startup_p50: float
    startup_p99: float
    scheduled: int
    attempts: int
    steps: list[StepResult] = field(default_factory=list)
    left: list[str] = field(default_factory=list)
    ended: str = "converged"
    workloads: list[WorkloadRow] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    autoscalers: list[dict[str, Any]] = field(default_factory=list)
    traffic: dict[str, dict[str, Any]] = field(default_factory=dict)
    node_counts: list[tuple[float, int]] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Converged, with nothing stuck (see the module docstring)."""
        return self.converged and not self.problems

    def to_json(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "converged": self.converged,
            "seconds": round(self.seconds, 3),
            "virtual_seconds": round(self.virtual_seconds, 3),
            "nodes": self.nodes,
            "pods": {
                "total": self.pods.total,
                "running": self.pods.running,
                "ready": self.pods.ready,
                "pending": self.pods.pending,
                "unschedulable": self.pods.unschedulable,
            },
            "pod_startup_p50_s": round(self.startup_p50, 3),
            "pod_startup_p99_s": round(self.startup_p99, 3),
            "scheduler": {
                "scheduled": self.scheduled,
                "attempts": self.attempts,
                "pods_per_second": round(self.scheduled / self.seconds, 1) if self.seconds else 0,
            },
            "steps": [
                {
                    "step": s.description,
                    "started_at": s.started_at,
                    "seconds": s.seconds,
                    "result": s.result,
                }
                for s in self.steps
            ],
            "not_converged": self.left,
            "node_counts": [{"at": at, "nodes": n} for at, n in self.node_counts],
            "workloads": [
                {
                    "kind": w.kind,
                    "namespace": w.namespace,
                    "name": w.name,
                    "desired": w.desired,
                    "scheduled": w.scheduled,
                    "running": w.running,
                    "ready": w.ready,
                    "problems": w.problem_lines(),
                }
                for w in self.workloads
            ],
            "problems": [p.to_json() for p in self.problems],
            "autoscalers": self.autoscalers,
            "traffic": self.traffic,
            "ended": self.ended,
        }

    def print(self, console: Console) -> None:
        if self.steps:
            steps = Table(title="steps")
            for column in ("#", "step", "at (cluster s)", "took (cluster s)", "result"):
                steps.add_column(column)
            for s in self.steps:
                steps.add_row(
                    str(s.index),
                    s.description,
                    "-" if s.started_at is None else f"{s.started_at:.1f}",
                    "-" if s.started_at is None else f"{s.seconds:.1f}",
                    s.result if s.ok else f"[bold red]{s.result}[/]",
                )
            console.print(steps)
        if not self.converged:
            title = "NOT converged"
        elif self.problems:
            title = f"converged, with {len(self.problems)} problem(s)"
        else:
            title = "converged"
        table = Table(title=title)
        table.add_column("figure")
        table.add_column("value", justify="right")
        rows = [
            ("wall seconds", f"{self.seconds:.2f}"),
            ("cluster seconds", f"{self.virtual_seconds:.1f}"),
            ("nodes", str(self.nodes)),
            (
                "pods (total / running / ready / pending)",
                f"{self.pods.total} / {self.pods.running} / "
                f"{self.pods.ready} / {self.pods.pending}",
            ),
            ("scheduled pods / attempts", f"{self.scheduled} / {self.attempts}"),
            (
                "scheduler pods per wall second",
                f"{self.scheduled / self.seconds:.0f}" if self.seconds else "-",
            ),
            (
                "pod startup p50 / p99 (cluster s)",
                f"{self.startup_p50:.2f} / {self.startup_p99:.2f}",
            ),
        ]
        for name, value in rows:
            table.add_row(name, value)
        console.print(table)
        if self.traffic:
            traffic = Table(title="traffic")
            for column in ("target", "requests", "errors", "p50 ms", "p99 ms"):
                traffic.add_column(column, justify="left" if column == "target" else "right")
            for target, figures in self.traffic.items():
                traffic.add_row(
                    target,
                    str(figures["requests"]),
                    str(figures["errors"]),
                    f"{figures['p50_ms']:.2f}",
                    f"{figures['p99_ms']:.2f}",
                )
            console.print(traffic)
        if self.ended != "converged":
            console.print(f"  stopped: {_ENDED.get(self.ended, self.ended)}")
        for line in self.left:
            console.print(f"  not converged: {line}")
        for problem in self.problems:
            if str(problem) not in self.left:  # an undriven workload is both
                console.print(f"  problem: {problem}")


_ENDED = {
    "assertion_failed": "an assert step failed",
    "timeout": "the cluster-time timeout ran out",
    "wall_timeout": "the wall-time timeout ran out (cluster time stood still while busy)",
    "interrupted": "interrupted",
}


def summarize(
    cluster: Cluster,
    steps: list[StepResult],
    converged: bool,
    seconds: float,
    *,
    ended: str = "converged",
) -> Summary:
    workloads = cluster.workloads()
    startup = cluster.tracker.startup_seconds
    stats = cluster.scheduler.statistics() if cluster.scheduler is not None else None
    return Summary(
        converged=converged,
        seconds=seconds,
        virtual_seconds=cluster.clock.monotonic(),
        nodes=cluster.config.node_count,
        pods=cluster.pod_counts(),
        startup_p50=percentile(startup, 50),
        startup_p99=percentile(startup, 99),
        scheduled=getattr(stats, "scheduled", 0),
        attempts=getattr(stats, "attempts", 0),
        steps=list(steps),
        left=[] if converged else cluster.unconverged(),
        workloads=workloads,
        problems=problems(workloads),
        ended=ended,
        autoscalers=cluster.hpa_history.to_json(),
        traffic={name: stats.to_json() for name, stats in cluster.traffic_stats().items()},
        node_counts=list(cluster.node_counts.history),
    )
