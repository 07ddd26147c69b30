"""The Recreate strategy (Kubernetes' recreate.go): scale every old
ReplicaSet to zero, wait until none of their pods is left (terminating pods
count: they may still be running), then create or scale up the new
ReplicaSet. No old pod ever runs beside a new one.

Neighbours: `controllers.deployment.sync`, `controllers.deployment.progress`;
the controller passes the pods of each ReplicaSet it owns.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from controllers.deployment import conditions as cond
from controllers.deployment.progress import sync_rollout_status
from controllers.deployment.replicas import actual_replica_count
from controllers.deployment.sync import DeploymentSync
from engine.api import Pod, ReplicaSet

__all__ = ["rollout_recreate"]

_FINISHED = frozenset({"Succeeded", "Failed"})


async def rollout_recreate(s: DeploymentSync, pods_by_rs: Mapping[str, Sequence[Pod]]) -> None:
    """`pods_by_rs`: the pods (terminating ones included) of each owned
    ReplicaSet, by ReplicaSet uid."""
    # No new ReplicaSet yet: creating it now would scale up before scaling down.
    new_rs, old_rss = await s.new_and_old(create=False)
    all_rss = [*old_rss, *([new_rs] if new_rs else [])]
    scaled_down = False
    for rs in old_rss:
        if rs.spec.replicas != 0:
            scaled, _ = await s.scale_if_needed(rs, 0)
            scaled_down = scaled_down or scaled
    if scaled_down:
        await sync_rollout_status(s, all_rss, new_rs)
        return
    if _old_pods_running(new_rs, old_rss, pods_by_rs):
        await sync_rollout_status(s, all_rss, new_rs)
        return
    if new_rs is None:
        new_rs, old_rss = await s.new_and_old(create=True)
        assert new_rs is not None
        all_rss = [*old_rss, new_rs]
    await s.scale_if_needed(new_rs, s.d.spec.replicas)
    if cond.deployment_complete(s.d, s.d.status):
        await s.cleanup(old_rss)
    await sync_rollout_status(s, all_rss, new_rs)


def _old_pods_running(
    new_rs: ReplicaSet | None, old_rss: list[ReplicaSet], pods_by_rs: Mapping[str, Sequence[Pod]]
) -> bool:
    if actual_replica_count(old_rss) > 0:
        return True
    new_uid = new_rs.metadata.uid if new_rs is not None else None
    for uid, pods in pods_by_rs.items():
        if uid == new_uid:
            continue
        if any(pod.status.phase not in _FINISHED for pod in pods):
            return True
    return False
