"""StatefulSet status and convergence (Kubernetes' computeReplicaStatus and
`kubectl rollout status statefulset`).

* `replicas`: pods that exist and are not terminating;
* `readyReplicas` / `availableReplicas`: of those, Running and Ready, and
  Ready for more than `minReadySeconds`;
* `currentReplicas` / `updatedReplicas`: of those, at the current / update
  revision (the `controller-revision-hash` label);
* `currentRevision` becomes `updateRevision` once a RollingUpdate is complete
  (every pod updated and ready);
* `observedGeneration`, `collisionCount`.

`is_converged(set)` is a pure predicate over the stored object: its status
describes the current generation, and `spec.replicas` pods exist, ready,
available and, for RollingUpdate, at the update revision (the pods at or
above the partition). An OnDelete set converges without its pods being
updated, since only deleting them updates them (kubectl does not wait for
those either).

Neighbours: `controllers.statefulset.control` computes and writes it;
`runtime` reads `is_converged`.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime

from controllers.statefulset.facts import PodFacts
from controllers.statefulset.identity import start_ordinal
from engine.api import StatefulSet, StatefulSetStatus

__all__ = ["calculate_status", "is_converged", "unconverged_reason", "updated_target"]


def calculate_status(
    sts: StatefulSet,
    pods: Sequence[PodFacts],
    current_revision: str,
    update_revision: str,
    collision_count: int,
    now: datetime,
) -> StatefulSetStatus:
    """The status of `sts` given the facts of its pods."""
    replicas = ready = available = current = updated = 0
    min_ready = sts.spec.min_ready_seconds
    for facts in pods:
        if facts.terminating:
            continue
        replicas += 1
        if facts.running_ready:
            ready += 1
            if facts.available(min_ready, now):
                available += 1
        revision = facts.revision
        if revision == current_revision:
            current += 1
        if revision == update_revision:
            updated += 1
    if (
        sts.spec.update_strategy.type == "RollingUpdate"
        and updated == replicas == ready
        and replicas == sts.spec.replicas
    ):
        current_revision, current = update_revision, updated
    return sts.status.model_copy(
        update={
            "observed_generation": sts.metadata.generation,
            "replicas": replicas,
            "ready_replicas": ready,
            "available_replicas": available,
            "current_replicas": current,
            "updated_replicas": updated,
            "current_revision": current_revision,
            "update_revision": update_revision,
            "collision_count": collision_count,
        }
    )


def updated_target(sts: StatefulSet) -> int:
    """How many pods a RollingUpdate updates: those at or above the partition."""
    start = start_ordinal(sts)
    rolling = sts.spec.update_strategy.rolling_update
    partition = rolling.partition if rolling is not None else 0
    return max(0, start + sts.spec.replicas - max(partition, start))


def unconverged_reason(sts: StatefulSet) -> str | None:
    """Why the set has not converged, or None if it has."""
    s, want = sts.status, sts.spec.replicas
    if s.observed_generation < sts.metadata.generation or not s.update_revision:
        return "status not yet observed"
    if s.replicas != want or s.ready_replicas != want or s.available_replicas != want:
        return f"{s.ready_replicas} ready, {s.available_replicas} available of {want}"
    if sts.spec.update_strategy.type == "RollingUpdate" and s.updated_replicas < updated_target(
        sts
    ):
        return f"{s.updated_replicas} updated of {updated_target(sts)}"
    return None


def is_converged(sts: StatefulSet) -> bool:
    return unconverged_reason(sts) is None
