"""A pod's effective requests (Kubernetes' PodRequests), shared by the
scheduler and the kubelet."""

from __future__ import annotations

from typing import Any

from engine.api.core import Pod
from engine.podresources import pod_requests


def _spec(**spec: Any) -> Any:
    return Pod.model_validate(
        {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"}, "spec": spec}
    ).spec


def _container(name: str, **requests: str) -> dict[str, Any]:
    return {"name": name, "image": "app", "resources": {"requests": requests}}


def test_init_containers_count_as_a_running_maximum_beside_earlier_sidecars() -> None:
    sidecar = {**_container("log", cpu="100m"), "restartPolicy": "Always"}
    spec = _spec(
        initContainers=[sidecar, _container("migrate", cpu="1")],
        containers=[_container("app", cpu="300m", memory="64Mi")],
    )
    # max(app 300m + sidecar 100m, migrate 1000m + sidecar 100m)
    assert pod_requests(spec) == {"cpu": 1100, "memory": 64 * 1024 * 1024}


def test_pod_level_resources_replace_cpu_and_memory_only() -> None:
    spec = _spec(
        resources={"requests": {"cpu": "2", "memory": "1Gi"}},
        containers=[_container("app", cpu="300m", memory="64Mi", **{"example.com/gpu": "1"})],
    )
    assert pod_requests(spec) == {"cpu": 2000, "memory": 1024**3, "example.com/gpu": 1}


def test_the_nonzero_variant_fills_in_missing_cpu_and_memory_only() -> None:
    spec = _spec(containers=[_container("a"), _container("b", cpu="0")])
    assert pod_requests(spec, nonzero=True) == {"cpu": 100, "memory": 2 * 200 * 1024 * 1024}
    assert pod_requests(spec) == {"cpu": 0}
