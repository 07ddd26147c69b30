"""A PodDisruptionBudget's status from its pods (Kubernetes' disruption
controller `trySync`, `getExpectedPodCount`, `countHealthyPods`,
`buildDisruptedPodMap`), as pure functions.

* `expectedPods` and `desiredHealthy`: with an integer `minAvailable`, the
  matching pods and that number; with a percentage `minAvailable` or any
  `maxUnavailable`, the summed scale of the pods' controllers (a
  ReplicaSet's Deployment, a ReplicationController, a StatefulSet, a
  ReplicaSet without Deployment), and the percentage of it (rounded up) or
  that scale less `maxUnavailable` (rounded up). A pod without a known
  controller then makes the sync fail (`SyncFailed`, no disruption allowed),
  as in Kubernetes.
* `currentHealthy`: Ready pods that are not terminating and not in
  `disruptedPods`;
* `disruptedPods`: evictions the API granted whose pod has not been marked
  for deletion yet; an entry older than two minutes is dropped;
* `disruptionsAllowed`: currentHealthy - desiredHealthy, at least 0 (0 when
  no pod is expected); the `DisruptionAllowed` condition says whether it is
  positive (SufficientPods / InsufficientPods).

A budget with no selector selects no pods (policy/v1); an empty selector
selects every pod of its namespace.

Neighbours: `controllers.disruption.controller`; `engine.eviction` spends
the budget.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import datetime, timedelta
from typing import Final

from controllers.common.pods import is_pod_ready
from engine.api import Condition, Pod, PodDisruptionBudget, PodDisruptionBudgetStatus
from engine.api.core import IntOrString, is_percent, scaled_value

__all__ = [
    "DELETION_TIMEOUT",
    "NoController",
    "ScaleOf",
    "compute_status",
    "failed_status",
]

DELETION_TIMEOUT: Final = timedelta(minutes=2)
"""How long an eviction may go unconfirmed (no deletionTimestamp) before the
pod counts as healthy again (Kubernetes' DeletionTimeout)."""

ScaleOf = Callable[[Pod], "tuple[str, int] | None"]
"""For a pod: (its controller's uid, the controller's scale), or None."""


class NoController(Exception):
    """A pod whose controller has no scale the budget can use."""


def _needs_scale(value: IntOrString | None, *, is_min: bool) -> bool:
    return value is not None and (not is_min or is_percent(value))


def compute_status(
    pdb: PodDisruptionBudget, pods: Sequence[Pod], scale_of: ScaleOf, now: datetime
) -> tuple[PodDisruptionBudgetStatus, float | None]:
    """The status, and seconds until a `disruptedPods` entry expires (or None).
    Raises NoController when a controller's scale is needed and missing."""
    spec = pdb.spec
    if spec.max_unavailable is not None or _needs_scale(spec.min_available, is_min=True):
        scales: dict[str, int] = {}
        for pod in pods:
            found = scale_of(pod)
            if found is None:
                raise NoController(f'found no controllers for pod "{pod.metadata.name}"')
            scales[found[0]] = found[1]
        expected = sum(scales.values())
        if spec.max_unavailable is not None:
            unavailable = scaled_value(spec.max_unavailable, expected, round_up=True)
            desired = max(0, expected - unavailable)
        else:
            assert spec.min_available is not None
            desired = scaled_value(spec.min_available, expected, round_up=True)
    else:
        expected = len(pods)
        min_available = spec.min_available
        desired = min_available if isinstance(min_available, int) else 0
    disrupted, recheck = _disrupted(pdb, pods, now)
    healthy = sum(
        1
        for pod in pods
        if pod.metadata.deletion_timestamp is None
        and pod.metadata.name not in disrupted
        and is_pod_ready(pod)
    )
    allowed = healthy - desired
    if expected <= 0 or allowed <= 0:
        allowed = 0
    condition = Condition(
        type="DisruptionAllowed",
        status="True" if allowed > 0 else "False",
        reason="SufficientPods" if allowed > 0 else "InsufficientPods",
        message="",
        observed_generation=pdb.metadata.generation,
    )
    status = pdb.status.model_copy(
        update={
            "observed_generation": pdb.metadata.generation,
            "expected_pods": expected,
            "desired_healthy": desired,
            "current_healthy": healthy,
            "disruptions_allowed": allowed,
            "disrupted_pods": disrupted,
            "conditions": _with_condition(pdb, condition, now),
        }
    )
    return status, recheck


def failed_status(
    pdb: PodDisruptionBudget, message: str, now: datetime
) -> PodDisruptionBudgetStatus:
    """Kubernetes' failSafe: no disruption allowed, condition SyncFailed."""
    condition = Condition(
        type="DisruptionAllowed",
        status="False",
        reason="SyncFailed",
        message=message,
        observed_generation=pdb.metadata.generation,
    )
    return pdb.status.model_copy(
        update={
            "observed_generation": pdb.metadata.generation,
            "disruptions_allowed": 0,
            "conditions": _with_condition(pdb, condition, now),
        }
    )


def _with_condition(
    pdb: PodDisruptionBudget, condition: Condition, now: datetime
) -> list[Condition]:
    old = pdb.status.condition(condition.type)
    if old is not None and (old.status, old.reason, old.message) == (
        condition.status,
        condition.reason,
        condition.message,
    ):
        condition = condition.model_copy(update={"last_transition_time": old.last_transition_time})
    else:
        condition = condition.model_copy(update={"last_transition_time": now})
    return [*(c for c in pdb.status.conditions if c.type != condition.type), condition]


def _disrupted(
    pdb: PodDisruptionBudget, pods: Sequence[Pod], now: datetime
) -> tuple[dict[str, datetime], float | None]:
    entries = pdb.status.disrupted_pods
    if not entries:
        return {}, None
    by_name = {p.metadata.name: p for p in pods}
    kept: dict[str, datetime] = {}
    recheck: float | None = None
    for name, when in entries.items():
        pod = by_name.get(name)
        if pod is None or pod.metadata.deletion_timestamp is not None:
            continue
        expires = when + DELETION_TIMEOUT
        if expires <= now:
            continue
        kept[name] = when
        wait = (expires - now).total_seconds()
        recheck = wait if recheck is None else min(recheck, wait)
    return kept, recheck
