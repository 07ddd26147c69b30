"""Pod admission on the node: does this pod fit here? (the kubelet's re-check).

Role: the scheduler decided on a snapshot; the kubelet re-checks against
what it has actually admitted before starting anything, as Kubernetes'
kubelet does with GeneralPredicates. A pod that does not fit is failed with
Kubernetes' reason and message and never started:

* `NodeAffinity`: nodeSelector or required node affinity does not match the
  node's labels (or `metadata.name` through matchFields);
* `OutOfpods`: the node already runs `allocatable.pods` pods;
* `OutOf<resource>` (`OutOfcpu`, `OutOfmemory`, `OutOfephemeral-storage`,
  `OutOfnvidia.com/gpu`, ...): the pod's requests plus those of the admitted
  pods exceed allocatable.

A pod's requests are Kubernetes' effective requests
(`engine.podresources.pod_requests`, the scheduler's too). Pure functions of
the pod, the node and the admitted pods.

Neighbours: `runtime.kubelet.kubelet` (calls `admit` once per new pod).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from engine.api import core
from engine.nodeselectors import node_selector_matches
from engine.podresources import pod_requests, resource_amount

__all__ = ["AdmitResult", "admit", "node_affinity_matches"]


@dataclass(frozen=True, slots=True)
class AdmitResult:
    admitted: bool
    reason: str = ""
    message: str = ""


ADMITTED = AdmitResult(True)


def node_affinity_matches(spec: core.PodSpec, node: core.Node) -> bool:
    """nodeSelector and requiredDuringSchedulingIgnoredDuringExecution."""
    labels = node.metadata.labels
    for key, value in spec.node_selector.items():
        if labels.get(key) != value:
            return False
    affinity = spec.affinity.node_affinity if spec.affinity is not None else None
    required = (
        affinity.required_during_scheduling_ignored_during_execution
        if affinity is not None
        else None
    )
    if required is None:
        return True
    return node_selector_matches(required, node)


def admit(
    pod: core.Pod,
    node: core.Node,
    admitted: Iterable[Mapping[str, int]],
    requests: Mapping[str, int] | None = None,
) -> AdmitResult:
    """Whether `pod` (with effective `requests`, computed if not given) fits on
    `node` next to the admitted, non-terminal pods, given by their effective
    requests (`pod_requests`)."""
    if not node_affinity_matches(pod.spec, node):
        return AdmitResult(
            False,
            "NodeAffinity",
            "Pod was rejected: Predicate NodeAffinity failed: "
            "node(s) didn't match Pod's node affinity/selector",
        )
    allocatable = node.status.allocatable or node.status.capacity
    used: dict[str, int] = {}
    count = 0
    for other in admitted:
        count += 1
        for name, value in other.items():
            used[name] = used.get(name, 0) + value
    max_pods = allocatable.get("pods")
    if max_pods is not None and count + 1 > max_pods.value():
        return AdmitResult(
            False,
            "OutOfpods",
            f"Pod was rejected: Node didn't have enough resource: pods, requested: 1, "
            f"used: {count}, capacity: {max_pods.value()}",
        )
    if requests is None:
        requests = pod_requests(pod.spec)
    for name, requested in sorted(requests.items()):
        if requested <= 0:
            continue
        capacity_quantity = allocatable.get(name)
        capacity = resource_amount(name, capacity_quantity) if capacity_quantity is not None else 0
        if used.get(name, 0) + requested > capacity:
            return AdmitResult(
                False,
                f"OutOf{name}",
                f"Pod was rejected: Node didn't have enough resource: {name}, "
                f"requested: {requested}, used: {used.get(name, 0)}, capacity: {capacity}",
            )
    return ADMITTED
