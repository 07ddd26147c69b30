"""kubectl's typed commands, which send Kubernetes protobuf bodies, against a
served cluster (skipped where kubectl is not installed): `create configmap`,
`create secret generic`, `create deployment`, `create service`, `create job`
and `drain` (evictions, and with `--disable-eviction` deletes whose
DeleteOptions are protobuf); and `expose` (JSON in kubectl 1.32), which
works with them."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from tests.runtime.apiserver.test_kubectl import kubectl, pytestmark

__all__ = ["pytestmark"]

PROTOBUF = "Content-Type: application/vnd.kubernetes.protobuf"


def get(kubeconfig: Path, *args: str) -> Any:
    return json.loads(kubectl(kubeconfig, "get", *args, "-o", "json"))


def eventually(check: Any, timeout: float = 30.0) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        result = check()
        if result or time.monotonic() > deadline:
            return result
        time.sleep(0.2)


def verbose(kubeconfig: Path, *args: str) -> str:
    """kubectl's request log (-v=8: headers of every request) of a command that succeeds."""
    import subprocess

    from tests.runtime.apiserver.test_kubectl import KUBECTL

    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "-v=8", *args],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return done.stderr


def test_create_configmap_and_secret_send_protobuf(kubeconfig: Path) -> None:
    log = verbose(kubeconfig, "create", "configmap", "x", "--from-literal=a=b")
    assert PROTOBUF in log  # the body really was protobuf
    assert get(kubeconfig, "configmap", "x")["data"] == {"a": "b"}
    kubectl(kubeconfig, "create", "secret", "generic", "s", "--from-literal=user=admin")
    secret = get(kubeconfig, "secret", "s")
    assert secret["type"] == "Opaque"
    assert secret["data"] == {"user": "YWRtaW4="}  # base64 of "admin", as sent in bytes


def test_create_deployment_rolls_out_and_expose_makes_its_service(kubeconfig: Path) -> None:
    out = kubectl(kubeconfig, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    assert "deployment.apps/web created" in out
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    web = get(kubeconfig, "deploy", "web")
    assert web["spec"]["replicas"] == 2
    assert web["status"]["readyReplicas"] == 2
    kubectl(kubeconfig, "expose", "deployment", "web", "--port=80", "--target-port=8080")
    service = get(kubeconfig, "service", "web")
    assert service["spec"]["selector"] == {"app": "web"}
    assert service["spec"]["ports"][0]["port"] == 80
    assert service["spec"]["ports"][0]["targetPort"] == 8080
    assert service["spec"]["clusterIP"]
    # create service is typed (protobuf): an IntOrString targetPort on the wire.
    log = verbose(kubeconfig, "create", "service", "clusterip", "other", "--tcp=5678:8080")
    assert PROTOBUF in log
    other = get(kubeconfig, "service", "other")["spec"]["ports"][0]
    assert (other["port"], other["targetPort"]) == (5678, 8080)


def test_create_deployment_with_zero_replicas_keeps_the_zero(kubeconfig: Path) -> None:
    # replicas is a pointer in Go: a zero on the wire is not "unset" (which defaults to 1).
    kubectl(kubeconfig, "create", "deployment", "idle", "--image=nginx", "--replicas=0")
    assert get(kubeconfig, "deploy", "idle")["spec"]["replicas"] == 0


def test_create_job_runs_to_completion(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "job", "once", "--image=busybox", "--", "echo", "hi")
    job = get(kubeconfig, "job", "once")
    assert job["spec"]["template"]["spec"]["containers"][0]["command"] == ["echo", "hi"]
    kubectl(kubeconfig, "wait", "--for=condition=Complete", "job/once", "--timeout=60s")


def _node_running(kubeconfig: Path, app: str) -> str:
    pods = get(kubeconfig, "pods", "-l", f"app={app}")["items"]
    return str(pods[0]["spec"]["nodeName"])


def _pods_on(kubeconfig: Path, node: str) -> list[str]:
    listed = get(kubeconfig, "pods", "--field-selector", f"spec.nodeName={node}")
    return [p["metadata"]["name"] for p in listed["items"] if p["status"].get("phase") == "Running"]


def test_drain_cordons_and_evicts_then_the_deployment_recovers(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "deployment", "web", "--image=nginx", "--replicas=3")
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    node = _node_running(kubeconfig, "web")
    log = verbose(kubeconfig, "drain", node, "--ignore-daemonsets")
    assert "/pods/" in log and "/eviction" in log  # through the eviction subresource
    assert get(kubeconfig, "node", node)["spec"]["unschedulable"] is True
    assert eventually(lambda: not _pods_on(kubeconfig, node))
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    pods = get(kubeconfig, "pods", "-l", "app=web")["items"]
    assert all(p["spec"]["nodeName"] != node for p in pods)


def test_drain_without_eviction_deletes_with_protobuf_delete_options(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "create", "deployment", "web", "--image=nginx", "--replicas=2")
    kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
    node = _node_running(kubeconfig, "web")
    log = verbose(kubeconfig, "drain", node, "--ignore-daemonsets", "--disable-eviction")
    deletes = [line for line in log.splitlines() if "DELETE https://" in line]
    assert deletes  # the pods were deleted directly, each with a DeleteOptions body
    assert PROTOBUF in log
    assert get(kubeconfig, "node", node)["spec"]["unschedulable"] is True
    assert eventually(lambda: not _pods_on(kubeconfig, node))
