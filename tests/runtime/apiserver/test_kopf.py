"""kopf runs unchanged against a served cluster, through the pytest plugin's
`kubeconfig` fixture: create, update and delete handlers, kopf's finalizer and
its status patches. kopf runs with `--standalone` (no peering objects)."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import kubernetes
from kopf.testing import KopfRunner

from tests.runtime.apiserver.test_http_patch import CRD

OPERATOR = Path(__file__).parents[3] / "examples" / "kopf_operator.py"
WEBSITE_CRD: dict[str, Any] = {
    **CRD,
    "metadata": {"name": "websites.example.com"},
    "spec": {
        **CRD["spec"],
        "names": {"plural": "websites", "singular": "website", "kind": "Website"},
        "versions": [
            {
                "name": "v1",
                "served": True,
                "storage": True,
                "subresources": {"status": {}},
                "schema": {
                    "openAPIV3Schema": {
                        "type": "object",
                        "x-kubernetes-preserve-unknown-fields": True,
                    }
                },
            }
        ],
    },
}


def eventually(check: Callable[[], Any], timeout: float = 30.0) -> Any:
    """Poll `check` (a real client against a real-time cluster) until it is truthy."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            result = check()
        except kubernetes.client.ApiException as error:
            if error.status != 404:
                raise
            result = None
        if result:
            return result
        assert time.monotonic() < deadline, "the operator did not act in time"
        time.sleep(0.1)


def test_a_kopf_operator_manages_its_custom_resource(kubeconfig: Path) -> None:
    load: Any = kubernetes.config.load_kube_config
    load(config_file=str(kubeconfig))
    extensions: Any = kubernetes.client.ApiextensionsV1Api()
    extensions.create_custom_resource_definition(WEBSITE_CRD)
    custom: Any = kubernetes.client.CustomObjectsApi()
    apps: Any = kubernetes.client.AppsV1Api()
    core: Any = kubernetes.client.CoreV1Api()
    args = ["run", "--standalone", "--namespace", "default", str(OPERATOR)]
    with KopfRunner(args, timeout=60) as runner:
        custom.create_namespaced_custom_object(
            "example.com",
            "v1",
            "default",
            "websites",
            {
                "apiVersion": "example.com/v1",
                "kind": "Website",
                "metadata": {"name": "blog"},
                "spec": {"replicas": 2},
            },
        )
        made = eventually(lambda: apps.read_namespaced_deployment("blog-web", "default"))
        assert made.spec.replicas == 2
        assert made.metadata.owner_references[0].kind == "Website"

        def status() -> Any:
            obj = custom.get_namespaced_custom_object(
                "example.com", "v1", "default", "websites", "blog"
            )
            return obj.get("status", {}).get("create")

        assert eventually(status) == {"deployment": "blog-web"}
        website = custom.get_namespaced_custom_object(
            "example.com", "v1", "default", "websites", "blog"
        )
        assert any("kopf" in f for f in website["metadata"]["finalizers"])
        custom.patch_namespaced_custom_object(
            "example.com", "v1", "default", "websites", "blog", {"spec": {"replicas": 4}}
        )
        eventually(
            lambda: apps.read_namespaced_deployment("blog-web", "default").spec.replicas == 4
        )
        custom.delete_namespaced_custom_object("example.com", "v1", "default", "websites", "blog")
        eventually(lambda: core.read_namespaced_config_map("blog-cleaned-up", "default"))

        def gone() -> bool:
            try:
                custom.get_namespaced_custom_object(
                    "example.com", "v1", "default", "websites", "blog"
                )
            except kubernetes.client.ApiException as error:
                return bool(error.status == 404)
            return False

        eventually(gone)
    assert runner.exit_code == 0, runner.output
    assert runner.exception is None
