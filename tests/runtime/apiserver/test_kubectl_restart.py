"""kubectl sees the same objects, uids and resourceVersions after `kubeloop
serve` restarts on its state: a data directory (SQLite), or etcd where an
etcd binary is installed. Skipped where kubectl is not installed."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from runtime.etcdserver import EtcdCluster, etcd_binary
from tests.runtime.apiserver.test_kubectl import kubectl, pytestmark

__all__ = ["pytestmark"]

SERVE = [sys.executable, "-m", "runtime.cli", "serve", "--nodes", "1"]
OBJECTS = """
apiVersion: v1
kind: ConfigMap
metadata: {name: settings}
data: {mode: blue}
---
apiVersion: apps/v1
kind: Deployment
metadata: {name: web}
spec:
  replicas: 2
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: app, image: nginx}]
"""


class Served:
    """One `kubeloop serve` process, stopped with SIGINT."""

    def __init__(self, kubeconfig: Path, *state: str) -> None:
        self.kubeconfig = kubeconfig
        self.process = subprocess.Popen(
            [*SERVE, "--kubeconfig", str(kubeconfig), *state],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        deadline = time.monotonic() + 120
        while not kubeconfig.exists():
            assert self.process.poll() is None, self.process.stderr
            assert time.monotonic() < deadline, "kubeloop serve did not start"
            time.sleep(0.1)

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)
        self.process.communicate(timeout=60)
        assert self.process.returncode == 0


def _identities(kubeconfig: Path) -> dict[str, tuple[str, str]]:
    listed: dict[str, Any] = json.loads(
        kubectl(kubeconfig, "get", "configmap/settings", "deployment/web", "-o", "json")
    )
    return {
        item["kind"]: (item["metadata"]["uid"], item["metadata"]["resourceVersion"])
        for item in listed["items"]
    }


def _restart_keeps_identities(tmp_path: Path, *state: str) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    served = Served(kubeconfig, *state)
    try:
        kubectl(kubeconfig, "apply", "-f", "-", stdin=OBJECTS)
        kubectl(kubeconfig, "rollout", "status", "deploy/web", "--timeout=60s")
        kubectl(kubeconfig, "patch", "configmap", "settings", "-p", '{"data":{"mode":"green"}}')
        before = _identities(kubeconfig)
    finally:
        served.stop()
    again = Served(kubeconfig, *state)
    try:
        after = _identities(kubeconfig)
        assert after["ConfigMap"] == before["ConfigMap"]
        assert after["Deployment"][0] == before["Deployment"][0]  # the same object
        mode = kubectl(kubeconfig, "get", "configmap", "settings", "-o", "jsonpath={.data.mode}")
        assert mode == "green"
    finally:
        again.stop()


def test_a_data_directory_keeps_what_kubectl_sees(tmp_path: Path) -> None:
    _restart_keeps_identities(tmp_path, "--data-dir", str(tmp_path / "state"))


@pytest.fixture
def etcd(tmp_path: Path) -> Iterator[EtcdCluster]:
    if etcd_binary()[0] is None:
        pytest.skip(etcd_binary()[1])
    cluster = EtcdCluster.start(tmp_path / "etcd", members=1)
    try:
        yield cluster
    finally:
        cluster.stop()


def test_etcd_keeps_what_kubectl_sees(tmp_path: Path, etcd: EtcdCluster) -> None:
    _restart_keeps_identities(tmp_path, "--etcd-servers", ",".join(etcd.client_urls))
