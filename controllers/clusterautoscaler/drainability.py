"""Which pods a scale-down must move, and which pods keep their node (CA's drainability rules).

`pods_to_move(pods, budgets, options)` walks a node's pods in CA's order of
rules and returns the pods that must be rescheduled elsewhere, or the first
pod that blocks removing the node and why (`BlockingPod`):

* mirror pods (static pods) and DaemonSet pods stay: they are not moved, and
  they do not block (they go with the node);
* pods already terminating, and finished pods (Succeeded, Failed), do not count;
* `cluster-autoscaler.kubernetes.io/safe-to-evict: "false"` blocks
  (NotSafeToEvictAnnotation); `"true"` makes the pod movable whatever the
  rules below say;
* a pod with no controller (no controller ownerReference) blocks (NotReplicated);
* with `skip_nodes_with_system_pods`, a kube-system pod that no
  PodDisruptionBudget covers blocks (UnmovableKubeSystemPod);
* with `skip_nodes_with_local_storage`, a pod with an emptyDir or hostPath
  volume blocks (LocalStorageRequested);
* a pod whose PodDisruptionBudget has no disruption left blocks (NotEnoughPdb);
  `budgets` counts what is left across the nodes a loop removes, so two nodes
  never spend the same disruption.

Neighbours: `controllers.clusterautoscaler.scaledown` (uses it),
`engine.eviction` (which enforces the budgets again when the drain evicts).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field

from engine.api.core import Pod
from engine.api.policy import PodDisruptionBudget
from engine.selectors import Selector, from_label_selector

__all__ = [
    "MIRROR_ANNOTATION",
    "SAFE_TO_EVICT",
    "BlockingPod",
    "Budgets",
    "pods_to_move",
    "stays_with_node",
]

SAFE_TO_EVICT = "cluster-autoscaler.kubernetes.io/safe-to-evict"
MIRROR_ANNOTATION = "kubernetes.io/config.mirror"


@dataclass(frozen=True, slots=True)
class BlockingPod:
    pod: Pod
    reason: str


@dataclass(slots=True)
class Budgets:
    """Disruptions left per PodDisruptionBudget, spent as a loop plans removals."""

    entries: list[tuple[PodDisruptionBudget, Selector, int]] = field(default_factory=list)

    @classmethod
    def of(cls, budgets: Iterable[PodDisruptionBudget]) -> Budgets:
        return cls(
            [
                (b, from_label_selector(b.spec.selector), b.status.disruptions_allowed)
                for b in budgets
                if b.spec.selector is not None
            ]
        )

    def matching(self, pod: Pod) -> list[int]:
        ns = pod.metadata.namespace
        labels = pod.metadata.labels
        return [
            i
            for i, (b, selector, _) in enumerate(self.entries)
            if b.metadata.namespace == ns and selector.matches(labels)
        ]

    def spend(self, indexes: Iterable[int]) -> None:
        for i in indexes:
            b, selector, left = self.entries[i]
            self.entries[i] = (b, selector, left - 1)

    def left(self, index: int) -> int:
        return self.entries[index][2]

    def copy(self) -> Budgets:
        return Budgets(list(self.entries))


def stays_with_node(pod: Pod) -> bool:
    """Pods that are neither moved nor block: mirror and DaemonSet pods, and
    pods that are finished or already going."""
    if pod.metadata.deletion_timestamp is not None:
        return True
    if pod.status.phase in ("Succeeded", "Failed"):
        return True
    if MIRROR_ANNOTATION in pod.metadata.annotations:
        return True
    ref = pod.metadata.controller_ref()
    return ref is not None and ref.kind == "DaemonSet"


def _has_local_storage(pod: Pod) -> bool:
    return any(v.empty_dir is not None or v.host_path is not None for v in pod.spec.volumes)


def pods_to_move(
    pods: Iterable[Pod],
    budgets: Budgets,
    *,
    skip_nodes_with_system_pods: bool = True,
    skip_nodes_with_local_storage: bool = True,
) -> tuple[list[Pod], BlockingPod | None]:
    """(pods to reschedule, None) or ([], the first blocking pod). Spends the
    budgets of the pods to move only when nothing blocks."""
    moving: list[Pod] = []
    spent: list[int] = []
    for pod in pods:
        if stays_with_node(pod):
            continue
        annotation = pod.metadata.annotations.get(SAFE_TO_EVICT)
        if annotation == "false":
            return [], BlockingPod(pod, "NotSafeToEvictAnnotation")
        covering = budgets.matching(pod)
        if annotation != "true":
            if pod.metadata.controller_ref() is None:
                return [], BlockingPod(pod, "NotReplicated")
            if (
                skip_nodes_with_system_pods
                and pod.metadata.namespace == "kube-system"
                and not covering
            ):
                return [], BlockingPod(pod, "UnmovableKubeSystemPod")
            if skip_nodes_with_local_storage and _has_local_storage(pod):
                return [], BlockingPod(pod, "LocalStorageRequested")
        for index in covering:
            if budgets.left(index) - spent.count(index) < 1:
                return [], BlockingPod(pod, "NotEnoughPdb")
        spent.extend(covering)
        moving.append(pod)
    budgets.spend(spent)
    return moving, None
