"""`ConvergenceTracker`: what is still settling in a cluster, kept up to date on
every store write, so `converged()` costs O(workloads), not O(pods).

A pod is *unsettled* while it is neither terminal (Succeeded/Failed) nor
running and Ready, unless the scheduler has declared it unschedulable
(PodScheduled=False, reason Unschedulable: nothing can place it, so waiting
for it would never end) or holds it back by its scheduling gates (reason
SchedulingGated: only whoever added the gates can release it, as in
Kubernetes, where a gated pod is not counted as work the scheduler has left).
A pod being deleted is unsettled until it is gone, unless its node is not
Ready: as in Kubernetes, such a pod stays Terminating until its kubelet
returns, and waiting for it would never end either. The tracker also records
each pod's startup latency (creation to its first Ready condition), which the
CLI summary and the convergence benchmark report.

Neighbours: `runtime.cluster.cluster` registers it as a store observer.
"""

from __future__ import annotations

from dataclasses import dataclass

from engine.api.core import Node, Pod
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


def pod_is_settled(pod: Pod, node_ready: bool = True) -> bool:
    """Whether a pod needs nothing more from the cluster (see the module docstring)."""
    if pod.metadata.deletion_timestamp is not None:
        return not node_ready and bool(pod.spec.node_name)
    phase = pod.status.phase
    if phase in ("Succeeded", "Failed"):
        return True
    scheduled = _condition(pod, "PodScheduled")
    if not pod.spec.node_name and scheduled == ("False", "Unschedulable"):
        return True
    if pod.spec.scheduling_gates and scheduled == ("False", "SchedulingGated"):
        return True  # (the condition outlives the gates until the pod is placed)
    ready = _condition(pod, "Ready")
    return phase == "Running" and ready is not None and ready[0] == "True"


class ConvergenceTracker:
    """Store observer tracking unsettled pods and pod startup latencies."""

    def __init__(self) -> None:
        self.unsettled: dict[tuple[str, str], Pod] = {}
        self._pods: dict[tuple[str, str], Pod] = {}
        self._unready_nodes: set[str] = set()
        self._first_ready: dict[str, float] = {}
        self.startup_seconds: list[float] = []

    def __call__(self, record: WriteRecord) -> None:
        obj = record.object
        if isinstance(obj, Node):
            self._on_node(obj, record.removed)
            return
        if not isinstance(obj, Pod):
            return
        key = (record.namespace, record.name)
        if record.removed:
            self._pods.pop(key, None)
            self.unsettled.pop(key, None)
            return
        self._pods[key] = obj
        self._settle(key, obj)
        self._note_startup(obj)

    def _settle(self, key: tuple[str, str], pod: Pod) -> None:
        if pod_is_settled(pod, pod.spec.node_name not in self._unready_nodes):
            self.unsettled.pop(key, None)
        else:
            self.unsettled[key] = pod

    def _on_node(self, node: Node, removed: bool) -> None:
        name = node.metadata.name
        ready = not removed and node.is_ready
        was_ready = name not in self._unready_nodes
        if ready == was_ready:
            return
        if ready:
            self._unready_nodes.discard(name)
        else:
            self._unready_nodes.add(name)
        for key, pod in list(self._pods.items()):
            if pod.spec.node_name == name and pod.metadata.deletion_timestamp is not None:
                self._settle(key, pod)

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

    def pods(self) -> list[Pod]:
        """Every pod the tracker knows (shared objects, unordered)."""
        return list(self._pods.values())

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
