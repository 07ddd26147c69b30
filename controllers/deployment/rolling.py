"""The RollingUpdate strategy (Kubernetes' rolling.go): grow the new
ReplicaSet within the surge budget, shrink old ones within the availability
budget, one step per sync.

A step either scales the new ReplicaSet up, to at most replicas + maxSurge
pods in all, or scales old ReplicaSets down: first their unhealthy pods
(which costs no availability), then healthy ones while at least
replicas - maxUnavailable pods stay available. Each step's effect arrives as
ReplicaSet events, which trigger the next sync. Once the rollout is complete,
old ReplicaSets beyond the history limit are deleted.

Neighbours: `controllers.deployment.sync` (the session, scaling and cleanup),
`controllers.deployment.progress` (status), `controllers.deployment.replicas`.
"""

from __future__ import annotations

from controllers.deployment import conditions as cond
from controllers.deployment.progress import sync_rollout_status
from controllers.deployment.replicas import (
    available_for_scale_down,
    max_unavailable,
    new_rs_new_replicas,
    replica_count,
)
from controllers.deployment.revisions import by_creation
from controllers.deployment.sync import DeploymentSync
from engine.api import ReplicaSet

__all__ = ["rollout_rolling"]


async def rollout_rolling(s: DeploymentSync) -> None:
    new_rs, old_rss = await s.new_and_old(create=True)
    assert new_rs is not None
    all_rss = [*old_rss, new_rs]
    if await _reconcile_new(s, all_rss, new_rs):
        await sync_rollout_status(s, all_rss, new_rs)
        return
    active_old = [rs for rs in old_rss if rs.spec.replicas > 0]
    if await _reconcile_old(s, all_rss, active_old, new_rs):
        await sync_rollout_status(s, all_rss, new_rs)
        return
    if cond.deployment_complete(s.d, s.d.status):
        await s.cleanup(old_rss)
    await sync_rollout_status(s, all_rss, new_rs)


async def _reconcile_new(s: DeploymentSync, all_rss: list[ReplicaSet], new_rs: ReplicaSet) -> bool:
    replicas = s.d.spec.replicas
    if new_rs.spec.replicas == replicas:
        return False
    if new_rs.spec.replicas > replicas:
        return (await s.scale_if_needed(new_rs, replicas))[0]
    return (await s.scale_if_needed(new_rs, new_rs_new_replicas(s.d, all_rss, new_rs)))[0]


async def _reconcile_old(
    s: DeploymentSync, all_rss: list[ReplicaSet], old_rss: list[ReplicaSet], new_rs: ReplicaSet
) -> bool:
    if replica_count(old_rss) == 0:
        return False
    d = s.d
    min_available = d.spec.replicas - max_unavailable(d)
    new_unavailable = new_rs.spec.replicas - min(
        new_rs.status.available_replicas, new_rs.spec.replicas
    )
    # At most this many old pods may go, counting those already unavailable.
    max_scaled_down = replica_count(all_rss) - min_available - new_unavailable
    if max_scaled_down <= 0:
        return False
    old_rss, cleaned = await _cleanup_unhealthy(s, old_rss, max_scaled_down)
    scaled = await _scale_down_old(s, [*old_rss, new_rs], old_rss)
    return cleaned + scaled > 0


async def _cleanup_unhealthy(
    s: DeploymentSync, old_rss: list[ReplicaSet], max_cleanup: int
) -> tuple[list[ReplicaSet], int]:
    """Scale old ReplicaSets down by their unavailable pods, oldest first:
    the ReplicaSet controller deletes not-ready pods first, so availability
    does not drop."""
    old_rss = sorted(old_rss, key=by_creation)
    total = 0
    for i, rs in enumerate(old_rss):
        if total >= max_cleanup:
            break
        unhealthy = rs.spec.replicas - min(rs.status.available_replicas, rs.spec.replicas)
        if rs.spec.replicas == 0 or unhealthy == 0:
            continue
        count = min(max_cleanup - total, unhealthy)
        _, old_rss[i] = await s.scale_if_needed(rs, rs.spec.replicas - count)
        total += count
    return old_rss, total


async def _scale_down_old(
    s: DeploymentSync, all_rss: list[ReplicaSet], old_rss: list[ReplicaSet]
) -> int:
    """Scale old ReplicaSets down, oldest first, while at least
    replicas - maxUnavailable pods stay available."""
    d = s.d
    min_available = d.spec.replicas - max_unavailable(d)
    available = available_for_scale_down(all_rss)
    if available <= min_available:
        return 0
    budget = available - min_available
    total = 0
    for rs in sorted(old_rss, key=by_creation):
        if total >= budget:
            break
        if rs.spec.replicas == 0:
            continue
        count = min(rs.spec.replicas, budget - total)
        await s.scale_if_needed(rs, rs.spec.replicas - count)
        total += count
    return total
