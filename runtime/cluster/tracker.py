"""`ConvergenceTracker`: what is still settling in a cluster, kept up to date on
every store write, so `converged()` costs O(workloads), not O(pods).

A pod is *unsettled* while it is neither terminal (Succeeded/Failed) nor
running and Ready, unless the scheduler has declared it unschedulable
(PodScheduled=False, reason Unschedulable: nothing can place it, so waiting for
it would never end). A pod being deleted is unsettled until it is gone. The
tracker also records each pod's startup latency (creation to its first Ready
condition), which the CLI summary and the convergence benchmark report.

Neighbours: `runtime.cluster.cluster` registers it as a store observer.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api.core import Pod
from engine.store import WriteRecord

__all__ = ["ConvergenceTracker", "PodCounts", "pod_is_settled"]


@dataclass(frozen=True, slots=True)
class PodCounts:
    total: int
    running: int
    ready: int
    pending: int
    unschedulable: int
    terminating: int
    succeeded: int
    failed: int


def _condition(pod: Pod, kind: str) -> tuple[str, str | None] | None:
    for c in pod.status.conditions:
        if c.type == kind:
            return (c.status, c.reason)
    return None


def pod_is_settled(pod: Pod) -> bool:
    """Whether a pod needs nothing more from the cluster (see the module docstring)."""
    if pod.metadata.deletion_timestamp is not None:
        return False
    phase = pod.status.phase
    if phase in ("Succeeded", "Failed"):
        return True
    scheduled = _condition(pod, "PodScheduled")
    if not pod.spec.node_name and scheduled == ("False", "Unschedulable"):
        return True
    ready = _condition(pod, "Ready")
    return phase == "Running" and ready is not None and ready[0] == "True"


class ConvergenceTracker:
    """Store observer tracking unsettled pods and pod startup latencies."""

    def __init__(self) -> None:
        self.unsettled: dict[tuple[str, str], Pod] = {}
        self._pods: dict[tuple[str, str], Pod] = {}
        self._first_ready: dict[str, float] = {}
        self.startup_seconds: list[float] = []

    def __call__(self, record: WriteRecord) -> None:
        obj = record.object
        if not isinstance(obj, Pod):
            return
        key = (record.namespace, record.name)
        if record.removed:
            self._pods.pop(key, None)
            self.unsettled.pop(key, None)
            return
        self._pods[key] = obj
        if pod_is_settled(obj):
            self.unsettled.pop(key, None)
        else:
            self.unsettled[key] = obj
        self._note_startup(obj)

    def _note_startup(self, pod: Pod) -> None:
        uid = pod.metadata.uid
        if uid in self._first_ready or pod.metadata.creation_timestamp is None:
            return
        for c in pod.status.conditions:
            if c.type == "Ready" and c.status == "True" and c.last_transition_time is not None:
                seconds = (c.last_transition_time - pod.metadata.creation_timestamp).total_seconds()
                self._first_ready[uid] = seconds
                self.startup_seconds.append(max(0.0, seconds))
                return

    def counts(self) -> PodCounts:
        pods = list(self._pods.values())
        phases = [p.status.phase for p in pods]
        return PodCounts(
            total=len(pods),
            running=phases.count("Running"),
            ready=sum(1 for p in pods if (_condition(p, "Ready") or ("", None))[0] == "True"),
            pending=phases.count("Pending"),
            unschedulable=sum(
                1
                for p in pods
                if not p.spec.node_name
                and _condition(p, "PodScheduled") == ("False", "Unschedulable")
            ),
            terminating=sum(1 for p in pods if p.metadata.deletion_timestamp is not None),
            succeeded=phases.count("Succeeded"),
            failed=phases.count("Failed"),
        )
