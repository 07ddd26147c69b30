"""`kubeloop serve` as a user runs it: the kubeconfig appears when the cluster is
ready, unauthenticated requests get 401, a stop signal ends it and removes
the kubeconfig; `kubeloop kubeconfig` prints it."""

from __future__ import annotations

import json
import signal
import ssl
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import yaml

from runtime import cli

EXAMPLES = Path(__file__).parents[3] / "examples"


def _get(url: str, context: ssl.SSLContext | None, token: str | None) -> tuple[int, Any]:
    request = urllib.request.Request(url)
    if token is not None:
        request.add_header("Authorization", f"Bearer {token}")
    try:
        with urllib.request.urlopen(request, context=context, timeout=10) as response:
            return response.status, json.loads(response.read())
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


def _wait_for(path: Path, process: subprocess.Popen[str]) -> None:
    deadline = time.monotonic() + 60
    while not path.exists():
        assert process.poll() is None, process.communicate()
        assert time.monotonic() < deadline, "kubeloop serve did not write its kubeconfig"
        time.sleep(0.05)


def test_serve_writes_the_kubeconfig_refuses_strangers_and_stops(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.cli",
            "serve",
            str(EXAMPLES / "configmap.yaml"),
            "--nodes",
            "1",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(kubeconfig, process)
        config = yaml.safe_load(kubeconfig.read_text())
        server = config["clusters"][0]["cluster"]["server"]
        token = config["users"][0]["user"]["token"]
        import base64

        ca = base64.b64decode(config["clusters"][0]["cluster"]["certificate-authority-data"])
        context = ssl.create_default_context(cadata=ca.decode())
        status, body = _get(f"{server}/api/v1/namespaces", context, None)
        assert status == 401 and body == {
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": "Unauthorized",
            "reason": "Unauthorized",
            "code": 401,
        }
        status, body = _get(f"{server}/api/v1/configmaps", context, token)
        assert status == 200
        assert any(i["metadata"]["name"] == "game-demo" for i in body["items"])
        shown = subprocess.run(
            [sys.executable, "-m", "runtime.cli", "kubeconfig", "--kubeconfig", str(kubeconfig)],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert shown.returncode == 0 and yaml.safe_load(shown.stdout) == config
    finally:
        process.send_signal(signal.SIGTERM)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "stopped by SIGTERM" in stderr
    assert not kubeconfig.exists()


def test_serve_refuses_bad_input_before_starting(tmp_path: Path, capsys: Any) -> None:
    assert cli.main(["serve", str(tmp_path / "missing.yaml")]) == 2
    assert "no such file" in capsys.readouterr().err
    assert cli.main(["kubeconfig", "--kubeconfig", str(tmp_path / "none")]) == 1


def test_serve_over_plain_http_at_a_faster_pace(tmp_path: Path) -> None:
    kubeconfig = tmp_path / "kubeconfig"
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "runtime.cli",
            "serve",
            "--nodes",
            "1",
            "--insecure-http",
            "--speed",
            "10",
            "--kubeconfig",
            str(kubeconfig),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        _wait_for(kubeconfig, process)
        config = yaml.safe_load(kubeconfig.read_text())
        cluster = config["clusters"][0]["cluster"]
        assert cluster["server"].startswith("http://127.0.0.1:")
        assert "certificate-authority-data" not in cluster
        token = config["users"][0]["user"]["token"]
        status, body = _get(f"{cluster['server']}/api/v1/nodes", None, token)
        assert status == 200 and [n["metadata"]["name"] for n in body["items"]] == ["node-0"]
    finally:
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=60)
    assert process.returncode == 0, stderr
    assert "kubectl sends no token over it" in stderr
    assert not kubeconfig.exists()


def test_serve_refuses_a_bad_etcd_endpoint_before_starting(capsys: Any) -> None:
    assert cli.main(["serve", "--etcd-servers", "https://etcd.example:2379"]) == 2
    assert "expected http://HOST:PORT" in capsys.readouterr().err
