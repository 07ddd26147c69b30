"""The pods/eviction subresource (Kubernetes' pkg/registry/core/pod/storage/
eviction.go): delete a pod only if its PodDisruptionBudget allows it.

`evict(store, name, namespace)`:

* a pod that is Pending, Succeeded, Failed or already terminating is deleted
  without consulting any budget;
* no budget selects the pod: it is deleted;
* more than one does: 500 InternalError ("This pod has more than one
  PodDisruptionBudget, which the eviction subresource does not support.");
* one does: the budget must describe its current generation (else 429), and
  - a pod that is not Ready may go without using the budget when the budget
    says `unhealthyPodEvictionPolicy: AlwaysAllow`, or (the default,
    IfHealthyBudget) when the budget is met (currentHealthy >=
    desiredHealthy); otherwise 429;
  - a Ready pod needs `disruptionsAllowed` > 0, else 429 TooManyRequests
    "Cannot evict pod as it would violate the pod's disruption budget.";
    the budget's status is then written with one disruption fewer and the
    pod recorded in `disruptedPods` (so a second eviction before the
    disruption controller recounts cannot take the budget below its
    minimum), and only then is the pod deleted.

A pod about to be deleted gets the `DisruptionTarget` condition (reason
EvictionByEvictionAPI) first, as Kubernetes writes it. Deletion is graceful
(the pod's grace period, or `grace_period_seconds`).

Neighbours: `engine.store` (the writes), `engine.client` (`Client.evict`),
the disruption controller (which recomputes the budgets' status).
"""

from __future__ import annotations

from typing import Final

from engine.api.base import Resource
from engine.api.core import Pod, PodCondition
from engine.api.policy import PodDisruptionBudget
from engine.errors import Forbidden, InternalError, TooManyRequests
from engine.selectors import from_label_selector
from engine.store import Store

__all__ = ["DISRUPTION_TARGET", "VIOLATION_MESSAGE", "evict"]

VIOLATION_MESSAGE: Final = "Cannot evict pod as it would violate the pod's disruption budget."
DISRUPTION_TARGET: Final = "DisruptionTarget"
MAX_DISRUPTED_PODS: Final = 2000
"""Kubernetes refuses evictions while a budget tracks this many disrupted pods."""


def evict(
    store: Store, name: str, namespace: str | None, *, grace_period_seconds: int | None = None
) -> Resource | None:
    """Evict a pod (see the module docstring); returns what `delete` returns."""
    pod = store.get(Pod, name, namespace)
    ns = pod.metadata.namespace
    if pod.metadata.deletion_timestamp is not None or pod.status.phase in (
        "Pending",
        "Succeeded",
        "Failed",
    ):
        return _delete(store, pod, grace_period_seconds)
    budgets = [
        b
        for b in store.list(PodDisruptionBudget, ns).items
        if b.spec.selector is not None
        and from_label_selector(b.spec.selector).matches(pod.metadata.labels)
    ]
    if len(budgets) > 1:
        raise InternalError(
            "This pod has more than one PodDisruptionBudget, "
            "which the eviction subresource does not support."
        )
    if budgets:
        _use_budget(store, budgets[0], pod)
    return _delete(store, pod, grace_period_seconds)


def _is_ready(pod: Pod) -> bool:
    return any(c.type == "Ready" and c.status == "True" for c in pod.status.conditions)


def _use_budget(store: Store, pdb: PodDisruptionBudget, pod: Pod) -> None:
    status = pdb.status
    if status.observed_generation < pdb.metadata.generation:
        raise TooManyRequests(
            f"{VIOLATION_MESSAGE} The disruption budget {pdb.metadata.name} "
            "is still being processed by the server."
        )
    if not _is_ready(pod):
        policy = pdb.spec.unhealthy_pod_eviction_policy or "IfHealthyBudget"
        if policy == "AlwaysAllow" or status.current_healthy >= status.desired_healthy > 0:
            return
    if status.disruptions_allowed < 0:
        raise Forbidden("pdb disruptions allowed is negative")
    if len(status.disrupted_pods) >= MAX_DISRUPTED_PODS:
        raise Forbidden(
            "DisruptedPods map too big - too many evictions not confirmed by PDB controller"
        )
    if status.disruptions_allowed == 0:
        raise TooManyRequests(
            f"{VIOLATION_MESSAGE} The disruption budget {pdb.metadata.name} needs "
            f"{status.desired_healthy} healthy pods and has {status.current_healthy} currently"
        )
    disrupted = {**status.disrupted_pods, pod.metadata.name: store.clock.now()}
    new_status = status.model_copy(
        update={"disruptions_allowed": status.disruptions_allowed - 1, "disrupted_pods": disrupted}
    )
    # update_status checks the resourceVersion: a concurrent change is a Conflict.
    store.update_status(pdb.model_copy(update={"status": new_status}))


def _delete(store: Store, pod: Pod, grace_period_seconds: int | None) -> Resource | None:
    meta = pod.metadata
    if meta.deletion_timestamp is None and pod.status.phase not in ("Succeeded", "Failed"):
        condition = PodCondition(
            type=DISRUPTION_TARGET,
            status="True",
            reason="EvictionByEvictionAPI",
            message="Eviction API: evicting",
            last_transition_time=store.clock.now(),
        )
        conditions = [c for c in pod.status.conditions if c.type != DISRUPTION_TARGET]
        status = pod.status.model_copy(update={"conditions": [*conditions, condition]})
        pod = store.update_status(pod.model_copy(update={"status": status}))
    return store.delete(
        Pod,
        meta.name,
        meta.namespace,
        grace_period_seconds=grace_period_seconds,
        uid=meta.uid,
    )
