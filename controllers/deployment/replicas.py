"""Replica arithmetic of Deployments (Kubernetes' deployment util): surge and
unavailability budgets, counts over ReplicaSets, the size of a new
ReplicaSet, and proportional scaling of a rollout in progress.

* `maxSurge` is rounded up and `maxUnavailable` down when given as a
  percentage of `spec.replicas`; if both resolve to zero, unavailability 1 is
  allowed (validation rejects an explicit 0/0, rounding can still produce it).
* `available_for_scale_down` counts a ReplicaSet's available pods, but never
  more than its `spec.replicas`: a ReplicaSet just scaled down still reports
  the pods it is about to delete as available until its controller catches
  up, and counting them would let a rollout go below its availability floor.
* `pods_upper_bound` counts, per ReplicaSet, the larger of `spec.replicas`
  and `status.replicas`: pods of a ReplicaSet that was just scaled down exist
  until its controller has deleted them, and counting only the spec would let
  a rollout surge past `maxSurge` meanwhile.

* `updated_replica_count` (the Deployment's `status.updatedReplicas`) counts
  the new ReplicaSet's pods only up to its `spec.replicas`: when a sync on a
  lagging cache scaled it down just before it became new again (a quick
  revert), its pods are about to go, and reporting them would make the rollout
  look complete (and `rollout_status` return) before it is.

Those three are the only places that differ from Kubernetes, which counts
`spec.replicas`, `status.availableReplicas` and `status.replicas` as they are.

Neighbours: `controllers.deployment.revisions` (annotations),
`controllers.deployment.sync`, `.rolling`, `.recreate`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence

from controllers.deployment.revisions import desired_replicas_annotation, max_replicas_annotation
from engine.api import Deployment, ReplicaSet, scaled_value

__all__ = [
    "actual_replica_count",
    "available_for_scale_down",
    "available_replica_count",
    "find_active_or_latest",
    "is_rolling_update",
    "is_saturated",
    "max_surge",
    "max_unavailable",
    "new_rs_new_replicas",
    "pods_upper_bound",
    "ready_replica_count",
    "replica_count",
    "replica_set_proportion",
    "resolve_fenceposts",
    "round_half_away",
    "updated_replica_count",
]


def is_rolling_update(d: Deployment) -> bool:
    return d.spec.strategy.type == "RollingUpdate"


def resolve_fenceposts(
    surge: int | str | None, unavailable: int | str | None, desired: int
) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) as numbers of pods for `desired` replicas."""
    surge_pods = scaled_value(surge if surge is not None else 0, desired, round_up=True)
    unavailable_pods = scaled_value(
        unavailable if unavailable is not None else 0, desired, round_up=False
    )
    if surge_pods == 0 and unavailable_pods == 0:
        # Rounding made both zero: allow one unavailable pod rather than none
        # at all (surging might be impossible, e.g. under quota).
        unavailable_pods = 1
    return surge_pods, unavailable_pods


def max_surge(d: Deployment) -> int:
    rolling = d.spec.strategy.rolling_update
    if not is_rolling_update(d) or rolling is None:
        return 0
    return resolve_fenceposts(rolling.max_surge, rolling.max_unavailable, d.spec.replicas)[0]


def max_unavailable(d: Deployment) -> int:
    rolling = d.spec.strategy.rolling_update
    if not is_rolling_update(d) or rolling is None or d.spec.replicas == 0:
        return 0
    unavailable = resolve_fenceposts(rolling.max_surge, rolling.max_unavailable, d.spec.replicas)[1]
    return min(unavailable, d.spec.replicas)


def replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    """Sum of spec.replicas."""
    return sum(rs.spec.replicas for rs in rss if rs is not None)


def actual_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.replicas for rs in rss if rs is not None)


def ready_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.ready_replicas for rs in rss if rs is not None)


def available_replica_count(rss: Iterable[ReplicaSet | None]) -> int:
    return sum(rs.status.available_replicas for rs in rss if rs is not None)


def updated_replica_count(new_rs: ReplicaSet | None) -> int:
    """Pods of the new ReplicaSet that will stay (see the module docstring)."""
    if new_rs is None:
        return 0
    return min(new_rs.status.replicas, new_rs.spec.replicas)


def available_for_scale_down(rss: Iterable[ReplicaSet | None]) -> int:
    """Available pods each ReplicaSet will keep (see the module docstring)."""
    return sum(min(rs.status.available_replicas, rs.spec.replicas) for rs in rss if rs is not None)


def pods_upper_bound(rss: Iterable[ReplicaSet | None]) -> int:
    """Pods that may exist now or soon (see the module docstring)."""
    return sum(max(rs.spec.replicas, rs.status.replicas) for rs in rss if rs is not None)


def new_rs_new_replicas(
    d: Deployment, all_rss: Sequence[ReplicaSet | None], new_rs: ReplicaSet
) -> int:
    """How many replicas the new ReplicaSet may have now."""
    if d.spec.strategy.type == "Recreate":
        return d.spec.replicas
    if not is_rolling_update(d):
        raise ValueError(f"deployment strategy {d.spec.strategy.type!r} isn't supported")
    max_total = d.spec.replicas + max_surge(d)
    current = pods_upper_bound(all_rss)
    if current >= max_total:
        return new_rs.spec.replicas
    scale_up = min(max_total - current, d.spec.replicas - new_rs.spec.replicas)
    return new_rs.spec.replicas + scale_up


def is_saturated(d: Deployment, rs: ReplicaSet | None) -> bool:
    """The ReplicaSet runs all the Deployment's replicas, all available."""
    if rs is None:
        return False
    desired = desired_replicas_annotation(rs)
    replicas = d.spec.replicas
    return (
        rs.spec.replicas == replicas
        and desired == replicas
        and rs.status.available_replicas == replicas
    )


def find_active_or_latest(
    new_rs: ReplicaSet | None, old_rss: Sequence[ReplicaSet]
) -> ReplicaSet | None:
    """The only ReplicaSet with replicas; with none, the new one or the newest old
    one; None when several have replicas."""
    if new_rs is None and not old_rss:
        return None
    newest_first = sorted(old_rss, key=_creation_key, reverse=True)
    active = [rs for rs in [*newest_first, new_rs] if rs is not None and rs.spec.replicas > 0]
    if not active:
        return new_rs if new_rs is not None else newest_first[0]
    if len(active) == 1:
        return active[0]
    return None


def _creation_key(rs: ReplicaSet) -> tuple[object, str]:
    return (rs.metadata.creation_timestamp, rs.metadata.name)


def round_half_away(value: float) -> int:
    """Go's math.Round: halves away from zero."""
    return math.floor(value + 0.5) if value >= 0 else -math.floor(-value + 0.5)


def replica_set_proportion(rs: ReplicaSet, d: Deployment, to_add: int, added: int) -> int:
    """The share of `to_add` (positive: scale up, negative: down) that `rs` gets,
    given `added` already handed out (Kubernetes' GetReplicaSetProportion)."""
    if rs.spec.replicas == 0 or to_add == 0 or to_add == added:
        return 0
    fraction = _replica_set_fraction(rs, d)
    allowed = to_add - added
    return min(fraction, allowed) if to_add > 0 else max(fraction, allowed)


def _replica_set_fraction(rs: ReplicaSet, d: Deployment) -> int:
    if d.spec.replicas == 0:
        return -rs.spec.replicas
    max_replicas = d.spec.replicas + max_surge(d)
    before = max_replicas_annotation(rs)
    if not before:
        # No record of the size before this scaling: use the current one.
        before = d.status.replicas
        if before == 0:
            return 0
    return round_half_away(rs.spec.replicas * max_replicas / before) - rs.spec.replicas
