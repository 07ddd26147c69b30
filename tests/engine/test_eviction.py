"""The pods/eviction subresource against the store alone: which pods skip the
budget, the 429 and 500 answers, the budget spent, the DisruptionTarget
condition."""

from __future__ import annotations

from typing import Any

import pytest

from engine.api import Pod, PodDisruptionBudget
from engine.errors import InternalError, TooManyRequests
from engine.eviction import evict
from engine.manifests import parse_object
from engine.store import Store


def _pod(store: Store, name: str, *, phase: str = "Running", ready: bool = True) -> Pod:
    status: dict[str, Any] = {"phase": phase}
    if phase == "Running":
        status["conditions"] = [{"type": "Ready", "status": "True" if ready else "False"}]
    obj = parse_object(
        {
            "apiVersion": "v1",
            "kind": "Pod",
            "metadata": {"name": name, "namespace": "default", "labels": {"app": "web"}},
            "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}]},
            "status": status,
        }
    )
    assert isinstance(obj, Pod)
    return store.create(obj)


def _budget(store: Store, name: str = "web", **status: Any) -> PodDisruptionBudget:
    obj = parse_object(
        {
            "apiVersion": "policy/v1",
            "kind": "PodDisruptionBudget",
            "metadata": {"name": name, "namespace": "default"},
            "spec": {"minAvailable": 1, "selector": {"matchLabels": {"app": "web"}}},
            "status": {"observedGeneration": 1, **status},
        }
    )
    assert isinstance(obj, PodDisruptionBudget)
    return store.create(obj)


def test_without_a_budget_the_pod_is_deleted_with_a_disruption_target() -> None:
    store = Store()
    _pod(store, "a")
    marked = evict(store, "a", "default")
    assert isinstance(marked, Pod) and marked.metadata.deletion_timestamp is not None
    condition = marked.status.condition("DisruptionTarget")
    assert condition is not None and condition.reason == "EvictionByEvictionAPI"


def test_a_budget_with_no_disruption_allowed_refuses_with_429() -> None:
    store = Store()
    _pod(store, "a")
    _budget(store, disruptionsAllowed=0, currentHealthy=1, desiredHealthy=1)
    with pytest.raises(TooManyRequests, match="would violate the pod's disruption budget"):
        evict(store, "a", "default")
    assert store.get(Pod, "a", "default").metadata.deletion_timestamp is None


def test_a_granted_eviction_spends_the_budget_before_deleting() -> None:
    store = Store()
    _pod(store, "a")
    _pod(store, "b")
    _budget(store, disruptionsAllowed=1, currentHealthy=2, desiredHealthy=1)
    evict(store, "a", "default")
    status = store.get(PodDisruptionBudget, "web", "default").status
    assert status.disruptions_allowed == 0 and list(status.disrupted_pods) == ["a"]
    with pytest.raises(TooManyRequests):
        evict(store, "b", "default")


def test_a_budget_not_yet_observed_refuses() -> None:
    store = Store()
    _pod(store, "a")
    _budget(store, observedGeneration=0, disruptionsAllowed=5)
    with pytest.raises(TooManyRequests, match="still being processed"):
        evict(store, "a", "default")


def test_two_budgets_for_one_pod_are_an_error() -> None:
    store = Store()
    _pod(store, "a")
    _budget(store, "one", disruptionsAllowed=1)
    _budget(store, "two", disruptionsAllowed=1)
    with pytest.raises(InternalError, match="more than one PodDisruptionBudget"):
        evict(store, "a", "default")


def test_pending_and_unhealthy_pods() -> None:
    store = Store()
    _pod(store, "pending", phase="Pending")
    _pod(store, "sick", ready=False)
    _budget(store, disruptionsAllowed=0, currentHealthy=0, desiredHealthy=1)
    evict(store, "pending", "default")  # a pending pod never counts against a budget
    with pytest.raises(TooManyRequests):  # IfHealthyBudget: the budget is not met
        evict(store, "sick", "default")
