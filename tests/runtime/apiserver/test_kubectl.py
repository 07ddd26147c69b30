"""The real kubectl against a served cluster (skipped where kubectl is not
installed), validating with the OpenAPI documents the server serves."""

from __future__ import annotations

import json
import shutil
import subprocess
import time
from pathlib import Path
from typing import Any

import pytest
import yaml

EXAMPLES = Path(__file__).parents[3] / "examples"
KUBECTL = shutil.which("kubectl")
pytestmark = pytest.mark.skipif(KUBECTL is None, reason="kubectl is not installed here")


def kubectl(kubeconfig: Path, *args: str, check: bool = True, stdin: str | None = None) -> str:
    assert KUBECTL is not None
    done = subprocess.run(
        [KUBECTL, "--kubeconfig", str(kubeconfig), *args],
        capture_output=True,
        text=True,
        timeout=60,
        input=stdin,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"kubectl {' '.join(args)} failed: {done.stderr}")
    return done.stdout if done.returncode == 0 else done.stderr


def deployment(kubeconfig: Path, name: str) -> dict[str, Any]:
    found: dict[str, Any] = json.loads(kubectl(kubeconfig, "get", "deploy", name, "-o", "json"))
    return found


def test_apply_get_scale_label_annotate_patch_rollout_delete(kubeconfig: Path) -> None:
    manifest = str(EXAMPLES / "nginx-deployment.yaml")
    out = kubectl(kubeconfig, "apply", "-f", manifest)
    assert "deployment.apps/nginx-deployment created" in out
    assert "unchanged" in kubectl(kubeconfig, "apply", "-f", manifest)
    kubectl(kubeconfig, "rollout", "status", "deploy/nginx-deployment", "--timeout=60s")
    got = deployment(kubeconfig, "nginx-deployment")
    assert got["status"]["readyReplicas"] == 3
    annotations = got["metadata"]["annotations"]
    assert "kubectl.kubernetes.io/last-applied-configuration" in annotations
    as_yaml = yaml.safe_load(kubectl(kubeconfig, "get", "deploy", "nginx-deployment", "-o", "yaml"))
    assert as_yaml["metadata"]["uid"] == got["metadata"]["uid"]
    kubectl(kubeconfig, "scale", "deploy/nginx-deployment", "--replicas=1")
    kubectl(kubeconfig, "label", "deploy", "nginx-deployment", "team=web")
    kubectl(kubeconfig, "annotate", "deploy", "nginx-deployment", "note=hello")
    got = deployment(kubeconfig, "nginx-deployment")
    assert got["spec"]["replicas"] == 1
    assert got["metadata"]["labels"]["team"] == "web"
    assert got["metadata"]["annotations"]["note"] == "hello"
    name = "nginx-deployment"
    kubectl(kubeconfig, "patch", "deploy", name, "-p", '{"spec":{"replicas":2}}')
    assert deployment(kubeconfig, name)["spec"]["replicas"] == 2
    kubectl(kubeconfig, "patch", "deploy", name, "--type=merge", "-p", '{"spec":{"replicas":3}}')
    assert deployment(kubeconfig, name)["spec"]["replicas"] == 3
    ops = '[{"op":"replace","path":"/spec/replicas","value":1}]'
    kubectl(kubeconfig, "patch", "deploy", name, "--type=json", "-p", ops)
    assert deployment(kubeconfig, name)["spec"]["replicas"] == 1
    failing = '[{"op":"test","path":"/spec/replicas","value":7}]'
    refused = kubectl(
        kubeconfig, "patch", "deploy", name, "--type=json", "-p", failing, check=False
    )
    assert "test failed" in refused
    kubectl(kubeconfig, "set", "image", f"deploy/{name}", "nginx=nginx:1.27")
    kubectl(kubeconfig, "rollout", "status", f"deploy/{name}", "--timeout=60s")
    history = kubectl(kubeconfig, "rollout", "history", f"deploy/{name}")
    assert "2 " in history
    kubectl(kubeconfig, "wait", "--for=condition=Available", f"deploy/{name}", "--timeout=60s")
    assert "deleted" in kubectl(kubeconfig, "delete", "deploy", name)
    listed = json.loads(kubectl(kubeconfig, "get", "deploy", "-o", "json"))
    assert listed["items"] == []


def test_server_side_apply_and_jsonpath(kubeconfig: Path) -> None:
    manifest = str(EXAMPLES / "service.yaml")
    out = kubectl(kubeconfig, "apply", "--server-side", "-f", manifest)
    assert "serverside-applied" in out
    names = kubectl(kubeconfig, "get", "svc", "-o", "jsonpath={.items[*].metadata.name}")
    assert "my-service" in names.split()
    shown = ("get", "svc", "my-service", "-o", "json", "--show-managed-fields")
    managed = json.loads(kubectl(kubeconfig, *shown))
    managers = {e["manager"] for e in managed["metadata"]["managedFields"]}
    assert "kubectl" in managers


def test_get_watch_streams_changes(kubeconfig: Path) -> None:
    assert KUBECTL is not None
    configmap = "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: watched}\ndata: {a: '1'}\n"
    kubectl(kubeconfig, "apply", "-f", "-", stdin=configmap)
    watcher = subprocess.Popen(
        # Named: the namespace also holds the root CA publisher's kube-root-ca.crt.
        [
            KUBECTL,
            "--kubeconfig",
            str(kubeconfig),
            "get",
            "configmap",
            "watched",
            "-w",
            "-o",
            "name",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert watcher.stdout is not None
        first = watcher.stdout.readline().strip()
        kubectl(kubeconfig, "label", "configmap", "watched", "changed=yes")
        second = watcher.stdout.readline().strip()
    finally:
        watcher.kill()
        watcher.communicate(timeout=10)
    assert first == second == "configmap/watched"


def test_a_wrong_token_is_refused(kubeconfig: Path, tmp_path: Path) -> None:
    config = yaml.safe_load(kubeconfig.read_text())
    config["users"][0]["user"]["token"] = "not-the-token"
    wrong = tmp_path / "wrong"
    wrong.write_text(yaml.safe_dump(config))
    out = kubectl(wrong, "get", "pods", check=False)
    assert "Unauthorized" in out or "provide credentials" in out


def test_custom_resources_through_kubectl(kubeconfig: Path, tmp_path: Path) -> None:
    from tests.runtime.apiserver.test_http_patch import CRD

    crd_file = tmp_path / "crd.yaml"
    crd_file.write_text(yaml.safe_dump(CRD))
    kubectl(kubeconfig, "apply", "-f", str(crd_file))
    widget = {
        "apiVersion": "example.com/v1",
        "kind": "Widget",
        "metadata": {"name": "w1"},
        "spec": {"size": 2, "replicas": 1},
    }
    widget_file = tmp_path / "widget.yaml"
    widget_file.write_text(yaml.safe_dump(widget))
    deadline = time.monotonic() + 30
    while True:  # kubectl's discovery cache may not know the kind for a moment
        done = subprocess.run(
            [
                str(KUBECTL),
                "--kubeconfig",
                str(kubeconfig),
                "apply",
                "-f",
                str(widget_file),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        if done.returncode == 0 or time.monotonic() > deadline:
            break
    assert done.returncode == 0, done.stderr
    got = json.loads(kubectl(kubeconfig, "get", "wd", "w1", "-o", "json"))
    assert got["spec"]["size"] == 2
    kubectl(kubeconfig, "patch", "widget", "w1", "--type=merge", "-p", '{"spec":{"size":5}}')
    refused = kubectl(kubeconfig, "patch", "widget", "w1", "-p", '{"spec":{"size":6}}', check=False)
    assert "Error from server" in refused or "strategic" in refused
    kubectl(kubeconfig, "scale", "widget/w1", "--replicas=4")
    got = json.loads(kubectl(kubeconfig, "get", "widget", "w1", "-o", "json"))
    assert (got["spec"]["size"], got["spec"]["replicas"]) == (5, 4)
    kubectl(kubeconfig, "delete", "widget", "w1")


TALKER = """\
apiVersion: v1
kind: Pod
metadata: {name: talker}
spec:
  containers:
  - name: main
    image: busybox
    command: ["sh", "-c", "for i in 1 2 3; do echo line $i; done; sleep 30"]
"""


@pytest.mark.kubeloop(nodes=1, runtime="process")
def test_logs_describe_and_delete_of_a_process_pod(kubeconfig: Path) -> None:
    assert KUBECTL is not None
    kubectl(kubeconfig, "apply", "-f", "-", stdin=TALKER)
    kubectl(kubeconfig, "wait", "--for=condition=Ready", "pod/talker", "--timeout=60s")
    deadline = time.monotonic() + 30
    while kubectl(kubeconfig, "logs", "talker").count("line") < 3:
        assert time.monotonic() < deadline, "the container's output never showed"
        time.sleep(0.1)
    assert kubectl(kubeconfig, "logs", "talker", "--tail=1") == "line 3\n"
    follow = subprocess.Popen(
        [KUBECTL, "--kubeconfig", str(kubeconfig), "logs", "-f", "talker"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert follow.stdout is not None
        followed = [follow.stdout.readline() for _ in range(3)]
    finally:
        follow.kill()
        follow.communicate(timeout=10)
    assert followed == ["line 1\n", "line 2\n", "line 3\n"]
    described = kubectl(kubeconfig, "describe", "pod", "talker")
    assert "Successfully assigned default/talker to node-0" in described
    assert "deleted" in kubectl(kubeconfig, "delete", "pod", "talker", "--timeout=60s")
