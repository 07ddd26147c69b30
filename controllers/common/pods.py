"""Pod facts that every workload controller asks about: is a pod active, ready,
available, terminating; when did it become ready; what does deleting it cost.

These are Kubernetes' `IsPodActive`, `IsPodReady`, `IsPodAvailable`,
`podReadyTime` and `GetDeletionCostFromPodAnnotations`, as pure functions over
shared (never changed) `Pod` objects. Availability is decided against a `now`
taken from the injected clock, never the wall clock.

Neighbours: `controllers.common.ranking` (deletion order) builds on these; the
replicaset and deployment controllers use them for status.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from typing import Final

from engine.api import Pod, PodCondition

__all__ = [
    "POD_DELETION_COST_ANNOTATION",
    "deletion_cost",
    "is_pod_active",
    "is_pod_available",
    "is_pod_ready",
    "is_pod_terminating",
    "ready_condition",
    "ready_since",
    "seconds_until_available",
]

POD_DELETION_COST_ANNOTATION: Final = "controller.kubernetes.io/pod-deletion-cost"
_TERMINAL: Final = frozenset({"Succeeded", "Failed"})
_INT32_MIN: Final = -(2**31)
_INT32_MAX: Final = 2**31 - 1
_INT: Final = re.compile(r"[+-]?[0-9]+")  # Go's strconv.ParseInt syntax, base 10


def is_pod_active(pod: Pod) -> bool:
    """Neither finished (Succeeded/Failed) nor marked for deletion: the pods a
    controller counts towards its replicas."""
    return pod.metadata.deletion_timestamp is None and pod.status.phase not in _TERMINAL


def is_pod_terminating(pod: Pod) -> bool:
    """Marked for deletion but not finished: still running its grace period."""
    return pod.metadata.deletion_timestamp is not None and pod.status.phase not in _TERMINAL


def ready_condition(pod: Pod) -> PodCondition | None:
    for condition in pod.status.conditions:
        if condition.type == "Ready":
            return condition
    return None


def is_pod_ready(pod: Pod) -> bool:
    condition = ready_condition(pod)
    return condition is not None and condition.status == "True"


def ready_since(pod: Pod) -> datetime | None:
    """When a ready pod became ready (its Ready condition's lastTransitionTime);
    None if it is not ready or the time is unknown."""
    condition = ready_condition(pod)
    if condition is None or condition.status != "True":
        return None
    return condition.last_transition_time


def is_pod_available(pod: Pod, min_ready_seconds: int | None, now: datetime) -> bool:
    """Ready for more than `min_ready_seconds` (Kubernetes compares strictly, so
    a pod is not yet available at exactly the boundary)."""
    condition = ready_condition(pod)
    if condition is None or condition.status != "True":
        return False
    if not min_ready_seconds:
        return True
    since = condition.last_transition_time
    return since is not None and since + timedelta(seconds=min_ready_seconds) < now


def seconds_until_available(pod: Pod, min_ready_seconds: int | None, now: datetime) -> float | None:
    """For a ready pod that is not yet available: how long until it is. None for
    pods that are available already or not ready (nothing to wait for)."""
    if not min_ready_seconds:
        return None
    since = ready_since(pod)
    if since is None:
        return None
    remaining = (since + timedelta(seconds=min_ready_seconds) - now).total_seconds()
    return remaining if remaining >= 0 else None


def deletion_cost(pod: Pod) -> int:
    """The pod-deletion-cost annotation as an int32; 0 when absent or malformed
    (the apiserver rejects malformed values on pods it validates)."""
    value = pod.metadata.annotations.get(POD_DELETION_COST_ANNOTATION)
    if value is None or _INT.fullmatch(value) is None:
        return 0
    cost = int(value)
    return cost if _INT32_MIN <= cost <= _INT32_MAX else 0
