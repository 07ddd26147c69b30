"""The kubeloop command line: one clear line and exit status 2 for bad input,
the documented JSON summary, and scenario files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from runtime.cli import main

REPLICASET = """\
apiVersion: apps/v1
kind: ReplicaSet
metadata: {name: web}
spec:
  replicas: 4
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec:
      containers: [{name: nginx, image: nginx, resources: {requests: {cpu: 100m}}}]
"""


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["run", *args])
    out, err = capsys.readouterr()
    return code, out, err


def test_json_summary_of_a_converged_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(REPLICASET)
    code, out, _ = run(capsys, str(manifest), "--nodes", "2", "--json")
    assert code == 0
    summary = json.loads(out)
    assert summary["converged"] is True
    assert summary["nodes"] == 2
    assert summary["ok"] is True and summary["problems"] == []
    assert summary["pods"] == {
        "total": 4,
        "running": 4,
        "ready": 4,
        "pending": 0,
        "unschedulable": 0,
    }
    assert isinstance(summary["seconds"], float)
    assert summary["virtual_seconds"] > 0
    assert 0 < summary["pod_startup_p99_s"] <= 5


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (None, "no such file or directory"),
        ("kind: [unclosed", "YAML"),
        (
            "apiVersion: v1\nkind: Pod\nmetadata: {name: p}\nspec: {containers: [{name: c}]}\n",
            "spec.containers[0].image",
        ),
        ("apiVersion: example.com/v1\nkind: Gadget\nmetadata: {name: g}\n", 'no kind "Gadget"'),
        (REPLICASET.replace("cpu: 100m", "cpu: lots"), "lots"),
    ],
    ids=["missing file", "invalid yaml", "invalid manifest", "unknown kind", "bad quantity"],
)
def test_bad_input_is_one_line_and_exit_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], content: str | None, message: str
) -> None:
    path = tmp_path / "bad.yaml"
    if content is not None:
        path.write_text(content)
    good = tmp_path / "good.yaml"
    good.write_text(REPLICASET)
    code, out, err = run(capsys, str(good), str(path), "--json")
    assert code == 2
    assert out == ""  # nothing ran: no summary
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("kubeloop: error: ")
    assert message in lines[0]


def test_not_converged_by_the_timeout_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    manifest = tmp_path / "rs.yaml"
    manifest.write_text(REPLICASET.replace("cpu: 100m", "cpu: '100'"))
    code, out, _ = run(capsys, str(manifest), "--timeout", "30", "--json")
    assert code == 1
    summary = json.loads(out)
    assert summary["converged"] is False
    assert summary["not_converged"]


def test_scenario_file_reports_each_step(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "rs.yaml").write_text(REPLICASET)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        """\
cluster: {nodes: 3, seed: 4}
steps:
  - apply: rs.yaml
  - wait: converged
    timeout: 120
  - scale: {kind: ReplicaSet, name: web, replicas: 6}
  - wait: converged
  - fail_node: node-1
  - after: 30
    restore_node: node-1
  - wait: converged
  - assert: {kind: ReplicaSet, name: web, path: status.readyReplicas, equals: 6}
"""
    )
    code, out, _ = run(capsys, str(scenario), "--json")
    assert code == 0, out
    summary = json.loads(out)
    assert [s["step"].split()[0] for s in summary["steps"]] == [
        "apply",
        "wait",
        "scale",
        "wait",
        "fail_node",
        "restore_node",
        "wait",
        "assert",
    ]
    restore = summary["steps"][5]
    assert restore["started_at"] == pytest.approx(summary["steps"][4]["started_at"] + 30)


def test_a_failed_assert_step_fails_the_run_with_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """A scenario whose assertion does not hold failed (exit 1, the step table
    says which step); only a scenario that is not valid is bad input (2)."""
    (tmp_path / "rs.yaml").write_text(REPLICASET)
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text(
        """\
steps:
  - apply: rs.yaml
  - wait: converged
  - assert: {kind: ReplicaSet, name: web, path: status.readyReplicas, equals: 7}
  - scale: {kind: ReplicaSet, name: web, replicas: 1}
"""
    )
    code, out, _ = run(capsys, str(scenario), "--json")
    assert code == 1, out
    summary = json.loads(out)
    assert summary["ended"] == "assertion_failed" and summary["ok"] is False
    results = [s["result"] for s in summary["steps"]]
    assert results[:2] == ["ok", "ok"] and results[3] == "not run"
    assert results[2].startswith("failed: step 2: ReplicaSet web status.readyReplicas is")


def test_bad_scenario_names_the_step(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    scenario = tmp_path / "scenario.yaml"
    scenario.write_text("steps:\n  - scale: {kind: ReplicaSet, name: web}\n")
    code, _, err = run(capsys, str(scenario))
    assert code == 2
    assert "steps[0].scale.replicas" in err
