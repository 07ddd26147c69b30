"""What a served cluster plugs into its API server, through the real kubectl
(skipped where kubectl is not installed): server-side tables, OpenAPI for
client-side validation and `explain`, ServiceAccount tokens and RBAC."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest

KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed here")

ROBOT = """
apiVersion: v1
kind: ServiceAccount
metadata: {name: robot, namespace: default}
"""
READ_ONLY = """
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: robot-view, namespace: default}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: view}
subjects: [{kind: ServiceAccount, name: robot, namespace: default}]
"""
TYPO = """
apiVersion: v1
kind: ConfigMap
metadata: {name: typo}
dta: {a: b}
"""


def kubectl(
    kubeconfig: Path, *args: str, stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    assert KUBECTL is not None
    return subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )


def test_kubectl_get_prints_the_servers_table(kubeconfig: Path) -> None:
    kubectl(kubeconfig, "run", "solo", "--image=nginx")
    header = kubectl(kubeconfig, "get", "pods").stdout.splitlines()[0].split()
    assert header == ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]


def test_kubectl_validates_and_explains_with_the_servers_openapi(kubeconfig: Path) -> None:
    refused = kubectl(kubeconfig, "apply", "-f", "-", stdin=TYPO)
    assert refused.returncode != 0
    # kubectl leaves strict validation to the server when its OpenAPI says it can.
    assert "dta: unknown field" in refused.stderr
    explained = kubectl(kubeconfig, "explain", "deployment.spec.replicas")
    assert explained.returncode == 0, explained.stderr
    assert "replicas" in explained.stdout.lower()


def test_service_account_tokens_are_authorized_by_rbac(
    kubeconfig: Path, kubeloop_served: Any
) -> None:
    assert kubectl(kubeconfig, "apply", "-f", "-", stdin=ROBOT).returncode == 0
    robot = json.loads(kubectl(kubeconfig, "get", "sa", "robot", "-o", "json").stdout)
    tokens = kubeloop_served.cluster.service_account_tokens
    token = tokens.issue("default", "robot", robot["metadata"]["uid"]).token
    denied = kubectl(kubeconfig, "--token", token, "get", "pods")
    assert denied.returncode != 0
    assert (
        'pods is forbidden: User "system:serviceaccount:default:robot" cannot list resource '
        '"pods" in API group "" in the namespace "default"'
    ) in denied.stderr
    assert kubectl(kubeconfig, "apply", "-f", "-", stdin=READ_ONLY).returncode == 0
    allowed = kubectl(kubeconfig, "--token", token, "get", "pods")
    assert allowed.returncode == 0, allowed.stderr
    cannot_write = kubectl(kubeconfig, "--token", token, "delete", "sa", "robot")
    assert cannot_write.returncode != 0 and "forbidden" in cannot_write.stderr
    forged = kubectl(kubeconfig, "--token", token[:-4] + "AAAA", "get", "pods")
    assert forged.returncode != 0 and "Unauthorized" in forged.stderr


def test_kubectl_top_reads_the_metrics_api(tmp_path: Path) -> None:
    from runtime.cluster import ClusterConfig
    from runtime.cluster.background import ServedCluster

    config = ClusterConfig(virtual_time=False, metric_resolution=1.0)
    with ServedCluster(config) as served:
        path = served.endpoint.write_kubeconfig(tmp_path / "kubeconfig")
        assert kubectl(path, "run", "web", "--image=nginx").returncode == 0
        deadline = time.monotonic() + 30
        while True:  # the pod runs, then the next metrics round reports it
            pods = kubectl(path, "top", "pods")
            if pods.returncode == 0 and "web" in pods.stdout:
                break
            assert time.monotonic() < deadline, pods.stderr
            time.sleep(0.5)
        assert pods.stdout.split()[:3] == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        nodes = kubectl(path, "top", "nodes")
        assert nodes.returncode == 0 and "node-0" in nodes.stdout
        group = json.loads(kubectl(path, "get", "--raw", "/apis/metrics.k8s.io/v1beta1").stdout)
        assert {r["name"]: r["verbs"] for r in group["resources"]} == {
            "nodes": ["get", "list"],
            "pods": ["get", "list"],
        }


def test_kubeloop_top_reads_a_running_cluster(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from runtime.cli import main
    from runtime.cluster import ClusterConfig
    from runtime.cluster.background import ServedCluster

    config = ClusterConfig(virtual_time=False, metric_resolution=1.0)
    with ServedCluster(config) as served:
        path = served.endpoint.write_kubeconfig(tmp_path / "kubeconfig")
        assert kubectl(path, "run", "web", "--image=nginx").returncode == 0
        deadline = time.monotonic() + 30
        while True:
            code = main(["top", "pods", "--kubeconfig", str(path)])
            out = capsys.readouterr().out
            if code == 0 and "web" in out:
                break
            assert time.monotonic() < deadline, out
            time.sleep(0.5)
        header, row = out.splitlines()[:2]
        assert header.split() == ["NAME", "CPU(cores)", "MEMORY(bytes)"]
        assert row.split()[0] == "web" and row.split()[1].endswith("m")
        assert main(["top", "nodes", "--kubeconfig", str(path)]) == 0
        assert "node-0" in capsys.readouterr().out
    assert main(["top", "pods", "--kubeconfig", str(tmp_path / "missing")]) == 2
    assert "cannot read the kubeconfig" in capsys.readouterr().err
