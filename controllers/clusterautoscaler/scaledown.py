"""Scale-down planning: which nodes are unneeded (CA's core/scaledown planner).

A node is a candidate when it belongs to an autoscaled group, is Ready, is not
being deleted nor annotated `cluster-autoscaler.kubernetes.io/scale-down-disabled:
"true"`, and its requested utilization (the larger of cpu and memory
requested over allocatable, every pod on it counted) is below the threshold.

`find_unneeded(...)` then checks, on the forked simulator, that every pod the
node would have to move (`drainability.pods_to_move`) passes the scheduler's
PreFilter and Filter plugins on some other node that is not itself leaving;
each node found removable takes the pods it sheds into the simulation, so
the next candidate cannot count on the same room twice, and spends the
PodDisruptionBudgets its pods need. Nodes found unneeded in the last loop are
checked first; of the others, at most `non_empty_limit` non-empty nodes are
checked per loop (CA's scale-down-non-empty-candidates-count).

Neighbours: `controllers.clusterautoscaler.autoscaler` (keeps the
unneeded-since times and deletes), `drainability`, `provider.Simulator`.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from controllers.clusterautoscaler.drainability import Budgets, pods_to_move
from controllers.clusterautoscaler.provider import Simulator
from engine.api.core import Node, Pod

__all__ = [
    "SCALE_DOWN_DISABLED",
    "TO_BE_DELETED_TAINT",
    "Removal",
    "UnneededResult",
    "find_unneeded",
    "is_candidate",
]

SCALE_DOWN_DISABLED = "cluster-autoscaler.kubernetes.io/scale-down-disabled"
TO_BE_DELETED_TAINT = "ToBeDeletedByClusterAutoscaler"


@dataclass(frozen=True, slots=True)
class Removal:
    node: str
    pods: tuple[Pod, ...]
    """The pods that must move (empty: an empty node)."""
    utilization: float


@dataclass(slots=True)
class UnneededResult:
    removable: list[Removal] = field(default_factory=list)
    unremovable: dict[str, str] = field(default_factory=dict)
    """node -> why it cannot go (a blocking pod's reason, NoPlaceToMovePods, ...)."""


def is_candidate(node: Node, utilization: float, threshold: float) -> str | None:
    """None if `node` may be considered, else why not."""
    if node.metadata.annotations.get(SCALE_DOWN_DISABLED) == "true":
        return "ScaleDownDisabledAnnotation"
    if node.metadata.deletion_timestamp is not None or any(
        t.key == TO_BE_DELETED_TAINT for t in node.spec.taints
    ):
        return "CurrentlyBeingDeleted"
    if not node.is_ready:
        return "NotReady"
    if utilization >= threshold:
        return "NotUnderutilized"
    return None


def find_unneeded(
    sim: Simulator,
    candidates: Sequence[tuple[Node, float]],
    budgets: Budgets,
    *,
    previously: Iterable[str],
    leaving: frozenset[str],
    non_empty_limit: int,
    skip_nodes_with_system_pods: bool,
    skip_nodes_with_local_storage: bool,
) -> UnneededResult:
    """See the module docstring. `sim` must be forked; the caller reverts it."""
    result = UnneededResult()
    before = set(previously)
    ordered = sorted(candidates, key=lambda c: (c[0].metadata.name not in before, c[1]))
    gone: set[str] = set(leaving)
    non_empty_checked = 0
    for node, utilization in ordered:
        name = node.metadata.name
        saved = budgets.copy()
        moving, blocking = pods_to_move(
            sim.pods_on(name),
            budgets,
            skip_nodes_with_system_pods=skip_nodes_with_system_pods,
            skip_nodes_with_local_storage=skip_nodes_with_local_storage,
        )
        if blocking is not None:
            result.unremovable[name] = blocking.reason
            continue
        if moving and name not in before:
            if non_empty_checked >= non_empty_limit:
                budgets.entries = saved.entries
                continue
            non_empty_checked += 1
        mark = sim.mark()
        for pod in moving:
            sim.remove_pod(pod)
        placed = True
        for pod in moving:
            unbound = sim.unbound(pod)
            target = sim.find_node(unbound, exclude=gone | {name})
            if target is None:
                placed = False
                break
            sim.place(unbound, target)
        if not placed:
            sim.revert(mark)
            budgets.entries = saved.entries
            result.unremovable[name] = "NoPlaceToMovePods"
            continue
        gone.add(name)
        result.removable.append(Removal(name, tuple(moving), utilization))
    return result
