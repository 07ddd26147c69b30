"""Deployment conditions and the predicates of rollout progress (Kubernetes'
deployment util): complete, progressing, timed out.

`Progressing` tells where a rollout is: True with NewReplicaSetCreated,
FoundNewReplicaSet or ReplicaSetUpdated while it moves, True with
NewReplicaSetAvailable once complete, False with ProgressDeadlineExceeded when
nothing moved for `progressDeadlineSeconds`, Unknown with DeploymentPaused /
DeploymentResumed. `Available` says whether at least replicas - maxUnavailable
pods are available. `ReplicaFailure` mirrors a ReplicaSet's failure to create
or delete pods.

Conditions are kept as immutable lists; every function returns a new list.

Neighbours: `controllers.deployment.progress` and `.sync` set them;
`controllers.deployment.rollout` reads them for rollout status.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Final

from engine.api import Deployment, DeploymentCondition, DeploymentStatus, ReplicaSetCondition

__all__ = [
    "AVAILABLE",
    "PROGRESSING",
    "REPLICA_FAILURE",
    "deployment_complete",
    "deployment_progressing",
    "deployment_timed_out",
    "find",
    "has_progress_deadline",
    "new_condition",
    "remove_condition",
    "replica_set_condition",
    "set_condition",
]

AVAILABLE: Final = "Available"
PROGRESSING: Final = "Progressing"
REPLICA_FAILURE: Final = "ReplicaFailure"

# Reasons (Kubernetes' names).
NEW_RS_CREATED: Final = "NewReplicaSetCreated"
FOUND_NEW_RS: Final = "FoundNewReplicaSet"
RS_UPDATED: Final = "ReplicaSetUpdated"
NEW_RS_AVAILABLE: Final = "NewReplicaSetAvailable"
TIMED_OUT: Final = "ProgressDeadlineExceeded"
FAILED_RS_CREATE: Final = "ReplicaSetCreateError"
PAUSED: Final = "DeploymentPaused"
RESUMED: Final = "DeploymentResumed"
MIN_AVAILABLE: Final = "MinimumReplicasAvailable"
MIN_UNAVAILABLE: Final = "MinimumReplicasUnavailable"

_NO_DEADLINE: Final = 2**31 - 1  # math.MaxInt32: "no deadline" in Kubernetes


def new_condition(
    condition_type: str, status: str, reason: str, message: str, now: datetime
) -> DeploymentCondition:
    return DeploymentCondition(
        type=condition_type,
        status=status,
        last_update_time=now,
        last_transition_time=now,
        reason=reason,
        message=message,
    )


def find(
    conditions: Sequence[DeploymentCondition], condition_type: str
) -> DeploymentCondition | None:
    for condition in conditions:
        if condition.type == condition_type:
            return condition
    return None


def set_condition(
    conditions: Sequence[DeploymentCondition], condition: DeploymentCondition
) -> list[DeploymentCondition]:
    """Add or replace a condition; unchanged if one with the same status and
    reason exists; the transition time is kept when only the reason changes."""
    current = find(conditions, condition.type)
    if current is not None and current.status == condition.status:
        if current.reason == condition.reason:
            return list(conditions)
        condition = condition.model_copy(
            update={"last_transition_time": current.last_transition_time}
        )
    return [*remove_condition(conditions, condition.type), condition]


def remove_condition(
    conditions: Sequence[DeploymentCondition], condition_type: str
) -> list[DeploymentCondition]:
    return [c for c in conditions if c.type != condition_type]


def replica_set_condition(condition: ReplicaSetCondition) -> DeploymentCondition:
    """A ReplicaSet's condition carried over to its Deployment."""
    return DeploymentCondition(
        type=condition.type,
        status=condition.status,
        last_update_time=condition.last_transition_time,
        last_transition_time=condition.last_transition_time,
        reason=condition.reason,
        message=condition.message,
    )


def has_progress_deadline(d: Deployment) -> bool:
    return d.spec.progress_deadline_seconds != _NO_DEADLINE


def deployment_complete(d: Deployment, status: DeploymentStatus) -> bool:
    """Every replica updated and available, and the latest spec observed."""
    replicas = d.spec.replicas
    return (
        status.updated_replicas == replicas
        and status.replicas == replicas
        and status.available_replicas == replicas
        and status.observed_generation >= d.metadata.generation
    )


def deployment_progressing(d: Deployment, status: DeploymentStatus) -> bool:
    """`status` shows progress over the Deployment's current status: more pods
    updated, ready or available, or fewer old ones."""
    old = d.status
    return (
        status.updated_replicas > old.updated_replicas
        or (status.replicas - status.updated_replicas) < (old.replicas - old.updated_replicas)
        or status.ready_replicas > old.ready_replicas
        or status.available_replicas > old.available_replicas
    )


def deployment_timed_out(d: Deployment, status: DeploymentStatus, now: datetime) -> bool:
    """No progress reported for longer than progressDeadlineSeconds."""
    if not has_progress_deadline(d):
        return False
    condition = find(status.conditions, PROGRESSING)
    if condition is None or condition.reason == NEW_RS_AVAILABLE:
        return False
    if condition.reason == TIMED_OUT:
        return True
    since = condition.last_update_time
    if since is None:
        return False
    return since + timedelta(seconds=d.spec.progress_deadline_seconds) < now
