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
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta

from controllers.common.pods import is_pod_available, ready_condition, seconds_until_available
from controllers.daemonset.placement import Placement
from controllers.daemonset.status import Counts
from engine.api import DaemonSet, Pod, scaled_value

__all__ = ["NodePlan", "Plan", "PlanMemo", "plan_node", "plan_sync", "rolling_limits"]

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


def _ready_since(pod: Pod) -> tuple[bool, datetime | None]:
    """Whether the pod is Ready, and since when."""
    condition = ready_condition(pod)
    if condition is None or condition.status != "True":
        return False, None
    return True, condition.last_transition_time


def _count_ready(plan: Plan, since: datetime | None, min_ready: int | None, now: datetime) -> None:
    """Count a node's (oldest) Ready pod as ready and, once Ready (since
    `since`) for minReadySeconds, available; note when it will be."""
    plan.counts.ready += 1
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


@dataclass(slots=True)
class PlanMemo:
    """The `NodePlan`s of a set's last sync, valid for one update revision
    and surge setting (`plan_sync` starts afresh when they change)."""

    update_hash: str = ""
    surge: bool = False
    nodes: dict[str, NodePlan] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class NodePlan:
    """One node's part of a plan: its counts, whether to create a pod on it,
    its pods to delete, and its running (updated, old) pods if it is desired.
    It depends only on the node's placement, its pods (immutable objects),
    the update revision and whether the set surges; so while those are the
    same objects a later sync reuses it (`plan_sync`'s memo) instead of
    looking at every pod of every node again."""

    place: Placement
    pods: tuple[Pod, ...]
    desired: int = 0
    current: int = 0
    misscheduled: int = 0
    updated: int = 0
    ready_pod: Pod | None = None  # the pod whose readiness counts for the node
    ready: bool = False  # ready_pod is Ready ...
    ready_since: datetime | None = None  # ... since then
    create: bool = False
    delete: tuple[Pod, ...] = ()
    terminating: bool = False
    running: tuple[Pod | None, Pod | None] | None = None


def plan_node(place: Placement, pods: Sequence[Pod], update_hash: str, surge: bool) -> NodePlan:
    """One node's `NodePlan` (see the module docstring for the rules), with
    the readiness of the pod that counts for it."""
    part = _plan_node(place, pods, update_hash, surge)
    if part.ready_pod is None:
        return part
    ready, since = _ready_since(part.ready_pod)
    return replace(part, ready=ready, ready_since=since)


def _plan_node(place: Placement, pods: Sequence[Pod], update_hash: str, surge: bool) -> NodePlan:
    given = tuple(pods)  # as passed in: what a later sync compares with
    if not pods:
        if place.should_run:
            return NodePlan(place, (), desired=1, create=True)
        return NodePlan(place, ())
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
        return NodePlan(
            place, given, desired=1, current=1, updated=1, ready_pod=pod, running=(pod, None)
        )
    held = given
    if not place.should_continue_running:
        return NodePlan(
            place,
            held,
            misscheduled=1,
            delete=tuple(p for p in pods if p.metadata.deletion_timestamp is None),
        )
    live: list[Pod] = []
    delete: list[Pod] = []
    for pod in pods:
        if pod.metadata.deletion_timestamp is not None:
            continue
        if pod.status.phase in _FINISHED:
            delete.append(pod)
            continue
        live.append(pod)
    if not place.should_run:
        return NodePlan(place, held, misscheduled=1, delete=tuple(delete))
    oldest = pods[0]
    updated = 1 if oldest.metadata.labels.get(REVISION_LABEL) == update_hash else 0
    base = {"desired": 1, "current": 1, "updated": updated, "ready_pod": oldest}
    if not live:
        if not any(p.metadata.deletion_timestamp is not None for p in pods) or surge:
            return NodePlan(place, held, create=True, delete=tuple(delete), **base)  # type: ignore[arg-type]
        # A replacement waits for the old pod to go.
        return NodePlan(place, held, terminating=True, delete=tuple(delete), **base)  # type: ignore[arg-type]
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
    delete.extend(p for p in live if p is not keep_new and p is not keep_old)
    return NodePlan(
        place,
        held,
        delete=tuple(delete),
        running=(keep_new, keep_old),
        **base,  # type: ignore[arg-type]
    )


def plan_sync(
    ds: DaemonSet,
    placements: Mapping[str, Placement],
    pods_by_node: Mapping[str, Sequence[Pod]],
    update_hash: str,
    now: datetime,
    memo: PlanMemo | None = None,
) -> Plan:
    """What to create and delete on each node, and the status counts. `memo`
    (per set, kept by the caller between syncs with the same update revision
    and surge setting) holds each node's `NodePlan` for reuse."""
    plan = Plan()
    counts = plan.counts
    min_ready = ds.spec.min_ready_seconds
    desired = sum(1 for p in placements.values() if p.should_run)
    max_surge, max_unavailable = rolling_limits(ds, desired)
    rolling = ds.spec.update_strategy.type == "RollingUpdate"
    surge = rolling and max_surge > 0
    # Per desired node: (updated pod, old pod) among the running ones.
    running: dict[str, tuple[Pod | None, Pod | None]] = {}
    parts: dict[str, NodePlan] | None = None
    if memo is not None:
        if memo.update_hash != update_hash or memo.surge != surge:
            memo.update_hash, memo.surge, memo.nodes = update_hash, surge, {}
        parts = memo.nodes
    create_on = plan.create_on
    delete = plan.delete
    no_pods: Sequence[Pod] = ()
    for node, place in placements.items():
        pods = pods_by_node.get(node, no_pods)
        part = parts.get(node) if parts is not None else None
        if (
            part is None
            or part.place is not place
            or len(part.pods) != len(pods)
            or any(a is not b for a, b in zip(part.pods, pods, strict=True))
        ):
            part = plan_node(place, pods, update_hash, surge)
            if parts is not None:
                parts[node] = part
        if part.desired:
            counts.desired += 1
            counts.current += part.current
            counts.updated += part.updated
            if part.ready:
                _count_ready(plan, part.ready_since, min_ready, now)
        counts.misscheduled += part.misscheduled
        if part.create:
            create_on.append(node)
        if part.delete:
            delete.extend(part.delete)
        if part.terminating:
            plan.terminating += 1
        if part.running is not None:
            running[node] = part.running
    if parts is not None and len(parts) > len(placements):
        for gone in [n for n in parts if n not in placements]:
            del parts[gone]
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
