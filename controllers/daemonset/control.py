"""One sync of a DaemonSet (Kubernetes' daemon controller `manage`,
`rollingUpdate` and `updateDaemonSetStatus`), as a plan computed from caches:
which nodes need a pod and which pods go.

Per node, from its daemon pods (by target node: `nodeName`, or the node the
pod's affinity names while it is being scheduled):

* the node should run the pod and has none running: create one (at the
  update revision);
* Failed or Succeeded pods are deleted (and replaced);
* several running pods: the oldest is kept (with surge, the oldest of each
  revision) and the rest deleted;
* the node may not keep the pod (untolerated NoExecute taint, or labels
  changed so it no longer selects the node): its pods are deleted.

RollingUpdate then replaces old pods. With `maxSurge` 0: old pods are deleted
(and re-created updated) while fewer than `maxUnavailable` desired nodes lack
an available pod; an old pod that is not available is replaced at once. With
`maxSurge` > 0 (then maxUnavailable must be 0, as validated): an updated pod
is created beside the old one on up to `maxSurge` nodes at a time, and the
old pod is deleted once the new one is available (at once where the old pod
was not available). Both are resolved against `desiredNumberScheduled`
(maxUnavailable rounding up, maxSurge rounding up, as Kubernetes). OnDelete
only replaces pods the user deletes.

Neighbours: `controllers.daemonset.placement`, `.status`;
`controllers.daemonset.controller` executes the plan.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from controllers.common.pods import is_pod_available, ready_condition, seconds_until_available
from controllers.daemonset.placement import Placement
from controllers.daemonset.status import Counts
from engine.api import DaemonSet, Pod, scaled_value

__all__ = ["Plan", "plan_sync", "rolling_limits"]

REVISION_LABEL = "controller-revision-hash"


@dataclass(slots=True)
class Plan:
    create_on: list[str] = field(default_factory=list)
    delete: list[Pod] = field(default_factory=list)
    counts: Counts = field(default_factory=Counts)
    terminating: int = 0
    recheck_after: float | None = None


def _age(pod: Pod) -> tuple[object, str]:
    return (pod.metadata.creation_timestamp, pod.metadata.name)


def rolling_limits(ds: DaemonSet, desired: int) -> tuple[int, int]:
    """(maxSurge, maxUnavailable) resolved against `desired` nodes."""
    rolling = ds.spec.update_strategy.rolling_update
    if ds.spec.update_strategy.type != "RollingUpdate" or rolling is None:
        return 0, 1
    surge = scaled_value(rolling.max_surge, desired, round_up=True)
    unavailable = scaled_value(rolling.max_unavailable, desired, round_up=True)
    if surge == 0 and unavailable == 0:
        unavailable = 1  # validation forbids both 0; never stall on old objects
    return surge, unavailable


_FINISHED = ("Failed", "Succeeded")


def _count_readiness(plan: Plan, pod: Pod, min_ready: int | None, now: datetime) -> None:
    """Count a node's (oldest) pod as ready and available, and note when a
    ready pod will have been ready for minReadySeconds."""
    condition = ready_condition(pod)
    if condition is None or condition.status != "True":
        return
    plan.counts.ready += 1
    since = condition.last_transition_time
    if not min_ready:
        plan.counts.available += 1
        return
    if since is None:
        return
    wait = (since + timedelta(seconds=min_ready) - now).total_seconds()
    if wait < 0:
        plan.counts.available += 1
    elif plan.recheck_after is None or wait < plan.recheck_after:
        plan.recheck_after = wait


def plan_sync(
    ds: DaemonSet,
    placements: Mapping[str, Placement],
    pods_by_node: Mapping[str, Sequence[Pod]],
    update_hash: str,
    now: datetime,
) -> Plan:
    """What to create and delete on each node, and the status counts."""
    plan = Plan()
    counts = plan.counts
    min_ready = ds.spec.min_ready_seconds
    desired = sum(1 for p in placements.values() if p.should_run)
    max_surge, max_unavailable = rolling_limits(ds, desired)
    rolling = ds.spec.update_strategy.type == "RollingUpdate"
    surge = rolling and max_surge > 0
    # Per desired node: (updated pod, old pod) among the running ones.
    running: dict[str, tuple[Pod | None, Pod | None]] = {}
    for node, place in placements.items():
        pods = pods_by_node.get(node)
        if not pods:
            if place.should_run:
                counts.desired += 1
                plan.create_on.append(node)
            continue
        if len(pods) > 1:
            pods = sorted(pods, key=_age)
        elif (
            place.should_run
            and pods[0].metadata.deletion_timestamp is None
            and pods[0].status.phase not in _FINISHED
            and pods[0].metadata.labels.get(REVISION_LABEL) == update_hash
        ):
            # The common case, kept short: one live pod at the update revision.
            pod = pods[0]
            counts.desired += 1
            counts.current += 1
            counts.updated += 1
            _count_readiness(plan, pod, min_ready, now)
            running[node] = (pod, None)
            continue
        if not place.should_continue_running:
            plan.delete.extend(p for p in pods if p.metadata.deletion_timestamp is None)
            if pods:
                counts.misscheduled += 1
            continue
        live: list[Pod] = []
        for pod in pods:
            if pod.metadata.deletion_timestamp is not None:
                continue
            if pod.status.phase in ("Failed", "Succeeded"):
                plan.delete.append(pod)
                continue
            live.append(pod)
        if not place.should_run:
            if pods:
                counts.misscheduled += 1
            continue
        counts.desired += 1
        if pods:
            counts.current += 1
            oldest = pods[0]
            _count_readiness(plan, oldest, min_ready, now)
            if oldest.metadata.labels.get(REVISION_LABEL) == update_hash:
                counts.updated += 1
        if not live:
            if not any(p.metadata.deletion_timestamp is not None for p in pods) or surge:
                plan.create_on.append(node)
            else:
                plan.terminating += 1  # a replacement waits for the old pod to go
            continue
        new = [p for p in live if p.metadata.labels.get(REVISION_LABEL) == update_hash]
        old = [p for p in live if p.metadata.labels.get(REVISION_LABEL) != update_hash]
        keep_new = new[0] if new else None
        keep_old = old[0] if old else None
        if not surge and keep_new is not None and keep_old is not None:
            # Without surge a node runs one pod: keep the oldest.
            if _age(keep_new) < _age(keep_old):
                keep_old = None
            else:
                keep_new = None
        extra = [p for p in live if p is not keep_new and p is not keep_old]
        plan.delete.extend(extra)
        running[node] = (keep_new, keep_old)
    if rolling:
        _roll(plan, running, surge, max_surge, max_unavailable, min_ready, now)
    return plan


def _roll(
    plan: Plan,
    running: Mapping[str, tuple[Pod | None, Pod | None]],
    surge: bool,
    max_surge: int,
    max_unavailable: int,
    min_ready: int | None,
    now: datetime,
) -> None:
    def available(pod: Pod) -> bool:
        if is_pod_available(pod, min_ready, now):
            return True
        # Ready but not yet for minReadySeconds: look again when it will be.
        wait = seconds_until_available(pod, min_ready, now)
        if wait is not None:
            plan.recheck_after = (
                wait if plan.recheck_after is None else min(plan.recheck_after, wait)
            )
        return False

    if not surge:
        if all(old is None for _, old in running.values()):
            return  # nothing to replace: spare the availability checks
        unavailable = len(plan.create_on) + plan.terminating
        candidates: list[Pod] = []
        for new, old in running.values():
            if old is None:
                if new is not None and not available(new):
                    unavailable += 1
            elif not available(old):
                plan.delete.append(old)  # not serving anyway: replace at once
                unavailable += 1
            else:
                candidates.append(old)
        plan.delete.extend(candidates[: max(0, max_unavailable - unavailable)])
        return
    surging = 0
    want_surge: list[str] = []
    for node, (new, old) in running.items():
        if old is None:
            continue
        if new is None:
            if not available(old):
                plan.create_on.append(node)  # replace an unavailable pod without waiting
            else:
                want_surge.append(node)
        elif available(new):
            plan.delete.append(old)
        else:
            surging += 1
    plan.create_on.extend(want_surge[: max(0, max_surge - surging)])
