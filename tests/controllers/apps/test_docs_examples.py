"""The Kubernetes documentation's StatefulSet (web/nginx) and DaemonSet
(fluentd-elasticsearch) examples converge through `kubeloop run` on
simulated nodes, with the right pod counts in the summary."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from runtime.cli import main

EXAMPLES = Path(__file__).parents[3] / "examples"


def run_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", *args, "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def test_statefulset_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = run_json(capsys, str(EXAMPLES / "statefulset.yaml"), "--nodes", "3")
    assert code == 0 and summary["ok"] is True and summary["converged"] is True
    [row] = [w for w in summary["workloads"] if w["kind"] == "StatefulSet"]
    assert (row["name"], row["desired"], row["ready"]) == ("web", 3, 3)


def test_daemonset_example(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = run_json(capsys, str(EXAMPLES / "daemonset.yaml"), "--nodes", "5")
    assert code == 0 and summary["ok"] is True and summary["converged"] is True
    [row] = [w for w in summary["workloads"] if w["kind"] == "DaemonSet"]
    assert (row["name"], row["desired"], row["scheduled"], row["ready"]) == (
        "fluentd-elasticsearch",
        5,
        5,
        5,
    )
