"""Rollout progress: the Deployment's status after a rollout step, with the
Progressing and ReplicaFailure conditions (Kubernetes' progress.go).

While a rollout is under way the Progressing condition is refreshed each time
it moves (more pods updated, ready or available, or fewer old ones);
`lastUpdateTime` is when it last moved. Once complete it says
NewReplicaSetAvailable and stays so. If it has not moved for
`progressDeadlineSeconds`, it turns False with ProgressDeadlineExceeded (the
rollout is not stopped: it may still complete later). So that the deadline is
noticed without any event, a sync that finds a rollout still under way asks to
run again when the deadline would pass.

Neighbours: `controllers.deployment.sync` (the session and status),
`controllers.deployment.conditions`; `.rolling` and `.recreate` end with this.
"""

from __future__ import annotations

from typing import Final

from controllers.deployment import conditions as cond
from controllers.deployment.sync import DeploymentSync
from engine.api import DeploymentCondition, DeploymentStatus, ReplicaSet

__all__ = ["sync_rollout_status"]

DEADLINE_SLACK: Final = 1.0
"""Kubernetes checks again one second after the deadline would pass."""


async def sync_rollout_status(
    s: DeploymentSync, all_rss: list[ReplicaSet], new_rs: ReplicaSet | None
) -> None:
    d = s.d
    status = s.calculate_status(all_rss, new_rs)
    conditions = status.conditions
    if not cond.has_progress_deadline(d):
        conditions = cond.remove_condition(conditions, cond.PROGRESSING)
    current = d.status.condition(cond.PROGRESSING)
    complete_before = (
        status.replicas == status.updated_replicas
        and current is not None
        and current.reason == cond.NEW_RS_AVAILABLE
    )
    now = s.clock.now()
    if cond.has_progress_deadline(d) and not complete_before:
        which = (
            f'ReplicaSet "{new_rs.metadata.name}"' if new_rs else f'Deployment "{d.metadata.name}"'
        )
        if cond.deployment_complete(d, status):
            conditions = cond.set_condition(
                conditions,
                cond.new_condition(
                    cond.PROGRESSING,
                    "True",
                    cond.NEW_RS_AVAILABLE,
                    f"{which} has successfully progressed.",
                    now,
                ),
            )
        elif cond.deployment_progressing(d, status):
            condition = cond.new_condition(
                cond.PROGRESSING, "True", cond.RS_UPDATED, f"{which} is progressing.", now
            )
            # Unlike other conditions, a progressing update with the same reason
            # still records the time (lastUpdateTime) of this progress.
            if current is not None:
                if current.status == "True":
                    condition = condition.model_copy(
                        update={"last_transition_time": current.last_transition_time}
                    )
                conditions = cond.remove_condition(conditions, cond.PROGRESSING)
            conditions = cond.set_condition(conditions, condition)
        elif cond.deployment_timed_out(
            d, status.model_copy(update={"conditions": conditions}), now
        ):
            conditions = cond.set_condition(
                conditions,
                cond.new_condition(
                    cond.PROGRESSING,
                    "False",
                    cond.TIMED_OUT,
                    f"{which} has timed out progressing.",
                    now,
                ),
            )
    failure = _replica_failure(all_rss, new_rs)
    if failure is not None:
        conditions = cond.set_condition(conditions, failure)
    else:
        conditions = cond.remove_condition(conditions, cond.REPLICA_FAILURE)
    status = status.model_copy(update={"conditions": conditions})
    if status == d.status:
        _requeue_if_stuck(s, status)
        return
    await s.write_status(status)


def _replica_failure(
    all_rss: list[ReplicaSet], new_rs: ReplicaSet | None
) -> DeploymentCondition | None:
    """The new ReplicaSet's failure condition, else any old one's."""
    for rs in ([new_rs] if new_rs is not None else []) + all_rss:
        failure = rs.status.condition(cond.REPLICA_FAILURE)
        if failure is not None:
            return cond.replica_set_condition(failure)
    return None


def _requeue_if_stuck(s: DeploymentSync, status: DeploymentStatus) -> None:
    """Come back when the progress deadline would pass (Kubernetes'
    requeueStuckDeployment)."""
    d = s.d
    current = d.status.condition(cond.PROGRESSING)
    if not cond.has_progress_deadline(d) or current is None:
        return
    if cond.deployment_complete(d, status) or current.reason == cond.TIMED_OUT:
        return
    if current.last_update_time is None:
        return
    deadline = current.last_update_time.timestamp() + d.spec.progress_deadline_seconds
    after = deadline - s.clock.now().timestamp()
    if after < DEADLINE_SLACK:
        s.requeue = True  # rate-limited: soon, but not in a tight loop
    else:
        s.requeue_after = after + DEADLINE_SLACK
