"""The Kubernetes documentation's Job and CronJob examples through `kubeloop
run`: each converges with the right pods on simulated nodes; `pi` also on
process nodes with its container replaced by a Python one-liner."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from runtime.cli import main

ROOT = Path(__file__).resolve().parents[3]
MANIFESTS = Path(__file__).resolve().parent / "manifests"


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict[str, Any]]:
    code = main(["run", *args, "--json"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)


def final_objects(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, list[Any]]:
    code = main(["run", *args, "-o", "json", "-"])
    out, _ = capsys.readouterr()
    return code, json.loads(out)["items"]


def test_pi_job_converges_complete_with_one_pod(capsys: pytest.CaptureFixture[str]) -> None:
    code, items = final_objects(capsys, str(ROOT / "examples" / "job.yaml"))
    assert code == 0
    pods = [o for o in items if o["kind"] == "Pod"]
    job = next(o for o in items if o["kind"] == "Job")
    assert [p["status"]["phase"] for p in pods] == ["Succeeded"]
    assert {c["type"] for c in job["status"]["conditions"]} >= {"Complete"}
    assert job["status"]["succeeded"] == 1


def test_indexed_job_converges_with_five_pods(capsys: pytest.CaptureFixture[str]) -> None:
    code, items = final_objects(capsys, str(MANIFESTS / "indexed-job.yaml"))
    assert code == 0
    pods = [o for o in items if o["kind"] == "Pod"]
    job = next(o for o in items if o["kind"] == "Job")
    assert len(pods) == 5 and all(p["status"]["phase"] == "Succeeded" for p in pods)
    assert job["status"]["completedIndexes"] == "0-4"


def test_pod_failure_policy_example_fails_at_the_first_exit_42(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, items = final_objects(capsys, str(MANIFESTS / "job-pod-failure-policy-example.yaml"))
    # A Failed Job has converged: it will not change any more.
    assert code == 0
    pods = [o for o in items if o["kind"] == "Pod"]
    job = next(o for o in items if o["kind"] == "Job")
    failed = next(c for c in job["status"]["conditions"] if c["type"] == "Failed")
    assert failed["reason"] == "PodFailurePolicy"
    assert len(pods) == 3  # the first parallel wave; no retries


def test_pi_job_summary_row(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = run(capsys, str(ROOT / "examples" / "job.yaml"))
    assert code == 0 and summary["ok"] is True and summary["problems"] == []
    [row] = [w for w in summary["workloads"] if w["kind"] == "Job"]
    assert row["name"] == "pi" and row["problems"] == []


def test_hello_cronjob_scenario_makes_three_jobs(capsys: pytest.CaptureFixture[str]) -> None:
    code, summary = run(capsys, str(MANIFESTS / "hello-cronjob-scenario.yaml"))
    assert code == 0, summary
    assert summary["converged"] is True
    assert summary["pods"]["total"] == 3
    assert [s["result"] for s in summary["steps"]] == ["ok"] * 4


def test_pi_job_on_process_nodes(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    manifest = yaml.safe_load((ROOT / "examples" / "job.yaml").read_text())
    container = manifest["spec"]["template"]["spec"]["containers"][0]
    container["command"] = [
        sys.executable,
        "-c",
        "import decimal; decimal.getcontext().prec = 50; "
        "print(sum(decimal.Decimal(1) / 16**k * (decimal.Decimal(4) / (8*k+1) "
        "- decimal.Decimal(2) / (8*k+4) - decimal.Decimal(1) / (8*k+5) "
        "- decimal.Decimal(1) / (8*k+6)) for k in range(50)))",
    ]
    path = tmp_path / "pi.yaml"
    path.write_text(yaml.safe_dump(manifest))
    code, summary = run(
        capsys, str(path), "--runtime", "process", "--nodes", "1", "--timeout", "60"
    )
    assert code == 0, summary
    assert summary["converged"] is True
    assert summary["pods"]["total"] == 1
