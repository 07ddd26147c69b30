"""ResourceQuota admission: creates over quota are refused with Kubernetes'
messages, quota'd compute resources must be named, admitted objects are
charged to `status.used` at once, and scopes select the pods counted."""

from __future__ import annotations

from typing import Any

from engine.api import core
from engine.registry import REGISTRY
from engine.store import Store
from tests.engine.admission.support import refusal

QUOTA = REGISTRY.lookup("v1", "ResourceQuota").model


def resource_quota(name: str, hard: dict[str, str], **spec: Any) -> Any:
    return QUOTA.model_validate(
        {"metadata": {"name": name, "namespace": "default"}, "spec": {"hard": hard, **spec}}
    )


def pod(name: str, cpu: str | None = None, limit: str | None = None, **spec: Any) -> core.Pod:
    resources: dict[str, Any] = {}
    if cpu:
        resources["requests"] = {"cpu": cpu}
    if limit:
        resources["limits"] = {"cpu": limit}
    return core.Pod.model_validate(
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "containers": [{"name": "app", "image": "nginx", "resources": resources}],
                **spec,
            },
        }
    )


def used(store: Store, name: str) -> dict[str, str]:
    result: dict[str, str] = getattr(store.get(QUOTA, name, "default"), "status")["used"]  # noqa: B009
    return result


def test_a_create_over_quota_is_refused_with_kubernetes_message(store: Store) -> None:
    store.create(resource_quota("compute", {"cpu": "2", "pods": "10"}))
    store.create(pod("a", cpu="1"))
    store.create(pod("b", cpu="1"))
    assert used(store, "compute") == {"cpu": "2", "pods": "2"}
    assert refusal(store, pod("c", cpu="1")) == (
        'pods "c" is forbidden: exceeded quota: compute, requested: cpu=1, used: cpu=2, '
        "limited: cpu=2"
    )
    assert store.try_get(core.Pod, "c", "default") is None
    assert used(store, "compute") == {"cpu": "2", "pods": "2"}


def test_every_exceeded_resource_is_named(store: Store) -> None:
    store.create(resource_quota("q", {"requests.cpu": "500m", "limits.cpu": "1", "pods": "5"}))
    assert refusal(store, pod("big", cpu="600m", limit="2")) == (
        'pods "big" is forbidden: exceeded quota: q, requested: limits.cpu=2,requests.cpu=600m, '
        "used: limits.cpu=0,requests.cpu=0, limited: limits.cpu=1,requests.cpu=500m"
    )


def test_quotad_compute_resources_must_be_specified(store: Store) -> None:
    store.create(resource_quota("q", {"requests.cpu": "4", "limits.cpu": "4"}))
    assert refusal(store, pod("bare", cpu="1")) == (
        'pods "bare" is forbidden: failed quota: q: must specify limits.cpu for: app'
    )
    store.create(pod("full", cpu="1", limit="1"))


def test_object_counts(store: Store) -> None:
    store.create(resource_quota("counts", {"configmaps": "1", "count/deployments.apps": "0"}))
    store.create(core.ConfigMap.model_validate({"metadata": {"name": "one"}}))
    assert refusal(store, core.ConfigMap.model_validate({"metadata": {"name": "two"}})) == (
        'configmaps "two" is forbidden: exceeded quota: counts, requested: configmaps=1, '
        "used: configmaps=1, limited: configmaps=1"
    )
    deployment = REGISTRY.lookup("apps/v1", "Deployment").model.model_validate(
        {
            "metadata": {"name": "web"},
            "spec": {
                "selector": {"matchLabels": {"app": "web"}},
                "template": {
                    "metadata": {"labels": {"app": "web"}},
                    "spec": {"containers": [{"name": "app", "image": "nginx"}]},
                },
            },
        }
    )
    assert "exceeded quota: counts, requested: count/deployments.apps=1" in refusal(
        store, deployment
    )


def test_usage_present_before_the_quota_is_counted(store: Store) -> None:
    store.create(pod("early", cpu="1"))
    store.create(resource_quota("compute", {"requests.cpu": "1500m"}))
    assert "used: requests.cpu=1," in refusal(store, pod("late", cpu="1"))


def test_scopes_select_the_pods_counted(store: Store) -> None:
    store.create(resource_quota("best-effort", {"pods": "1"}, scopes=["BestEffort"]))
    store.create(pod("free"))
    assert "exceeded quota: best-effort" in refusal(store, pod("free2"))
    store.create(pod("sized", cpu="100m"))  # NotBestEffort: not counted by this quota
    store.create(
        resource_quota(
            "high",
            {"pods": "0"},
            scopeSelector={
                "matchExpressions": [
                    {"scopeName": "PriorityClass", "operator": "In", "values": ["high"]}
                ]
            },
        )
    )
    store.create(pod("normal", cpu="100m"))
    priority = REGISTRY.lookup("scheduling.k8s.io/v1", "PriorityClass").model
    store.create(priority.model_validate({"metadata": {"name": "high"}, "value": 1000}))
    assert "exceeded quota: high" in refusal(
        store, pod("urgent", cpu="100m", priorityClassName="high")
    )


def test_finished_pods_are_not_charged(store: Store) -> None:
    store.create(resource_quota("q", {"pods": "1"}))
    done = pod("done").model_copy(update={"status": core.PodStatus(phase="Succeeded")})
    store.create(done)
    store.create(pod("running"))
    assert used(store, "q") == {"pods": "1"}
