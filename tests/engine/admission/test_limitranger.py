"""LimitRanger admission: a namespace's LimitRanges default container
resources and bound containers, pods and claims, with Kubernetes' messages."""

from __future__ import annotations

from typing import Any

from engine.admission.limitranger import ANNOTATION
from engine.api import core
from engine.quantity import Quantity
from engine.registry import REGISTRY
from engine.store import Store
from tests.engine.admission.support import refusal

LIMIT_RANGE = REGISTRY.lookup("v1", "LimitRange").model


def limit_range(name: str, *limits: dict[str, Any], namespace: str = "default") -> Any:
    return LIMIT_RANGE.model_validate(
        {"metadata": {"name": name, "namespace": namespace}, "spec": {"limits": list(limits)}}
    )


def pod(name: str, *containers: dict[str, Any], namespace: str = "default") -> core.Pod:
    listed = list(containers) or [{"name": "app", "image": "nginx"}]
    return core.Pod.model_validate(
        {"metadata": {"name": name, "namespace": namespace}, "spec": {"containers": listed}}
    )


def container(name: str = "app", **resources: dict[str, str]) -> dict[str, Any]:
    return {"name": name, "image": "nginx", "resources": resources}


def claim(name: str, storage: str) -> core.PersistentVolumeClaim:
    return core.PersistentVolumeClaim.model_validate(
        {
            "metadata": {"name": name, "namespace": "default"},
            "spec": {
                "accessModes": ["ReadWriteOnce"],
                "resources": {"requests": {"storage": storage}},
            },
        }
    )


def test_containers_get_the_default_limits_and_requests(store: Store) -> None:
    store.create(
        limit_range(
            "defaults",
            {
                "type": "Container",
                "default": {"cpu": "500m", "memory": "512Mi"},
                "defaultRequest": {"cpu": "250m"},
            },
        )
    )
    created = store.create(pod("web", container(requests={"memory": "100Mi"})))
    res = created.spec.containers[0].resources
    assert res.limits == {"cpu": Quantity("500m"), "memory": Quantity("512Mi")}
    assert res.requests == {"cpu": Quantity("250m"), "memory": Quantity("100Mi")}
    assert created.metadata.annotations[ANNOTATION] == (
        "LimitRanger plugin set: cpu request for container app; cpu, memory limit for container app"
    )


def test_a_default_limit_defaults_the_request_too(store: Store) -> None:
    store.create(limit_range("defaults", {"type": "Container", "default": {"memory": "256Mi"}}))
    res = store.create(pod("web")).spec.containers[0].resources
    assert res.requests == {"memory": Quantity("256Mi")} == res.limits


def test_max_defaults_the_limit_and_min_the_request(store: Store) -> None:
    store.create(
        limit_range("bounds", {"type": "Container", "max": {"cpu": "1"}, "min": {"memory": "64Mi"}})
    )
    res = store.create(pod("web")).spec.containers[0].resources
    assert res.limits == {"cpu": Quantity("1")}
    assert res.requests == {"cpu": Quantity("1"), "memory": Quantity("64Mi")}


def test_container_minimum_and_maximum(store: Store) -> None:
    store.create(
        limit_range("bounds", {"type": "Container", "min": {"cpu": "100m"}, "max": {"cpu": "2"}})
    )
    assert refusal(store, pod("low", container(requests={"cpu": "50m"}))) == (
        'pods "low" is forbidden: minimum cpu usage per Container is 100m, but request is 50m'
    )
    assert refusal(store, pod("high", container(limits={"cpu": "3"}))) == (
        'pods "high" is forbidden: maximum cpu usage per Container is 2, but limit is 3'
    )
    fine = store.create(pod("fine", container(requests={"cpu": "200m"}, limits={"cpu": "1"})))
    assert fine.spec.containers[0].resources.requests == {"cpu": Quantity("200m")}


def test_several_violations_are_listed_together(store: Store) -> None:
    store.create(
        limit_range(
            "bounds",
            {"type": "Container", "min": {"cpu": "100m", "memory": "1Gi"}, "default": {}},
        )
    )
    message = refusal(store, pod("web", container(requests={"cpu": "50m", "memory": "1Mi"})))
    assert message == (
        'pods "web" is forbidden: [minimum cpu usage per Container is 100m, but request is 50m, '
        "minimum memory usage per Container is 1Gi, but request is 1Mi]"
    )


def test_limit_to_request_ratio(store: Store) -> None:
    store.create(limit_range("ratio", {"type": "Container", "maxLimitRequestRatio": {"cpu": "2"}}))
    assert refusal(
        store, pod("web", container(requests={"cpu": "100m"}, limits={"cpu": "500m"}))
    ) == (
        'pods "web" is forbidden: cpu max limit to request ratio per Container is 2, '
        "but provided ratio is 5.000000"
    )
    assert "but no limit is specified or limit is 0" in refusal(
        store, pod("nolimit", container(requests={"cpu": "100m"}))
    )
    store.create(pod("fine", container(requests={"cpu": "100m"}, limits={"cpu": "200m"})))


def test_pod_totals_are_bounded(store: Store) -> None:
    store.create(limit_range("pods", {"type": "Pod", "max": {"memory": "1Gi"}}))
    two = pod(
        "web",
        container("a", limits={"memory": "600Mi"}),
        container("b", limits={"memory": "600Mi"}),
    )
    assert refusal(store, two) == (
        'pods "web" is forbidden: maximum memory usage per Pod is 1Gi, but limit is 1200Mi'
    )
    store.create(pod("one", container("a", limits={"memory": "600Mi"})))


def test_claims_are_bounded_by_their_requests(store: Store) -> None:
    store.create(
        limit_range(
            "storage",
            {
                "type": "PersistentVolumeClaim",
                "min": {"storage": "1Gi"},
                "max": {"storage": "10Gi"},
            },
        )
    )
    assert refusal(store, claim("small", "500Mi")) == (
        'persistentvolumeclaims "small" is forbidden: '
        "minimum storage usage per PersistentVolumeClaim is 1Gi, but request is 500Mi"
    )
    assert refusal(store, claim("big", "20Gi")) == (
        'persistentvolumeclaims "big" is forbidden: '
        "maximum storage usage per PersistentVolumeClaim is 10Gi, but request is 20Gi"
    )
    store.create(claim("fine", "5Gi"))


def test_other_namespaces_are_not_limited(store: Store) -> None:
    store.create(core.Namespace.model_validate({"metadata": {"name": "team"}}))
    store.create(
        limit_range("bounds", {"type": "Container", "min": {"cpu": "1"}}, namespace="team")
    )
    created = store.create(pod("web", container(requests={"cpu": "10m"})))
    assert ANNOTATION not in created.metadata.annotations
    assert "minimum cpu usage" in refusal(
        store, pod("web", container(requests={"cpu": "10m"}), namespace="team")
    )
