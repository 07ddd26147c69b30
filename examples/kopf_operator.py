"""A small kopf operator (as an operator's author writes one) for the kopf
tests: a Website makes a Deployment, follows its replicas, reports in its
status, and a finalizer holds its deletion until the cleanup handler ran."""

from __future__ import annotations

from typing import Any

import kopf
import kubernetes

GROUP, VERSION, PLURAL = "example.com", "v1", "websites"


@kopf.on.startup()
def configure(settings: kopf.OperatorSettings, **_: Any) -> None:
    settings.posting.enabled = False  # keep the test's event stream quiet
    settings.watching.server_timeout = 30


def _deployment(name: str, replicas: int) -> dict[str, Any]:
    labels = {"website": name}
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": f"{name}-web", "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {
                "metadata": {"labels": labels},
                "spec": {"containers": [{"name": "web", "image": "nginx"}]},
            },
        },
    }


def _apps() -> Any:
    return kubernetes.client.AppsV1Api()


def _core() -> Any:
    return kubernetes.client.CoreV1Api()


@kopf.on.create(GROUP, VERSION, PLURAL)
def create(spec: Any, name: str, namespace: Any, body: Any, **_: Any) -> Any:
    document = _deployment(name, spec.get("replicas", 1))
    kopf.adopt(document, owner=body)
    _apps().create_namespaced_deployment(namespace, document)
    return {"deployment": document["metadata"]["name"]}


@kopf.on.update(GROUP, VERSION, PLURAL, field="spec.replicas")
def update(new: Any, name: str, namespace: Any, **_: Any) -> Any:
    _apps().patch_namespaced_deployment(f"{name}-web", namespace, {"spec": {"replicas": new}})
    return {"replicas": new}


@kopf.on.delete(GROUP, VERSION, PLURAL)
def delete(name: str, namespace: Any, **_: Any) -> Any:
    _core().create_namespaced_config_map(
        namespace,
        {"metadata": {"name": f"{name}-cleaned-up"}, "data": {"by": "finalizer"}},
    )
