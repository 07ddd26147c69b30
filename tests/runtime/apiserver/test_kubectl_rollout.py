"""kubectl's rollout undo and restart, and api-resources, against a served
cluster (skipped where kubectl is not installed)."""

from __future__ import annotations

from pathlib import Path

from tests.runtime.apiserver.test_kubectl import deployment, kubectl, pytestmark

__all__ = ["pytestmark"]

WEB = """
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: "nginx:1.26"}]
"""


def _image(kubeconfig: Path) -> str:
    image: str = deployment(kubeconfig, "web")["spec"]["template"]["spec"]["containers"][0]["image"]
    return image


def test_rollout_undo_and_restart(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "apply", "-f", "-", stdin=WEB)
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    kubectl(kubeconfig, "set", "image", "deploy/web", "app=nginx:1.27")
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    assert _image(kubeconfig) == "nginx:1.27"

    assert "rolled back" in kubectl(kubeconfig, "rollout", "undo", "deploy/web")
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    assert _image(kubeconfig) == "nginx:1.26"
    assert (
        deployment(kubeconfig, "web")["metadata"]["annotations"][
            "deployment.kubernetes.io/revision"
        ]
        == "3"
    )

    assert "restarted" in kubectl(kubeconfig, "rollout", "restart", "deploy/web")
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    template = deployment(kubeconfig, "web")["spec"]["template"]
    assert "kubectl.kubernetes.io/restartedAt" in template["metadata"]["annotations"]
    history = kubectl(kubeconfig, "rollout", "history", "deploy/web")
    assert [line.split()[0] for line in history.splitlines()[2:] if line.strip()] == [
        "2",
        "3",
        "4",
    ]


def test_api_resources_lists_every_served_kind(kubeconfig: Path) -> None:
    table = kubectl(kubeconfig, "api-resources", "--no-headers")
    rows = [tuple(line.split()) for line in table.splitlines() if line.strip()]
    assert ("deployments", "deploy", "apps/v1", "true", "Deployment") in rows
    assert ("nodes", "no", "v1", "false", "Node") in rows
    assert ("nodes", "metrics.k8s.io/v1beta1", "false", "NodeMetrics") in rows
    names = {row[0] for row in rows}
    assert {"customresourcedefinitions", "horizontalpodautoscalers", "leases"} <= names
    wide = kubectl(kubeconfig, "api-resources", "--api-group=apps", "-o", "name")
    assert "deployments.apps" in wide.split()
