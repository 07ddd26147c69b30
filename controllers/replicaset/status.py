"""ReplicaSet (and ReplicationController) status: what the controller reports
after each sync (Kubernetes'
`calculateStatus` and `updateReplicaSetStatus`).

* `replicas`: active pods (not terminating, not finished) the set owns;
* `fullyLabeledReplicas`: those carrying every label of the template;
* `readyReplicas` / `availableReplicas`: Ready, and Ready for more than
  `minReadySeconds` on the injected clock;
* `observedGeneration`: the generation this status was computed for;
* the `ReplicaFailure` condition: set (FailedCreate / FailedDelete, with the
  error) when creating or deleting pods failed, removed once a sync succeeds.

Neighbours: `controllers.replicaset.controller` calls these;
`controllers.common.pods` decides readiness and availability.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import Any, Final

from controllers.common.pods import ready_condition, seconds_until_available
from engine.api import (
    Pod,
    ReplicaSet,
    ReplicaSetCondition,
    ReplicaSetStatus,
    ReplicationController,
    ReplicationControllerCondition,
    ReplicationControllerStatus,
)
from engine.client import Client
from engine.errors import Conflict

__all__ = [
    "REPLICA_FAILURE",
    "calculate_status",
    "fully_labeled_by",
    "next_availability_check",
    "status_from_counts",
    "update_status",
]

REPLICA_FAILURE: Final = "ReplicaFailure"
_STATUS_UPDATE_RETRIES: Final = 1

Replicated = ReplicaSet | ReplicationController
Status = ReplicaSetStatus | ReplicationControllerStatus


def calculate_status(
    rs: Replicated, pods: Sequence[Pod], manage_error: Exception | None, now: datetime
) -> Status:
    """The status `rs` should have, given its active pods and how the last
    attempt to create or delete pods went."""
    deadline = now - timedelta(seconds=rs.spec.min_ready_seconds or 0)
    fully_labeled = ready = available = 0
    # Pods made from one template share one labels dict: check it once.
    labeled: dict[int, bool] = {}
    for pod in pods:
        labels = pod.metadata.labels
        verdict = labeled.get(id(labels))
        if verdict is None:
            verdict = labeled[id(labels)] = fully_labeled_by(rs, labels)
        if verdict:
            fully_labeled += 1
        readiness = ready_condition(pod)
        if readiness is not None and readiness.status == "True":
            ready += 1
            since = readiness.last_transition_time
            if not rs.spec.min_ready_seconds or (since is not None and since < deadline):
                available += 1
    return status_from_counts(rs, len(pods), fully_labeled, ready, available, manage_error, now)


def fully_labeled_by(rs: Replicated, labels: Mapping[str, str]) -> bool:
    """Whether pod labels carry every label of the set's template."""
    return all(labels.get(k) == v for k, v in rs.spec.template.metadata.labels.items())


def status_from_counts(
    rs: Replicated,
    replicas: int,
    fully_labeled: int,
    ready: int,
    available: int,
    manage_error: Exception | None,
    now: datetime,
) -> Status:
    """The status for these counts of the set's active pods (see `calculate_status`)."""
    conditions: list[Any] = list(rs.status.conditions)
    failure = rs.status.condition(REPLICA_FAILURE)
    if manage_error is not None and failure is None:
        diff = replicas - rs.spec.replicas
        reason = "FailedCreate" if diff < 0 else "FailedDelete" if diff > 0 else None
        condition_class = (
            ReplicaSetCondition if isinstance(rs, ReplicaSet) else ReplicationControllerCondition
        )
        condition = condition_class(
            type=REPLICA_FAILURE,
            status="True",
            last_transition_time=now,
            reason=reason,
            message=str(manage_error),
        )
        conditions = [*conditions, condition]
    elif manage_error is None and failure is not None:
        conditions = [c for c in conditions if c.type != REPLICA_FAILURE]
    return rs.status.model_copy(
        update={
            "replicas": replicas,
            "fully_labeled_replicas": fully_labeled,
            "ready_replicas": ready,
            "available_replicas": available,
            "conditions": conditions,
        }
    )


def next_availability_check(rs: Replicated, pods: Sequence[Pod], now: datetime) -> float | None:
    """Seconds until the first ready pod outlives `minReadySeconds` (and the
    status must be recomputed), or None if no pod is waiting for that."""
    min_ready = rs.spec.min_ready_seconds
    if not min_ready:
        return None
    soonest: float | None = None
    for pod in pods:
        wait = seconds_until_available(pod, min_ready, now)
        if wait is not None and (soonest is None or wait < soonest):
            soonest = wait
    return soonest


async def update_status(client: Client, rs: Replicated, status: Status) -> Replicated:
    """Write `status` (stamped with the observed generation) unless `rs` has it
    already. On a conflict, re-read once and retry if the spec is unchanged; a
    changed spec needs a new sync, so the conflict is raised."""
    for attempt in range(_STATUS_UPDATE_RETRIES + 1):
        stamped = status.model_copy(update={"observed_generation": rs.metadata.generation})
        if rs.status == stamped:
            return rs
        try:
            return await client.update_status(rs.model_copy(update={"status": stamped}))
        except Conflict:
            if attempt == _STATUS_UPDATE_RETRIES:
                raise
            fresh = await client.get(type(rs), rs.metadata.name, namespace=rs.metadata.namespace)
            if fresh.metadata.generation != rs.metadata.generation:
                raise
            rs = fresh
    raise AssertionError("unreachable")
