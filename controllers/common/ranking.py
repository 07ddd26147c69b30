"""Which pods a controller deletes first when it has too many: Kubernetes'
`ActivePodsWithRanks` ordering, as used by the ReplicaSet controller.

A pod sorts earlier (is deleted sooner) when, comparing criteria in order:

1. it is unassigned and the other is assigned to a node;
2. its phase is earlier: Pending < Unknown < Running;
3. it is not ready and the other is;
4. its `controller.kubernetes.io/pod-deletion-cost` is lower;
5. its node holds more active pods of the same set (its "rank");
6. both ready: it has been ready for less time;
7. its containers restarted more (regular containers, then restartable init
   containers);
8. it is newer.

Steps 6 and 8 compare ages on Kubernetes' logarithmic scale
(LogarithmicScaleDown, on by default since 1.22): ages falling in the same
power-of-two bucket of nanoseconds count as equal and are ordered by uid, so
scale-down does not always pick the very newest of a batch created together.

`pods_to_delete` is the entry point; `rank_on_same_node` builds the ranks.

Neighbours: `controllers.common.pods` (readiness, deletion cost); the
replicaset controller calls `pods_to_delete`.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from functools import cmp_to_key
from typing import Final, NamedTuple

from controllers.common.pods import deletion_cost, is_pod_active, is_pod_ready, ready_since
from engine.api import Pod

__all__ = ["pods_to_delete", "rank_on_same_node", "sort_for_deletion"]

_PHASE_ORDINAL: Final = {"Pending": 0, "Unknown": 1, "Running": 2}
_MICROSECOND: Final = timedelta(microseconds=1)


class _Facts(NamedTuple):
    """Everything the comparison needs, computed once per pod."""

    unassigned: bool
    phase: int
    ready: bool
    cost: int
    rank: int
    ready_since: datetime | None
    restarts: tuple[int, int]
    created: datetime | None
    uid: str


def rank_on_same_node(pods: Sequence[Pod], related: Iterable[Pod]) -> list[int]:
    """For each pod, how many active pods of `related` share its node."""
    per_node: dict[str, int] = {}
    for pod in related:
        if is_pod_active(pod):
            node = pod.spec.node_name or ""
            per_node[node] = per_node.get(node, 0) + 1
    return [per_node.get(pod.spec.node_name or "", 0) for pod in pods]


def pods_to_delete(
    candidates: Sequence[Pod], related: Iterable[Pod], count: int, now: datetime
) -> list[Pod]:
    """The `count` pods of `candidates` to delete first. `related` are the pods
    of the whole set (this ReplicaSet and its siblings under the same owner)."""
    if count >= len(candidates):
        return list(candidates)
    return sort_for_deletion(candidates, rank_on_same_node(candidates, related), now)[:count]


def sort_for_deletion(pods: Sequence[Pod], ranks: Sequence[int], now: datetime) -> list[Pod]:
    """`pods` ordered delete-first, given each pod's rank (see module docstring)."""
    facts = [_facts(pod, rank) for pod, rank in zip(pods, ranks, strict=True)]

    def compare(i: int, j: int) -> int:
        return _compare(facts[i], facts[j], now)

    order = sorted(range(len(pods)), key=cmp_to_key(compare))
    return [pods[i] for i in order]


def _facts(pod: Pod, rank: int) -> _Facts:
    ready = is_pod_ready(pod)
    return _Facts(
        unassigned=not pod.spec.node_name,
        phase=_PHASE_ORDINAL.get(pod.status.phase or "", 0),
        ready=ready,
        cost=deletion_cost(pod),
        rank=rank,
        ready_since=ready_since(pod) if ready else None,
        restarts=_max_restarts(pod),
        created=pod.metadata.creation_timestamp,
        uid=pod.metadata.uid,
    )


def _max_restarts(pod: Pod) -> tuple[int, int]:
    """(most restarts of a regular container, of a restartable init container)."""
    regular = max((s.restart_count for s in pod.status.container_statuses), default=0)
    sidecars = {c.name for c in pod.spec.init_containers if c.restart_policy == "Always"}
    sidecar = max(
        (s.restart_count for s in pod.status.init_container_statuses if s.name in sidecars),
        default=0,
    )
    return (regular, sidecar)


def _compare(a: _Facts, b: _Facts, now: datetime) -> int:
    """Negative when `a` should be deleted before `b`."""
    if a.unassigned != b.unassigned:
        return -1 if a.unassigned else 1
    if a.phase != b.phase:
        return -1 if a.phase < b.phase else 1
    if a.ready != b.ready:
        return -1 if not a.ready else 1
    if a.cost != b.cost:
        return -1 if a.cost < b.cost else 1
    if a.rank != b.rank:
        return -1 if a.rank > b.rank else 1
    if a.ready and b.ready and a.ready_since != b.ready_since:
        return _compare_ages(a.ready_since, b.ready_since, a.uid, b.uid, now)
    if a.restarts != b.restarts:
        return -1 if a.restarts > b.restarts else 1
    if a.created != b.created:
        return _compare_ages(a.created, b.created, a.uid, b.uid, now)
    return 0


def _compare_ages(
    ta: datetime | None, tb: datetime | None, uid_a: str, uid_b: str, now: datetime
) -> int:
    """Younger first; ages in the same log2 bucket are equal and fall back to uid.
    A missing time counts as the youngest of all."""
    if ta is None or tb is None:
        return -1 if ta is None else 1
    diff = _log_bucket(now - ta) - _log_bucket(now - tb)
    if diff == 0:
        if uid_a == uid_b:
            return 0
        return -1 if uid_a < uid_b else 1
    return -1 if diff < 0 else 1


def _log_bucket(age: timedelta) -> int:
    nanoseconds = age / _MICROSECOND * 1000  # datetimes carry microseconds
    return int(math.log2(nanoseconds)) if nanoseconds > 0 else -1
